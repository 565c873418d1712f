//! The one place that wires things together: where the config file is found, the registry of
//! kinds, how a config file becomes a [`Resolver`], the chain used when there is no config file,
//! and the process-wide resolver behind [`crate::resolve_secret`].
//!
//! ```yaml
//! name: myapp                   # shown in errors; default `default`
//! providers:                    # asked in this order; default: one `env` layer without prefix
//!   - kind: env                 # a registered kind's name or connector id
//!     prefix: MYAPP
//!     delimiter: "__"
//! cache:
//!   max_documents: 64
//!   freshness: watch            # or strict: `stat` the file on every lookup
//! ```
//!
//! Validation is strict: an unknown key or `kind`, a value of the wrong type, a duplicated key or
//! an empty file is a [`ConfigError`] naming the file, the key and what was expected. Messages
//! never quote a value from the file, except an unknown `kind`. Relative paths resolve against
//! the file's own folder; string options may hold references (`${env:NAME}`, `${file:PATH}`,
//! `${secrets:NAME}`, see [`Options`]). `docs/config.md` is the full reference.
//!
//! A kind of your own (a company's secret API) is a [`Provider`] and a factory that reads its
//! options; register it and load a config that names it:
//!
//! ```
//! use secret_cascade::config::{Options, Registry};
//! use secret_cascade::providers::EnvProvider;
//! use secret_cascade::{ConfigError, Resolver};
//!
//! let mut registry = Registry::builtin();
//! registry.register("vendor-env", "example.vendor-env.v1", |options: &mut Options<'_>| {
//!     let prefix = options.non_empty_string("prefix")?.unwrap_or_else(|| "VENDOR".into());
//!     Ok::<_, ConfigError>(EnvProvider::new().with_prefix(prefix))
//! })?;
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("c.yml");
//! # std::fs::write(&path, "providers:\n  - kind: vendor-env\n    prefix: APP\n").unwrap();
//! let resolver = Resolver::from_config_file_with(&path, &registry)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::error::{ConfigError, Error};
use crate::options::{Context, quoted};
use crate::provider::Provider;
use crate::providers::modelmesh::ModelMeshLayer;
use crate::providers::{
    DotenvProvider, EncryptedFileProvider, EnvProvider, JsonProvider, KeyringProvider,
    MemoryProvider, SopsProvider, SvVaultProvider, VaultFileProvider, VaultProvider,
};
use crate::record::SecretSource;
use crate::resolver::{Resolver, ResolverBuilder};
use crate::words::UnknownWord;

pub use crate::kstlib::{KSTLIB_CONFIG, KstlibConfig};
pub use crate::options::Options;

/// The environment variable that names the config file.
pub const CONFIG_ENV: &str = "SECRET_CASCADE_CONFIG";

/// The config file's name in the current directory.
pub const LOCAL_CONFIG: &str = "secret-cascade.yml";

impl Resolver {
    /// Builds the resolver a config file describes, with the built-in kinds. Relative paths
    /// inside the file are taken from the file's own folder. See `docs/config.md` for the format.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_config_file_with(path, &Registry::builtin())
    }

    /// Like [`Resolver::from_config_file`], with the kinds of `registry` (the built-in ones and
    /// your own).
    pub fn from_config_file_with(
        path: impl AsRef<Path>,
        registry: &Registry,
    ) -> Result<Self, Error> {
        Ok(load(path.as_ref(), registry)?.build())
    }

    /// Builds the resolver from the discovered config file: `SECRET_CASCADE_CONFIG`, else
    /// `./secret-cascade.yml`, else `$XDG_CONFIG_HOME/secret-cascade/config.yml` (`~/.config/...`).
    /// With none of them, kstlib's config when one of its `kstlib.conf.yml` files has a
    /// `secrets:` section ([`KstlibConfig::discover`]); with none either, the chain is the
    /// environment without a prefix, then defaults.
    pub fn discover() -> Result<Self, Error> {
        if let Some(path) = discover() {
            return Self::from_config_file(path);
        }
        match discover_kstlib()? {
            Some(config) => Ok(config.build(Self::builder())?.build()),
            None => Ok(default_chain(Self::builder()).build()),
        }
    }

    /// Builds the chain kstlib 3.8.2 would resolve with the `kstlib.conf.yml` at `path` (and its
    /// includes) merged over kstlib's packaged defaults: see [`KstlibConfig`].
    pub fn from_kstlib_config(path: impl AsRef<Path>) -> Result<Self, Error> {
        Ok(KstlibConfig::from_file(path)?
            .build(Self::builder())?
            .build())
    }
}

