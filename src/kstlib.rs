//! kstlib's config files: the `secrets:` section of the `kstlib.conf.yml` files kstlib 3.8.2
//! reads, turned into the same chain kstlib resolves, so that a kstlib user switches with no file
//! changed.
//!
//! **Which files, in which order** (kstlib's `ConfigLoader.load`, lowest priority first, each
//! deep-merged over the ones before: a mapping merges key by key, anything else, a list among
//! them, replaces):
//!
//! 1. kstlib's packaged defaults (the `secrets:` section of its `kstlib.conf.yml`, built in here);
//! 2. `DIR/kstlib/kstlib.conf.yml` for each absolute `DIR` of `$XDG_CONFIG_DIRS` (with none,
//!    `/etc/xdg`), the last listed first, so that the first listed wins (platformdirs 4.14's
//!    `site_config_dir`, as installed with kstlib 3.8.2);
//! 3. `~/.config/kstlib.conf.yml` (`$HOME/.config`, not `$XDG_CONFIG_HOME`);
//! 4. `~/kstlib.conf.yml`;
//! 5. `./kstlib.conf.yml`.
//!
//! A file's `include:` (a path or a list of paths, relative to the file's folder, not outside it,
//! not a symlink, at most 10 deep, no cycles) is read first and the file merged over it, as kstlib
//! does. YAML and JSON includes are read; TOML, INI and `.sops.*` includes are refused with an
//! error saying so. kstlib reads no environment variable that changes this section.
//!
//! **The section**:
//!
//! ```yaml
//! secrets:
//!   name: default                     # shown in errors
//!   providers:                        # asked in this order
//!     - name: environment
//!       settings: {prefix: KSTLIB, delimiter: "__"}
//!     - name: keyring
//!       settings: {service: kstlib}
//!     - name: sops                    # also possible as a provider
//!       settings: {path: secrets.sops.yaml}
//!   sops:
//!     path: secrets.sops.yaml         # null: no SOPS layer
//!     binary: sops                    # accepted, unused: SOPS files are decrypted natively
//!     format: auto                    # auto | json | yaml (the file's own format is read)
//!     max_cache_entries: 64           # at most 256, as kstlib caps it
//! ```
//!
//! **The chain**: the providers in order (with no `providers`, or an empty list, kstlib's own
//! default: `environment` then `keyring`), then a SOPS layer for `sops.path` when it is set, then
//! the request's default. kstlib ignores `sops.path` when `providers` is given, which its
//! packaged defaults always give; here a configured file is consulted, as `KSTLIB_REFERENCE`
//! decides. Relative SOPS paths are taken from the current directory, as kstlib takes them.
//!
//! **Names**, exactly kstlib's: `environment` reads `PREFIX` + scope + name, upper-cased, dots
//! becoming the delimiter, **hyphens kept** (`KSTLIB__MAIL__SMTP-HOST`; trailing delimiter
//! characters are trimmed off the prefix, so `KSTLIB_` is `KSTLIB`); `keyring` reads user
//! `"{scope or 'default'}:{name}"` under the service (`kstlib` by default).
//!
//! Validation is strict, as for our own config: an unknown key or provider, or a value of the
//! wrong type, is a [`ConfigError`] naming the file the value came from, its line and the key
//! (`secrets.providers[0].settings.prefix`). Values are never quoted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::error::ConfigError;
use crate::providers::{EnvProvider, KeyringProvider, SopsProvider};
use crate::resolver::ResolverBuilder;

/// kstlib's config file name.
pub const KSTLIB_CONFIG: &str = "kstlib.conf.yml";

/// The `secrets:` section of kstlib 3.8.2's packaged `kstlib.conf.yml`, the base every file
/// merges over.
const PACKAGED_DEFAULTS: &str = r#"secrets:
  name: "default"
  providers:
    - name: environment
      settings:
        prefix: "KSTLIB"
        delimiter: "__"
    - name: keyring
      settings:
        service: "kstlib"
  sops:
    path: null
    binary: "sops"
    format: "auto"
    max_cache_entries: 64
"#;

/// Where the packaged defaults are said to come from in messages.
const PACKAGED_LABEL: &str = "<kstlib 3.8.2 packaged kstlib.conf.yml>";

/// kstlib caps `max_cache_entries` here (`HARD_MAX_SOPS_CACHE_ENTRIES`).
const MAX_CACHE_ENTRIES: usize = 256;

/// kstlib's `MAX_INCLUDE_DEPTH`.
const MAX_INCLUDE_DEPTH: usize = 10;

