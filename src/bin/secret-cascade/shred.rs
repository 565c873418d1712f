//! `shred`: not built yet.

use clap::Args;

use crate::Failure;

#[derive(Args)]
pub(crate) struct ShredArgs {}

pub(crate) fn run(_args: ShredArgs) -> Result<(), Failure> {
    Err(Failure::usage("`shred` is not built yet"))
}
