//! The options every ModelMesh secret store takes (MODELMESH_REFERENCE.md §1), read by the
//! factories registered under ModelMesh's connector ids (`modelmesh.dotenv.v1`, ...).
//!
//! - `cache_enabled` (default `true`) and `cache_ttl_ms` (default 300000; `0` keeps nothing):
//!   ModelMesh's per-store cache, here the layer's [`ValueCache`]. As in ModelMesh it never keeps
//!   a miss, and a kept value outlives a change of its source until it expires.
//! - `fail_on_missing` (default `true`): in ModelMesh a miss raises `KeyError` or, with `false`,
//!   returns `""`. In a chain a miss always goes on to the next layer, and a name no layer has is
//!   [`crate::Error::NotFound`] (ModelMesh's `KeyError`). `false` is accepted, but a miss does not
//!   become an empty value: give the request a default (`with_default("")`) for that. A warning
//!   says so when the layer is built.

use std::time::Duration;

use tracing::warn;

use crate::error::ConfigError;
use crate::options::Options;
use crate::value_cache::ValueCache;

/// Reads `cache_enabled`, `cache_ttl_ms` and `fail_on_missing`: the layer's value cache, or
/// `None` when caching is off.
pub(crate) fn common_options(options: &mut Options<'_>) -> Result<Option<ValueCache>, ConfigError> {
    let enabled = options.boolean("cache_enabled")?.unwrap_or(true);
    let ttl_ms = options
        .whole_number("cache_ttl_ms")?
        .unwrap_or(DEFAULT_TTL_MS);
    if options.boolean("fail_on_missing")? == Some(false) {
        warn!(
            file = %options.file().display(),
            "`fail_on_missing: false` does not turn a miss into an empty value here: the chain \
             goes on to the next layer; give the request a default instead"
        );
    }
    Ok((enabled && ttl_ms > 0).then(|| ValueCache::new(Duration::from_millis(ttl_ms))))
}

/// ModelMesh's default `cache_ttl_ms`: five minutes.
const DEFAULT_TTL_MS: u64 = 300_000;
