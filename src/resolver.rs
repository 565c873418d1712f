//! The chain: layers asked in order, the first hit wins, the request's default last.

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use smallvec::SmallVec;
use tracing::{debug, trace};

use crate::cache::{DocumentCache, Freshness};
use crate::check::LayerDiagnosis;
use crate::error::{Attempt, Error, Outcome};
use crate::provider::{Answer, Management, Provider, Reason};
use crate::providers::overrides::Overrides;
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::SecretRequest;

/// Resolves secrets through an ordered chain of layers.
///
/// `Send + Sync`: build one and share it (`Arc<Resolver>`) between threads.
pub struct Resolver {
    name: String,
    layers: Vec<Box<dyn Provider>>,
    cache: Arc<DocumentCache>,
}

impl Resolver {
    /// The name used when neither the builder nor the config file gives one.
    pub const DEFAULT_NAME: &'static str = "default";

    /// How many decrypted documents the cache keeps when the config does not say.
    pub const DEFAULT_MAX_DOCUMENTS: usize = DocumentCache::DEFAULT_MAX_DOCUMENTS;

    /// Starts a resolver built in code.
    pub fn builder() -> ResolverBuilder {
        ResolverBuilder::default()
    }

    /// The first answer in the chain, else the request's default, else [`Error::NotFound`]
    /// naming every layer tried and why it missed.
    pub fn resolve(&self, request: &SecretRequest) -> Result<SecretRecord, Error> {
        let mut tried = Vec::new();
        match self.walk(request, Some(&mut tried))? {
            Some(record) => Ok(record),
            None => Err(Error::NotFound {
                name: request.qualified_name(),
                resolver: self.name.clone(),
                tried,
            }),
        }
    }

    /// Like [`Resolver::resolve`], but a secret that no layer has and that has no default is
    /// `Ok(None)`. Broken layers are still errors.
    pub fn lookup(&self, request: &SecretRequest) -> Result<Option<SecretRecord>, Error> {
        self.walk(request, None)
    }

    /// The resolver's name, shown in errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The labels of the layers, in the order they are asked.
    pub fn layers(&self) -> impl Iterator<Item = &str> {
        self.layers.iter().map(|layer| layer.label())
    }

    /// Asks every layer, in chain order, whether it can serve ([`Provider::diagnose`]). Nothing
    /// is resolved and the document cache is neither read nor filled.
    pub fn diagnose(&self) -> Vec<LayerDiagnosis> {
        self.layers
            .iter()
            .map(|layer| LayerDiagnosis::new(layer.label(), layer.diagnose()))
            .collect()
    }

    /// The layer with this label ([`Resolver::layers`]), to ask it alone.
    pub fn layer(&self, label: &str) -> Option<&dyn Provider> {
        self.layers
            .iter()
            .find(|layer| layer.label() == label)
            .map(|layer| &**layer)
    }

    /// The layers whose secrets can be written, as (label, [`Management`]), in chain order.
    pub fn managed_layers(&self) -> impl Iterator<Item = (&str, &dyn Management)> {
        self.layers
            .iter()
            .filter_map(|layer| Some((layer.label(), layer.management()?)))
    }

    /// The decrypted documents this resolver's SOPS layers keep, for purging.
    pub fn document_cache(&self) -> &Arc<DocumentCache> {
        &self.cache
    }

    /// Asks the layers in order. Misses are noted on the stack as (layer index, outcome, reason)
    /// and turned into [`Attempt`]s in `tried` only if the whole chain misses (deferred reasons
    /// explained then), so a hit after misses allocates nothing for them, and `lookup`, which
    /// gives no reasons, never explains any.
    fn walk(
        &self,
        request: &SecretRequest,
        tried: Option<&mut Vec<Attempt>>,
    ) -> Result<Option<SecretRecord>, Error> {
        request.check()?;
        let name = request.name();
        let mut misses: SmallVec<[(usize, Outcome, Reason); 8]> = SmallVec::new();
        for (index, layer) in self.layers.iter().enumerate() {
            let label = layer.label();
            match layer.fetch(request) {
                Ok(Answer::Hit(record)) => {
                    debug!(secret = name, layer = label, source = %record.source(), "secret found");
                    return Ok(Some(record));
                }
                Ok(Answer::Miss(reason)) => {
                    // Fields are evaluated only when the event is enabled.
                    trace!(secret = name, layer = label, reason = %reason.describe(&**layer, request), "layer missed");
                    misses.push((index, Outcome::Missed, reason));
                }
                Ok(Answer::Unavailable(reason)) => {
                    debug!(secret = name, layer = label, reason = %reason.describe(&**layer, request), "layer unavailable; skipped");
                    misses.push((index, Outcome::Unavailable, reason));
                }
                Err(error) => {
                    debug!(secret = name, layer = label, %error, "layer failed; stopping");
                    return Err(error);
                }
            }
        }
        let Some(default) = request.default_value() else {
            debug!(secret = name, "secret not found and no default");
            let Some(tried) = tried else {
                return Ok(None);
            };
            tried.extend(misses.into_iter().map(|(index, outcome, reason)| {
                let layer = &*self.layers[index];
                Attempt {
                    layer: layer.label().to_owned(),
                    outcome,
                    reason: reason.explain(layer, request),
                }
            }));
            return Ok(None);
        };
        debug!(secret = name, "using the request's default");
        let value = SecretString::from(default.expose_secret());
        Ok(Some(SecretRecord::new(
            value,
            SecretSource::Default,
            Metadata::new(),
        )))
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("name", &self.name)
            .field("layers", &self.layers().collect::<Vec<_>>())
            .field("cache", &self.cache)
            .finish()
    }
}