/// Files larger than this are refused, as kstlib's `HARD_MAX_CONFIG_FILE_SIZE` refuses them.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// kstlib's merged `secrets:` section and the files it was read from.
#[derive(Debug, Clone)]
pub struct KstlibConfig {
    files: Vec<PathBuf>,
    secrets: Node,
}

impl KstlibConfig {
    /// The config kstlib would load here: its packaged defaults merged with every file of
    /// [`KstlibConfig::search_paths`] that exists. `Ok(None)` when none of these files (with its
    /// includes) has a `secrets:` section, so that a kstlib user's files are only taken when they
    /// say something about secrets.
    pub fn discover() -> Result<Option<Self>, ConfigError> {
        let mut merged = packaged_defaults();
        let mut files = Vec::new();
        let mut has_secrets = false;
        for path in Self::search_paths().into_iter().filter(|p| p.is_file()) {
            let mut read = Vec::new();
            let layer = load_with_includes(&path, &mut read, 0)?;
            has_secrets |= layer.get("secrets").is_some();
            merge(&mut merged, layer);
            files.extend(read);
        }
        if !has_secrets {
            return Ok(None);
        }
        Self::from_merged(merged, files).map(Some)
    }

    /// The config in the file at `path` (and its includes) merged over kstlib's packaged
    /// defaults, as kstlib's `load_config(path=...)` reads one file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = std::path::absolute(path.as_ref()).unwrap_or_else(|_| path.as_ref().into());
        let mut merged = packaged_defaults();
        let mut files = Vec::new();
        merge(&mut merged, load_with_includes(&path, &mut files, 0)?);
        Self::from_merged(merged, files)
    }

    /// The files kstlib's cascade looks at, lowest priority first (the packaged defaults, built
    /// in, are not among them).
    pub fn search_paths() -> Vec<PathBuf> {
        // platformdirs' `site_config_dir(multipath=True)`: the absolute entries of
        // $XDG_CONFIG_DIRS, else /etc/xdg; kstlib reverses them so that the first listed wins.
        let listed = std::env::var_os("XDG_CONFIG_DIRS").unwrap_or_default();
        let mut system: Vec<PathBuf> = std::env::split_paths(&listed)
            .filter(|dir| dir.is_absolute())
            .collect();
        if system.is_empty() {
            system.push(PathBuf::from("/etc/xdg"));
        }
        let system = system
            .into_iter()
            .rev()
            .map(|dir| dir.join("kstlib").join(KSTLIB_CONFIG));
        let user = std::env::var_os("HOME")
            .map(PathBuf::from)
            .into_iter()
            .flat_map(|h| [h.join(".config").join(KSTLIB_CONFIG), h.join(KSTLIB_CONFIG)]);
        let cwd = std::env::current_dir()
            .map(|d| d.join(KSTLIB_CONFIG))
            .unwrap_or_else(|_| PathBuf::from(KSTLIB_CONFIG));
        system.chain(user).chain([cwd]).collect()
    }

    /// The files read (includes among them), absolute, in the order they were read.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// `builder` with the chain the section describes: its name, the providers in order, then
    /// the SOPS file of `sops.path` if set.
    pub fn build(&self, mut builder: ResolverBuilder) -> Result<ResolverBuilder, ConfigError> {
        let mut section = Section::new(&self.secrets, "secrets")?;
        if let Some(name) = section.text("name")? {
            builder = builder.name(name);
        }
        let providers = match section.take("providers") {
            None => Vec::new(),
            Some(node) if matches!(node.value, Value::Null) => Vec::new(),
            Some(Node {
                value: Value::List(items),
                ..
            }) => items.iter().collect(),
            Some(other) => return Err(other.expected("secrets.providers", "a list")),
        };
        let sops = section.take("sops");
        section.finish()?;
        if providers.is_empty() {
            builder = builder
                .provider(kstlib_env(Defaults::ENV_PREFIX, Defaults::ENV_DELIMITER))
                .provider(KeyringProvider::new(Defaults::SERVICE));
        }
        for (index, item) in providers.into_iter().enumerate() {
            builder = add_provider(builder, item, &format!("secrets.providers[{index}]"))?;
        }
        if let Some(node) = sops.filter(|n| !matches!(n.value, Value::Null)) {
            let mut settings = Section::new(node, "secrets.sops")?;
            let (path, max) = sops_settings(&mut settings)?;
            settings.finish()?;
            if let Some(max) = max {
                builder = builder.max_documents(max);
            }
            if let Some(path) = path {
                let cache = builder.document_cache();
                builder = builder.provider(SopsProvider::new(path, cache));
            }
        }
        Ok(builder)
    }

    fn from_merged(mut merged: Node, files: Vec<PathBuf>) -> Result<Self, ConfigError> {
        let secrets = match merged.remove("secrets") {
            Some(node) if matches!(node.value, Value::Map(_)) => node,
            Some(node) if matches!(node.value, Value::Null) => packaged_defaults()
                .remove("secrets")
                .expect("the packaged defaults have a secrets section"),
            Some(node) => return Err(node.expected("secrets", "a mapping")),
            None => unreachable!("the packaged defaults have a secrets section"),
        };
        Ok(Self { files, secrets })
    }
}

