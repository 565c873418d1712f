//! `init`: not built yet.

use clap::Args;

use crate::Failure;

#[derive(Args)]
pub(crate) struct InitArgs {}

pub(crate) fn run(_args: InitArgs) -> Result<(), Failure> {
    Err(Failure::usage("`init` is not built yet"))
}
