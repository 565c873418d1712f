//! `encrypt`, `set`, `unset` and `rotate`: writing SOPS files.

use clap::Args;

use crate::Failure;

#[derive(Args)]
pub(crate) struct EncryptArgs {}
#[derive(Args)]
pub(crate) struct SetArgs {}
#[derive(Args)]
pub(crate) struct UnsetArgs {}
#[derive(Args)]
pub(crate) struct RotateArgs {}

pub(crate) fn encrypt(_args: EncryptArgs) -> Result<(), Failure> {
    Err(Failure::usage("not built yet"))
}
pub(crate) fn set(_args: SetArgs) -> Result<(), Failure> {
    Err(Failure::usage("not built yet"))
}
pub(crate) fn unset(_args: UnsetArgs) -> Result<(), Failure> {
    Err(Failure::usage("not built yet"))
}
pub(crate) fn rotate(_args: RotateArgs) -> Result<(), Failure> {
    Err(Failure::usage("not built yet"))
}