/// kstlib's built-in provider defaults (used with no `providers` list).
struct Defaults;

impl Defaults {
    const ENV_PREFIX: &'static str = "KSTLIB_";
    const ENV_DELIMITER: &'static str = "__";
    const SERVICE: &'static str = "kstlib";
}

/// An environment layer with kstlib's names: the prefix without its trailing delimiter
/// characters (Python's `rstrip`), hyphens kept.
fn kstlib_env(prefix: &str, delimiter: &str) -> EnvProvider {
    let prefix = prefix.trim_end_matches(|c| delimiter.contains(c));
    EnvProvider::new()
        .with_prefix(prefix)
        .with_delimiter(delimiter)
        .with_hyphens_kept()
}

/// Adds the provider `{name, settings}` at `at` to `builder`.
fn add_provider(
    builder: ResolverBuilder,
    item: &Node,
    at: &str,
) -> Result<ResolverBuilder, ConfigError> {
    let mut entry = Section::new(item, at)?;
    let Some(name) = entry.text("name")? else {
        return Err(item.error(
            at,
            "missing `name`; expected one of `environment`, `keyring`, `sops`",
        ));
    };
    let settings_node = entry.take("settings");
    entry.finish()?;
    let empty = Node {
        file: item.file.clone(),
        line: item.line,
        value: Value::Map(Vec::new()),
    };
    let settings_node = settings_node
        .filter(|n| !matches!(n.value, Value::Null))
        .unwrap_or(&empty);
    let mut settings = Section::new(settings_node, &format!("{at}.settings"))?;
    let builder = match name.as_str() {
        "environment" => {
            let prefix = settings.text("prefix")?;
            let delimiter = settings.text("delimiter")?;
            if delimiter.as_deref() == Some("") {
                return Err(settings.error("delimiter", "must not be empty"));
            }
            builder.provider(kstlib_env(
                prefix.as_deref().unwrap_or(Defaults::ENV_PREFIX),
                delimiter.as_deref().unwrap_or(Defaults::ENV_DELIMITER),
            ))
        }
        "keyring" => {
            let service = settings.text("service")?;
            if service.as_deref() == Some("") {
                return Err(settings.error("service", "must not be empty"));
            }
            builder.provider(KeyringProvider::new(
                service.as_deref().unwrap_or(Defaults::SERVICE),
            ))
        }
        "sops" => {
            let (path, max) = sops_settings(&mut settings)?;
            let builder = match max {
                Some(max) => builder.max_documents(max),
                None => builder,
            };
            match path {
                Some(path) => {
                    let cache = builder.document_cache();
                    builder.provider(SopsProvider::new(path, cache))
                }
                // kstlib's SOPS provider without a path answers nothing.
                None => builder,
            }
        }
        "kms" | "kwargs" => {
            return Err(item.error(
                &format!("{at}.name"),
                format!(
                    "kstlib's `{name}` provider is not supported by secret-cascade; use \
                     `environment`, `keyring` or `sops`, or a secret-cascade config \
                     (docs/migrating.md)"
                ),
            ));
        }
        _ => {
            return Err(item.error(
                &format!("{at}.name"),
                "unknown provider; expected one of `environment`, `keyring`, `sops`",
            ));
        }
    };
    settings.finish()?;
    Ok(builder)
}