/// kstlib's config ([`KstlibConfig::discover`]), logged when found: what [`Resolver::discover`]
/// uses when there is no secret-cascade config file.
pub fn discover_kstlib() -> Result<Option<KstlibConfig>, ConfigError> {
    let found = KstlibConfig::discover()?;
    if let Some(config) = &found {
        tracing::info!(
            files = %list(config.files()),
            "no secret-cascade config file found: using kstlib's config (its `secrets:` section)"
        );
    }
    Ok(found)
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The kinds of layer a config file may name, each under its name (`sops`) and its connector id
/// (`secret-cascade.sops.v1`), with the factory that builds it from its options.
///
/// [`Registry::builtin`] has the kinds of this crate (and ModelMesh's connector ids for those
/// ModelMesh has); [`Registry::register`] adds a kind of
/// your own. `examples/custom_provider.rs` is a complete one.
pub struct Registry {
    kinds: Vec<Kind>,
}

/// One registered kind.
struct Kind {
    name: &'static str,
    connector: &'static str,
    build: Box<dyn Factory>,
}

/// Builds a layer from its options: a registered factory, its provider boxed.
trait Factory: Fn(&mut Options<'_>) -> Result<Box<dyn Provider>, ConfigError> + Send + Sync {}

impl<F> Factory for F where
    F: Fn(&mut Options<'_>) -> Result<Box<dyn Provider>, ConfigError> + Send + Sync
{
}

impl Registry {
    /// The built-in kinds, each under its name and `secret-cascade.NAME.v1`: `env`, `keyring`,
    /// `sops`, `vault`, `encrypted-file`, `dotenv`, `json`, `memory`, `vault-file`, `sv-vault`; and ModelMesh's connector
    /// ids (`modelmesh.env.v1`, `modelmesh.keyring.v1`, `modelmesh.encrypted-file.v1`,
    /// `modelmesh.dotenv.v1`, `modelmesh.json-secrets.v1`, `modelmesh.memory-secrets.v1`), which
    /// take ModelMesh's option names, defaults and lookup rules. A ModelMesh id is also the
    /// kind's name, so that an error listing the kinds shows the word a ModelMesh config holds.
    pub fn builtin() -> Self {
        let mut registry = Self::empty();
        for result in [
            registry
                .register("env", "secret-cascade.env.v1", EnvProvider::from_options)
                .map(drop),
            registry
                .register(
                    "keyring",
                    "secret-cascade.keyring.v1",
                    KeyringProvider::from_options,
                )
                .map(drop),
            registry
                .register("sops", "secret-cascade.sops.v1", SopsProvider::from_options)
                .map(drop),
            registry
                .register(
                    "vault",
                    "secret-cascade.vault.v1",
                    VaultProvider::from_options,
                )
                .map(drop),
            registry
                .register(
                    "encrypted-file",
                    "secret-cascade.encrypted-file.v1",
                    EncryptedFileProvider::from_options,
                )
                .map(drop),
            registry
                .register(
                    "dotenv",
                    "secret-cascade.dotenv.v1",
                    DotenvProvider::from_options,
                )
                .map(drop),
            registry
                .register("json", "secret-cascade.json.v1", JsonProvider::from_options)
                .map(drop),
            registry
                .register(
                    "memory",
                    "secret-cascade.memory.v1",
                    MemoryProvider::from_options,
                )
                .map(drop),
            registry
                .register(
                    "vault-file",
                    "secret-cascade.vault-file.v1",
                    VaultFileProvider::from_options,
                )
                .map(drop),
            registry
                .register(
                    "sv-vault",
                    "secret-cascade.sv-vault.v1",
                    SvVaultProvider::from_options,
                )
                .map(drop),
            // ModelMesh's ids (providers/modelmesh.rs has the options they share).
            registry
                .register("modelmesh.env.v1", "modelmesh.env.v1", |options| {
                    ModelMeshLayer::read(
                        options,
                        SecretSource::Env,
                        EnvProvider::from_modelmesh_options,
                    )
                })
                .map(drop),
            registry
                .register("modelmesh.keyring.v1", "modelmesh.keyring.v1", |options| {
                    ModelMeshLayer::read(
                        options,
                        SecretSource::Keyring,
                        KeyringProvider::from_modelmesh_options,
                    )
                })
                .map(drop),
            registry
                .register(
                    "modelmesh.encrypted-file.v1",
                    "modelmesh.encrypted-file.v1",
                    |options| {
                        ModelMeshLayer::around(
                            options,
                            SecretSource::EncryptedFile,
                            EncryptedFileProvider::from_modelmesh_options,
                        )
                    },
                )
                .map(drop),
            registry
                .register("modelmesh.dotenv.v1", "modelmesh.dotenv.v1", |options| {
                    ModelMeshLayer::around(
                        options,
                        SecretSource::Dotenv,
                        DotenvProvider::from_modelmesh_options,
                    )
                })
                .map(drop),
            registry
                .register(
                    "modelmesh.json-secrets.v1",
                    "modelmesh.json-secrets.v1",
                    |options| {
                        ModelMeshLayer::around(
                            options,
                            SecretSource::Json,
                            JsonProvider::from_modelmesh_options,
                        )
                    },
                )
                .map(drop),
            registry
                .register(
                    "modelmesh.memory-secrets.v1",
                    "modelmesh.memory-secrets.v1",
                    |options| {
                        ModelMeshLayer::around(
                            options,
                            SecretSource::Memory,
                            MemoryProvider::from_modelmesh_options,
                        )
                    },
                )
                .map(drop),
        ] {
            // The built-in names and ids are distinct, so registering them cannot collide.
            debug_assert!(result.is_ok());
        }
        registry
    }

    /// A registry without any kind.
    pub fn empty() -> Self {
        Self { kinds: Vec::new() }
    }

    /// Registers a kind: `kind: NAME` (or `kind: CONNECTOR`) in a config file builds a layer with
    /// `factory`, which reads its options (an option it does not ask for is refused after it
    /// returns). A name or connector id already registered is refused.
    pub fn register<P, F>(
        &mut self,
        name: &'static str,
        connector: &'static str,
        factory: F,
    ) -> Result<&mut Self, KindTaken>
    where
        P: Provider + 'static,
        F: Fn(&mut Options<'_>) -> Result<P, ConfigError> + Send + Sync + 'static,
    {
        if let Some(word) = [name, connector]
            .into_iter()
            .find(|w| self.find(w).is_some())
        {
            return Err(KindTaken { word });
        }
        self.kinds.push(Kind {
            name,
            connector,
            build: Box::new(move |options| {
                factory(options).map(|provider| Box::new(provider) as Box<dyn Provider>)
            }),
        });
        Ok(self)
    }

    /// The registered kinds as (name, connector id), in the order they were registered.
    pub fn kinds(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.kinds.iter().map(|kind| (kind.name, kind.connector))
    }

    fn find(&self, word: &str) -> Option<&Kind> {
        self.kinds
            .iter()
            .find(|kind| kind.name == word || kind.connector == word)
    }
}

impl Default for Registry {
    /// The built-in kinds.
    fn default() -> Self {
        Self::builtin()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.kinds()).finish()
    }
}

/// [`Registry::register`] was given a name or connector id that is registered already.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a kind named `{word}` is registered already")]
pub struct KindTaken {
    word: &'static str,
}

/// Finds the config file: `SECRET_CASCADE_CONFIG` if set (even when the file is missing, so that
/// a wrong setting is an error rather than a silent fallback), else `./secret-cascade.yml`, else
/// `$XDG_CONFIG_HOME/secret-cascade/config.yml` (`~/.config/secret-cascade/config.yml`).
pub fn discover() -> Option<PathBuf> {
    let found = search_paths()
        .into_iter()
        .enumerate()
        .find(|(i, path)| *i == 0 && from_env() || path.symlink_metadata().is_ok())
        .map(|(_, path)| path);
    if found.is_none() {
        tracing::info!(
            searched = %searched(),
            "no config file found: kstlib's config if it has one, else the environment without a prefix"
        );
    }
    found
}

fn from_env() -> bool {
    std::env::var_os(CONFIG_ENV).is_some_and(|p| !p.is_empty())
}

/// The paths [`discover`] looks at, absolute and comma-separated, then kstlib's
/// ([`KstlibConfig::search_paths`]) when `SECRET_CASCADE_CONFIG` is not set, for messages.
pub fn searched() -> String {
    let ours = search_paths()
        .iter()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
        .collect::<Vec<_>>();
    if from_env() {
        return list(&ours);
    }
    format!(
        "{}; kstlib's: {}",
        list(&ours),
        list(&KstlibConfig::search_paths())
    )
}

/// The paths [`discover`] looks at, in order: `SECRET_CASCADE_CONFIG` alone when it is set,
/// else `./secret-cascade.yml` and `$XDG_CONFIG_HOME/secret-cascade/config.yml`. For messages
/// that say where no config was found.
pub fn search_paths() -> Vec<PathBuf> {
    if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(path)];
    }
    let user_config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")))
        .map(|dir| dir.join("secret-cascade").join("config.yml"));
    std::iter::once(PathBuf::from(LOCAL_CONFIG))
        .chain(user_config)
        .collect()
}

/// `builder` with the chain used when there is no config file, or one without `providers`: the
/// environment without a prefix (then the request's default).
pub fn default_chain(builder: ResolverBuilder) -> ResolverBuilder {
    builder.provider(EnvProvider::new())
}

/// Reads the options of the first layer of `kind` (a name or connector id) in the config file at
/// `path` with `read`, without building the rest of the chain after it: for a command that works
/// on one layer (`secret-cascade keyring set` with `--config`). `Ok(None)` when the file has no
/// such layer. The layers before it are built, so that its `${secrets:...}` references resolve.
pub fn read_layer<T>(
    path: impl AsRef<Path>,
    kind: &str,
    read: impl FnOnce(&mut Options<'_>) -> Result<T, ConfigError>,
) -> Result<Option<T>, Error> {
    let registry = Registry::builtin();
    let wanted = registry.find(kind).map(|k| k.name);
    let mut read = Some(read);
    let mut found = None;
    read_file(path.as_ref(), &registry, |name, options| {
        match read.take_if(|_| Some(name) == wanted) {
            Some(read) => {
                found = Some(read(options));
                true
            }
            None => false,
        }
    })?;
    Ok(found.transpose()?)
}

/// Reads the options of every layer of `kind` (a name or connector id) in the config file at
/// `path` with `read`, in order: for a command that works on one layer chosen among several
/// (`secret-cascade vault --layer`). The whole file is read and checked as for a resolver.
pub fn read_layers<T>(
    path: impl AsRef<Path>,
    kind: &str,
    mut read: impl FnMut(&mut Options<'_>) -> Result<T, ConfigError>,
) -> Result<Vec<T>, Error> {
    let registry = Registry::builtin();
    let wanted = registry.find(kind).map(|k| k.name);
    let mut found = Vec::new();
    read_file(path.as_ref(), &registry, |name, options| {
        if Some(name) == wanted {
            found.push(read(options));
        }
        false
    })?;
    Ok(found.into_iter().collect::<Result<_, _>>()?)
}

/// Whether a would-be config file is a SOPS file: YAML or JSON with a top-level `sops` mapping
/// holding a `mac`, or dotenv or INI with sops's flattened `mac`.
fn is_sops_file(root: &MarkedYaml<'_>, text: &str) -> bool {
    fn key<'n, 'y>(node: &'n MarkedYaml<'y>, name: &str) -> Option<&'n MarkedYaml<'y>> {
        match &node.data {
            YamlData::Mapping(mapping) => mapping.iter().find_map(|(k, v)| {
                matches!(&k.data, YamlData::Value(Scalar::String(s)) if s == name).then_some(v)
            }),
            _ => None,
        }
    }
    let flattened = || {
        text.lines().any(|line| {
            line.starts_with("sops_mac=") || (line.starts_with("mac ") && text.contains("[sops]"))
        })
    };
    flattened() || key(root, "sops").is_some_and(|sops| key(sops, "mac").is_some())
}

/// Reads and validates a config file into a builder.
pub(crate) fn load(path: &Path, registry: &Registry) -> Result<ResolverBuilder, ConfigError> {
    read_file(path, registry, |_, _| false)
}

/// The process-wide resolver behind [`crate::resolve_secret`], built on first use from the
/// discovered config ([`Resolver::discover`]) and kept for the process, caches included. If
/// building it fails, the error is returned and the next call tries again. Bindings (the Python
/// package) hand it out so that every caller in a process shares its caches.
pub fn global() -> Result<&'static Resolver, Error> {
    static GLOBAL: OnceLock<Resolver> = OnceLock::new();
    static BUILDING: Mutex<()> = Mutex::new(());
    if let Some(resolver) = GLOBAL.get() {
        return Ok(resolver);
    }
    // One builder at a time; a failed build is not cached, so a fixed config is picked up later.
    let _building = BUILDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(resolver) = GLOBAL.get() {
        return Ok(resolver);
    }
    let resolver = Resolver::discover()?;
    Ok(GLOBAL.get_or_init(|| resolver))
}

/// Reads the config file at `path` into a builder, layer by layer. `intercept` sees each layer's
/// kind name and options first; when it returns `true` it has read them itself and reading stops
/// there.
fn read_file(
    path: &Path,
    registry: &Registry,
    mut intercept: impl FnMut(&'static str, &mut Options<'_>) -> bool,
) -> Result<ResolverBuilder, ConfigError> {
    let file = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let bytes = crate::bounded_read::file(&file, MAX_CONFIG_BYTES).map_err(|e| match e {
        crate::bounded_read::ReadError::TooLarge { size, .. } => ConfigError::new(
            &file,
            format!(
                "the file has at least {size} bytes; a config file may have at most {MAX_CONFIG_BYTES}"
            ),
        ),
        other => {
            ConfigError::new(&file, format!("cannot read the file: {other}")).caused_by(other)
        }
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        ConfigError::new(
            &file,
            format!("cannot read the file: it is not UTF-8 ({e})"),
        )
    })?;
    let documents = MarkedYaml::load_from_str(text).map_err(|e| {
        ConfigError::new(&file, format!("not valid YAML: {}", e.info()))
            .at("", Some(e.marker().line()))
    })?;
    let root = match documents.as_slice() {
        [root] => root,
        [] => {
            return Err(ConfigError::new(
                &file,
                "the file is empty; expected a mapping with `providers`",
            ));
        }
        _ => {
            return Err(ConfigError::new(
                &file,
                "expected one YAML document, found several",
            ));
        }
    };
    if is_sops_file(root, text) {
        return Err(ConfigError::new(
            &file,
            "this is a SOPS-encrypted file, not a secret-cascade config: name it as the `path` \
             of a `kind: sops` layer in a config, or read it with `secret-cascade decrypt`",
        ));
    }
    let base = file.parent().unwrap_or(Path::new("/"));
    let mut builder = Resolver::builder();
    let cache = builder.document_cache();
    let top_context = Context {
        cache: &cache,
        earlier: &[],
    };
    let mut top = Options::new(&file, base, String::new(), root, &top_context)?;
    if let Some(name) = top.non_empty_string("name")? {
        builder = builder.name(name);
    }
    if let Some(mut options) = top.section("cache")? {
        if let Some(max) = options.positive_integer("max_documents")? {
            builder = builder.max_documents(max);
        }
        if let Some(word) = options.non_empty_string("freshness")? {
            let freshness = word
                .parse()
                .map_err(|e: UnknownWord| options.error(Some("freshness"), e.to_string()))?;
            builder = builder.freshness(freshness);
        }
        options.finish()?;
    }
    let Some(items) = top.list("providers")? else {
        top.finish()?;
        return Ok(default_chain(builder));
    };
    let mut layers: Vec<Box<dyn Provider>> = Vec::with_capacity(items.len());
    for (index, node) in items.iter().enumerate() {
        let context = Context {
            cache: &cache,
            earlier: &layers,
        };
        let mut options = top.item("providers", index, node, &context)?;
        let names = || quoted(&registry.kinds().map(|(name, _)| name).collect::<Vec<_>>());
        let Some(word) = options.literal("kind")? else {
            return Err(options.error(None, format!("missing `kind`; expected one of {}", names())));
        };
        let Some(kind) = registry.find(word) else {
            return Err(options.error(
                Some("kind"),
                format!(
                    "unknown provider kind `{word}`; expected one of {}",
                    names()
                ),
            ));
        };
        if intercept(kind.name, &mut options) {
            options.finish()?;
            return Ok(builder);
        }
        let layer = (kind.build)(&mut options)?;
        options.finish()?;
        layers.push(layer);
    }
    top.finish()?;
    Ok(layers
        .into_iter()
        .fold(builder, |builder, layer| builder.boxed_provider(layer)))
}

/// Config files larger than this are refused before parsing.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cache::DocumentCache;

    fn parse(yaml: &str) -> Vec<MarkedYaml<'_>> {
        MarkedYaml::load_from_str(yaml).unwrap()
    }

    #[test]
    fn relative_paths_resolve_against_the_config_folder() {
        let docs = parse("path: secrets.enc.yaml\nabsolute: /etc/app/keys.txt\n");
        let base = Path::new("/srv/app/config");
        let cache = Arc::new(DocumentCache::new(1));
        let context = Context {
            cache: &cache,
            earlier: &[],
        };
        let mut options = Options::new(
            Path::new("/srv/app/config/c.yml"),
            base,
            String::new(),
            &docs[0],
            &context,
        )
        .unwrap();
        assert_eq!(
            options.path("path").unwrap().unwrap(),
            Path::new("/srv/app/config/secrets.enc.yaml")
        );
        assert_eq!(
            options.path("absolute").unwrap().unwrap(),
            Path::new("/etc/app/keys.txt")
        );
        options.finish().unwrap();
    }

    #[test]
    fn nested_errors_name_the_key_path_and_line() {
        let docs = parse("cache:\n  max_documents: many\n");
        let file = Path::new("/c.yml");
        let cache = Arc::new(DocumentCache::new(1));
        let context = Context {
            cache: &cache,
            earlier: &[],
        };
        let mut top =
            Options::new(file, Path::new("/"), String::new(), &docs[0], &context).unwrap();
        let mut options = top.section("cache").unwrap().unwrap();
        let err = options.positive_integer("max_documents").unwrap_err();
        assert_eq!(err.key(), Some("cache.max_documents"));
        assert_eq!(err.line(), Some(2));
        assert_eq!(
            err.message(),
            "expected a whole number of at least 1, found a string"
        );
    }

    #[test]
    fn a_name_or_connector_id_is_registered_once() {
        let mut registry = Registry::builtin();
        let names: Vec<_> = registry.kinds().collect();
        for kind in [
            "env",
            "keyring",
            "sops",
            "vault",
            "encrypted-file",
            "dotenv",
            "json",
            "memory",
        ] {
            let id = format!("secret-cascade.{kind}.v1");
            assert!(
                names.iter().any(|(n, c)| *n == kind && *c == id),
                "{kind} in {names:?}"
            );
        }
        for id in [
            "modelmesh.env.v1",
            "modelmesh.keyring.v1",
            "modelmesh.encrypted-file.v1",
            "modelmesh.dotenv.v1",
            "modelmesh.json-secrets.v1",
            "modelmesh.memory-secrets.v1",
        ] {
            assert!(names.contains(&(id, id)), "{id} in {names:?}");
        }
        let taken = registry
            .register("env", "other.v1", EnvProvider::from_options)
            .unwrap_err();
        assert_eq!(
            taken.to_string(),
            "a kind named `env` is registered already"
        );
        assert!(
            registry
                .register("other", "secret-cascade.sops.v1", EnvProvider::from_options)
                .is_err()
        );
    }
}
