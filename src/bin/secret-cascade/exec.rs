//! `exec`: not built yet.

use clap::Args;

use crate::Failure;

#[derive(Args)]
pub(crate) struct ExecArgs {}

pub(crate) fn run(_args: ExecArgs) -> Result<(), Failure> {
    Err(Failure::usage("`exec` is not built yet"))
}