/// Reads kstlib's SOPS settings: the path (relative to the current directory) and the cache size.
fn sops_settings(
    settings: &mut Section<'_>,
) -> Result<(Option<PathBuf>, Option<usize>), ConfigError> {
    let path = settings.text("path")?.filter(|p| !p.is_empty()).map(|p| {
        let path = PathBuf::from(p);
        std::path::absolute(&path).unwrap_or(path)
    });
    // The sops binary is never run: files are decrypted in process.
    settings.text("binary")?;
    for key in ["format", "document_format"] {
        match settings.text(key)?.as_deref() {
            None | Some("auto" | "json" | "yaml" | "") => {}
            Some("text") => {
                return Err(settings.error(
                    key,
                    "`text` is not supported: a SOPS file is read in its own format \
                     (use `auto`)",
                ));
            }
            Some(_) => {
                return Err(settings.error(key, "expected one of `auto`, `json`, `yaml`"));
            }
        }
    }
    let max = match settings.take("max_cache_entries") {
        None => None,
        Some(Node {
            value: Value::Int(n),
            ..
        }) if *n >= 1 => Some(
            usize::try_from(*n)
                .unwrap_or(MAX_CACHE_ENTRIES)
                .min(MAX_CACHE_ENTRIES),
        ),
        Some(Node {
            value: Value::Null, ..
        }) => None,
        Some(other) => {
            return Err(other.expected(
                &settings.key_path("max_cache_entries"),
                "a whole number of at least 1",
            ));
        }
    };
    Ok((path, max))
}

/// The packaged defaults as a tree.
fn packaged_defaults() -> Node {
    let documents = MarkedYaml::load_from_str(PACKAGED_DEFAULTS).expect("valid built-in YAML");
    Node::from_yaml(&documents[0], &Arc::from(Path::new(PACKAGED_LABEL)))
}

/// Reads `path` with its includes (kstlib's `_load_with_includes`), recording each file read in
/// `read`.
fn load_with_includes(
    path: &Path,
    read: &mut Vec<PathBuf>,
    depth: usize,
) -> Result<Node, ConfigError> {
    if depth > MAX_INCLUDE_DEPTH {
        return Err(ConfigError::new(
            path,
            format!("includes are nested more than {MAX_INCLUDE_DEPTH} deep"),
        ));
    }
    let canonical = std::fs::canonicalize(path)
        .map_err(|e| ConfigError::new(path, format!("cannot read the file: {e}")).caused_by(e))?;
    if read.contains(&canonical) {
        return Err(ConfigError::new(
            path,
            "circular include: this file includes itself",
        ));
    }
    read.push(canonical.clone());
    let mut data = load_file(&canonical)?;
    let includes = match data.remove("include") {
        None => Vec::new(),
        Some(node) => include_list(&node)?,
    };
    let folder = canonical.parent().unwrap_or(Path::new("/"));
    let mut merged = Node {
        file: data.file.clone(),
        line: 1,
        value: Value::Map(Vec::new()),
    };
    for (include, line) in includes {
        let raw = folder.join(&include);
        let refuse =
            |message: String| ConfigError::new(&canonical, message).at("include", Some(line));
        if raw.is_symlink() {
            return Err(refuse(format!(
                "`{include}` is a symlink; kstlib refuses symlinked includes"
            )));
        }
        let target = std::fs::canonicalize(&raw)
            .map_err(|e| refuse(format!("cannot read the included file `{include}`: {e}")))?;
        if !target.starts_with(folder) {
            return Err(refuse(format!(
                "`{include}` is outside this file's folder; kstlib refuses such includes"
            )));
        }
        let name = target.to_string_lossy().to_lowercase();
        if [".sops.yml", ".sops.yaml", ".sops.json", ".sops.toml"]
            .iter()
            .any(|ext| name.ends_with(ext))
            || !(name.ends_with(".yml") || name.ends_with(".yaml") || name.ends_with(".json"))
        {
            return Err(refuse(format!(
                "`{include}`: only YAML and JSON includes are read here (not TOML, INI or \
                 SOPS-encrypted ones); move the `secrets:` section into a YAML file"
            )));
        }
        merge(&mut merged, load_with_includes(&target, read, depth + 1)?);
    }
    merge(&mut merged, data);
    Ok(merged)
}

/// The paths of an `include:` value (a string or a list of strings; empty entries dropped), with
/// their lines.
fn include_list(node: &Node) -> Result<Vec<(String, usize)>, ConfigError> {
    match &node.value {
        Value::Null => Ok(Vec::new()),
        Value::Text(path) => Ok(Some((path.clone(), node.line))
            .filter(|(p, _)| !p.trim().is_empty())
            .into_iter()
            .collect()),
        Value::List(items) => items
            .iter()
            .enumerate()
            .filter(|(_, item)| !matches!(&item.value, Value::Null))
            .filter(|(_, item)| !matches!(&item.value, Value::Text(t) if t.trim().is_empty()))
            .map(|(i, item)| match &item.value {
                Value::Text(path) => Ok((path.clone(), item.line)),
                _ => Err(item.expected(&format!("include[{i}]"), "a path")),
            })
            .collect(),
        _ => Err(node.expected("include", "a path or a list of paths")),
    }
}

