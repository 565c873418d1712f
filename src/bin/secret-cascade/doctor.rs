//! `doctor`: not built yet.

use clap::Args;

use crate::Failure;

#[derive(Args)]
pub(crate) struct DoctorArgs {}

pub(crate) fn run(_args: DoctorArgs) -> Result<(), Failure> {
    Err(Failure::usage("`doctor` is not built yet"))
}