/// Builds a [`Resolver`] in code.
///
/// ```
/// use secret_cascade::providers::EnvProvider;
/// use secret_cascade::{ExposeSecret, Resolver, SecretRequest, SecretSource};
///
/// let resolver = Resolver::builder()
///     .name("myapp")
///     .override_secret("mail.smtp.password", "from-code")
///     .provider(EnvProvider::new().with_prefix("MYAPP"))
///     .build();
/// let record = resolver.resolve(&SecretRequest::new("mail.smtp.password"))?;
/// assert_eq!(record.source(), SecretSource::Override);
/// assert_eq!(record.expose_secret(), "from-code");
/// # Ok::<(), secret_cascade::Error>(())
/// ```
pub struct ResolverBuilder {
    name: String,
    overrides: Overrides,
    providers: Vec<Box<dyn Provider>>,
    cache: Arc<DocumentCache>,
}

impl Default for ResolverBuilder {
    fn default() -> Self {
        Self {
            name: Resolver::DEFAULT_NAME.to_owned(),
            overrides: Overrides::default(),
            providers: Vec::new(),
            cache: Arc::new(DocumentCache::new(Resolver::DEFAULT_MAX_DOCUMENTS)),
        }
    }
}

impl ResolverBuilder {
    /// Names the resolver (shown in errors).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets a value for `name` (`scope.name` for scoped requests) that wins over every layer.
    pub fn override_secret(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.overrides.insert(name.into(), value.into());
        self
    }

    /// Appends a layer; layers are asked in the order they are added, after the overrides.
    pub fn provider(self, provider: impl Provider + 'static) -> Self {
        self.boxed_provider(Box::new(provider))
    }

    /// Appends an already boxed layer.
    pub fn boxed_provider(mut self, provider: Box<dyn Provider>) -> Self {
        self.providers.push(provider);
        self
    }

    /// Bounds the number of decrypted documents kept in memory (at least 1).
    pub fn max_documents(self, max_documents: usize) -> Self {
        self.cache.set_max_documents(max_documents);
        self
    }

    /// How SOPS layers check that a cached document is still their file's content
    /// ([`Freshness::Watch`] unless set).
    pub fn freshness(self, freshness: Freshness) -> Self {
        self.cache.set_freshness(freshness);
        self
    }

    /// The document cache the resolver will have; give it to SOPS layers built in code.
    pub fn document_cache(&self) -> Arc<DocumentCache> {
        Arc::clone(&self.cache)
    }

    /// Finishes the resolver. Overrides, when there are any, form the first layer.
    pub fn build(self) -> Resolver {
        let overrides =
            (!self.overrides.is_empty()).then(|| Box::new(self.overrides) as Box<dyn Provider>);
        Resolver {
            name: self.name,
            layers: overrides.into_iter().chain(self.providers).collect(),
            cache: self.cache,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Check;
    use crate::providers::EnvProvider;

    #[test]
    fn a_resolver_reports_its_layers_in_chain_order_overrides_first() {
        let resolver = Resolver::builder()
            .provider(EnvProvider::new())
            .override_secret("a", "value-never-shown")
            .override_secret("b", "value-never-shown")
            .build();
        let layers = resolver.diagnose();
        let labels: Vec<&str> = layers.iter().map(LayerDiagnosis::label).collect();
        assert_eq!(labels, ["override", "env"]);
        assert_eq!(
            layers[0].checks(),
            [Check::ok("values", "2 overrides set in code")]
        );
    }
}