/// Reads one YAML (or JSON) file into a tree.
fn load_file(path: &Path) -> Result<Node, ConfigError> {
    let bytes = crate::bounded_read::file(path, MAX_FILE_BYTES)
        .map_err(|e| ConfigError::new(path, format!("cannot read the file: {e}")).caused_by(e))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        ConfigError::new(path, format!("cannot read the file: it is not UTF-8 ({e})"))
    })?;
    let documents = MarkedYaml::load_from_str(text).map_err(|e| {
        ConfigError::new(path, format!("not valid YAML: {}", e.info()))
            .at("", Some(e.marker().line()))
    })?;
    let file: Arc<Path> = Arc::from(path);
    match documents.as_slice() {
        [] => Ok(Node {
            file,
            line: 1,
            value: Value::Map(Vec::new()),
        }),
        [root] => {
            let node = Node::from_yaml(root, &file);
            match node.value {
                Value::Map(_) => Ok(node),
                Value::Null => Ok(Node {
                    value: Value::Map(Vec::new()),
                    ..node
                }),
                _ => Err(node.expected("", "a mapping")),
            }
        }
        _ => Err(ConfigError::new(
            path,
            "expected one YAML document, found several",
        )),
    }
}

/// Deep-merges `update` into `base` as kstlib's `deep_merge` does: mappings key by key, anything
/// else replaced.
fn merge(base: &mut Node, update: Node) {
    match (&mut base.value, update.value) {
        (Value::Map(entries), Value::Map(updates)) => {
            for (key, value) in updates {
                match entries.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, existing))
                        if matches!(existing.value, Value::Map(_))
                            && matches!(value.value, Value::Map(_)) =>
                    {
                        merge(existing, value);
                    }
                    Some((_, existing)) => *existing = value,
                    None => entries.push((key, value)),
                }
            }
        }
        (_, value) => {
            *base = Node {
                file: update.file,
                line: update.line,
                value,
            }
        }
    }
}

/// A value of a config file, with the file and line it came from (merged trees mix files).
#[derive(Debug, Clone)]
struct Node {
    file: Arc<Path>,
    line: usize,
    value: Value,
}

#[derive(Debug, Clone)]
enum Value {
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    Text(String),
    Int(i64),
    Null,
    /// Anything else (a boolean, a float, a mapping with a non-string key), by its kind's name.
    Other(&'static str),
}

impl Node {
    fn from_yaml(yaml: &MarkedYaml<'_>, file: &Arc<Path>) -> Self {
        let value = match &yaml.data {
            YamlData::Mapping(mapping) => {
                let mut entries = Vec::with_capacity(mapping.len());
                for (key, value) in mapping {
                    let YamlData::Value(Scalar::String(key_text)) = &key.data else {
                        return Self {
                            file: file.clone(),
                            line: key.span.start.line(),
                            value: Value::Other("a mapping with a key that is not a string"),
                        };
                    };
                    let mut node = Self::from_yaml(value, file);
                    // Point at the key: a block value starts on a later line.
                    node.line = key.span.start.line();
                    entries.push((key_text.to_string(), node));
                }
                Value::Map(entries)
            }
            YamlData::Sequence(items) => {
                Value::List(items.iter().map(|i| Self::from_yaml(i, file)).collect())
            }
            YamlData::Value(Scalar::String(text)) => Value::Text(text.to_string()),
            YamlData::Value(Scalar::Integer(n)) => Value::Int(*n),
            YamlData::Value(Scalar::Null) => Value::Null,
            YamlData::Value(Scalar::Boolean(_)) => Value::Other("a boolean"),
            YamlData::Value(Scalar::FloatingPoint(_)) => Value::Other("a number with a fraction"),
            _ => Value::Other("a value of another kind"),
        };
        Self {
            file: file.clone(),
            line: yaml.span.start.line(),
            value,
        }
    }

    fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn remove(&mut self, key: &str) -> Option<Node> {
        match &mut self.value {
            Value::Map(entries) => {
                let index = entries.iter().position(|(k, _)| k == key)?;
                Some(entries.remove(index).1)
            }
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match &self.value {
            Value::Map(_) => "a mapping",
            Value::List(_) => "a list",
            Value::Text(_) => "a string",
            Value::Int(_) => "a whole number",
            Value::Null => "null",
            Value::Other(kind) => kind,
        }
    }

    fn error(&self, at: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::new(&self.file, message).at(at, Some(self.line))
    }

    fn expected(&self, at: &str, what: &str) -> ConfigError {
        self.error(at, format!("expected {what}, found {}", self.kind()))
    }
}

/// One mapping of the section, read key by key; keys nobody asked for are refused.
struct Section<'a> {
    node: &'a Node,
    at: String,
    entries: &'a [(String, Node)],
    asked: Vec<&'static str>,
}

impl<'a> Section<'a> {
    fn new(node: &'a Node, at: &str) -> Result<Self, ConfigError> {
        let Value::Map(entries) = &node.value else {
            return Err(node.expected(at, "a mapping"));
        };
        Ok(Self {
            node,
            at: at.to_owned(),
            entries,
            asked: Vec::new(),
        })
    }

    fn key_path(&self, key: &str) -> String {
        format!("{}.{key}", self.at)
    }

    fn take(&mut self, key: &'static str) -> Option<&'a Node> {
        self.asked.push(key);
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The text at `key`; null counts as absent.
    fn text(&mut self, key: &'static str) -> Result<Option<String>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Node {
                value: Value::Null, ..
            }) => Ok(None),
            Some(Node {
                value: Value::Text(text),
                ..
            }) => Ok(Some(text.clone())),
            Some(other) => Err(other.expected(&self.key_path(key), "a string")),
        }
    }

    fn error(&self, key: &str, message: &str) -> ConfigError {
        match self.entries.iter().find(|(k, _)| k == key) {
            Some((_, node)) => node.error(&self.key_path(key), message),
            None => self.node.error(&self.key_path(key), message),
        }
    }

    fn finish(self) -> Result<(), ConfigError> {
        match self
            .entries
            .iter()
            .find(|(key, _)| !self.asked.contains(&key.as_str()))
        {
            None => Ok(()),
            Some((key, node)) => {
                let mut expected = self.asked.clone();
                expected.retain(|k| *k != "document_format");
                Err(node.error(
                    &self.key_path(key),
                    format!(
                        "unknown key; expected {}",
                        expected
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(yaml: &str) -> Node {
        let docs = MarkedYaml::load_from_str(yaml).unwrap();
        Node::from_yaml(&docs[0], &Arc::from(Path::new("/t.yml")))
    }

    #[test]
    fn merging_replaces_lists_and_merges_mappings() {
        let mut base = packaged_defaults();
        merge(
            &mut base,
            tree("secrets:\n  providers:\n    - name: keyring\n  sops:\n    path: s.yaml\n"),
        );
        let secrets = base.get("secrets").unwrap();
        let Value::List(providers) = &secrets.get("providers").unwrap().value else {
            panic!("a list");
        };
        assert_eq!(providers.len(), 1);
        let sops = secrets.get("sops").unwrap();
        assert!(matches!(&sops.get("path").unwrap().value, Value::Text(p) if p == "s.yaml"));
        assert!(matches!(
            &sops.get("max_cache_entries").unwrap().value,
            Value::Int(64)
        ));
        assert_eq!(&*sops.get("path").unwrap().file, Path::new("/t.yml"));
    }

    #[test]
    fn the_prefix_loses_its_trailing_delimiter_characters() {
        let provider = kstlib_env("KSTLIB_", "__");
        let request = crate::request::SecretRequest::new("smtp.api-key").with_scope("my-app");
        assert_eq!(
            provider.variable_name(&request),
            "KSTLIB__MY-APP__SMTP__API-KEY"
        );
    }

    #[test]
    fn a_bad_setting_names_the_file_line_and_key() {
        let mut merged = packaged_defaults();
        merge(
            &mut merged,
            tree(
                "secrets:\n  providers:\n    - name: environment\n      settings:\n        prefx: A\n",
            ),
        );
        let config = KstlibConfig::from_merged(merged, Vec::new()).unwrap();
        let Err(err) = config.build(crate::resolver::Resolver::builder()) else {
            panic!("a misspelled setting is refused");
        };
        assert_eq!(err.file(), Path::new("/t.yml"));
        assert_eq!(err.key(), Some("secrets.providers[0].settings.prefx"));
        assert_eq!(err.line(), Some(5));
        assert!(
            err.message()
                .starts_with("unknown key; expected `prefix`, `delimiter`")
        );
    }
}
