//! Secure deletion of a file: overwrite it in place, then unlink it. (Placeholder until the
//! `shred` branch lands.)

use std::path::Path;

/// How to shred.
#[derive(Debug, Default)]
pub struct ShredOptions {}

/// What happened.
#[derive(Debug)]
pub struct ShredOutcome {}

/// Why shredding failed.
#[derive(Debug, thiserror::Error)]
#[error("not built yet")]
pub struct ShredError {}

/// Shreds `path`.
pub fn shred(_path: &Path, _options: &ShredOptions) -> Result<ShredOutcome, ShredError> {
    Err(ShredError {})
}
