//! ModelMesh's connector ids (`modelmesh.env.v1`, `modelmesh.keyring.v1`, ...): a layer of one of
//! our kinds, read with ModelMesh's option names, wrapped with what every ModelMesh store has.
//!
//! ModelMesh's common options (`../shared/MODELMESH_REFERENCE.md` §1), as ModelMesh defaults them:
//!
//! - `cache_enabled` (default `true`) and `cache_ttl_ms` (default 300000): found values are kept
//!   for the time to live ([`ValueCache`]); misses never are. A value changed at its source is
//!   seen after the time to live, as in ModelMesh. Our own kinds keep caching off unless asked.
//! - `fail_on_missing` (default `true`): a miss is a miss, and the chain goes on to the next layer
//!   (ModelMesh raises). `false` answers `""` for every name the layer does not have, as ModelMesh
//!   returns `""`: in a chain, that layer then answers every name, so put it last.
//! - `secrets`: accepted and ignored, as ModelMesh's stores other than the memory store ignore it.
//!
//! `set` and `delete` of a layer that can be written evict the name from the cache.
//!
//! Env and keyring layers get all of this from [`ModelMeshLayer::read`]; the file kinds keep their
//! own value cache ([`common_options`]) and get `fail_on_missing` from [`ModelMeshLayer::around`];
//! the encrypted-file kind reads all three itself.

use secrecy::{ExposeSecret, SecretString};

use crate::check::Check;
use crate::error::{ConfigError, Error};
use crate::options::Options;
use crate::provider::{Answer, Management, Provider};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::SecretRequest;
use crate::value_cache::ValueCache;

/// A layer under a ModelMesh connector id: the inner layer, a value cache, `fail_on_missing`.
pub(crate) struct ModelMeshLayer {
    inner: Box<dyn Provider>,
    /// The source of the inner kind's records, for the answers made here (cached, `""`).
    source: SecretSource,
    cache: Option<ValueCache>,
    fail_on_missing: bool,
}

impl ModelMeshLayer {
    /// Builds the inner layer with `build` (which reads the kind's own ModelMesh options), then
    /// reads the common ones: the value cache and `fail_on_missing`; `secrets` is ignored.
    pub(crate) fn read<P: Provider + 'static>(
        options: &mut Options<'_>,
        source: SecretSource,
        build: impl FnOnce(&mut Options<'_>) -> Result<P, ConfigError>,
    ) -> Result<Self, ConfigError> {
        let inner = build(options)?;
        options.ignore("secrets");
        let cache = common_options(options)?;
        Self::new(Box::new(inner), source, cache, options)
    }

    /// Like [`ModelMeshLayer::read`] for a kind that reads the cache options itself (with
    /// [`common_options`]) and `secrets` as it needs: only `fail_on_missing` is added.
    pub(crate) fn around<P: Provider + 'static>(
        options: &mut Options<'_>,
        source: SecretSource,
        build: impl FnOnce(&mut Options<'_>) -> Result<P, ConfigError>,
    ) -> Result<Self, ConfigError> {
        let inner = build(options)?;
        Self::new(Box::new(inner), source, None, options)
    }

    fn new(
        inner: Box<dyn Provider>,
        source: SecretSource,
        cache: Option<ValueCache>,
        options: &mut Options<'_>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            inner,
            source,
            cache,
            fail_on_missing: options.boolean("fail_on_missing")?.unwrap_or(true),
        })
    }
}

/// Reads `cache_enabled` (default `true`) and `cache_ttl_ms` (default 300000; `0` keeps nothing):
/// the layer's value cache, or `None` when caching is off.
pub(crate) fn common_options(options: &mut Options<'_>) -> Result<Option<ValueCache>, ConfigError> {
    let enabled = options.boolean("cache_enabled")?.unwrap_or(true);
    let ttl_ms = options
        .whole_number("cache_ttl_ms")?
        .unwrap_or(DEFAULT_TTL_MS);
    Ok(ValueCache::for_ttl(std::time::Duration::from_millis(ttl_ms)).filter(|_| enabled))
}

impl Provider for ModelMeshLayer {
    fn label(&self) -> &str {
        self.inner.label()
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        let name = request.qualified_name();
        if let Some(value) = self.cache.as_ref().and_then(|cache| cache.get(&name)) {
            return Ok(Answer::Hit(SecretRecord::new(
                value,
                self.source,
                Metadata::new().with("cached", "true"),
            )));
        }
        match self.inner.fetch(request)? {
            Answer::Hit(record) => {
                if let Some(cache) = &self.cache {
                    cache.put(&name, &SecretString::from(record.expose_secret()), None);
                }
                Ok(Answer::Hit(record))
            }
            Answer::Miss(_) if !self.fail_on_missing => Ok(Answer::Hit(SecretRecord::new(
                SecretString::from(""),
                self.source,
                Metadata::new().with("fail_on_missing", "false"),
            ))),
            other => Ok(other),
        }
    }

    fn explain(&self, request: &SecretRequest) -> String {
        self.inner.explain(request)
    }

    fn diagnose(&self) -> Vec<Check> {
        self.inner.diagnose()
    }

    fn management(&self) -> Option<&dyn Management> {
        self.inner.management().map(|_| self as &dyn Management)
    }
}

impl ModelMeshLayer {
    fn inner_management(&self) -> Result<&dyn Management, Error> {
        self.inner.management().ok_or_else(|| Error::Provider {
            layer: self.label().to_owned(),
            reason: "this layer cannot be written".into(),
            source: None,
        })
    }
}

impl Management for ModelMeshLayer {
    fn set(&self, name: &str, value: SecretString) -> Result<(), Error> {
        self.inner_management()?.set(name, value)?;
        if let Some(cache) = &self.cache {
            cache.evict(name);
        }
        Ok(())
    }

    fn list(&self) -> Result<Vec<String>, Error> {
        self.inner_management()?.list()
    }

    fn delete(&self, name: &str) -> Result<(), Error> {
        if let Some(cache) = &self.cache {
            cache.evict(name);
        }
        self.inner_management()?.delete(name)
    }
}

/// ModelMesh's `cache_ttl_ms` default: five minutes.
const DEFAULT_TTL_MS: u64 = 300_000;
