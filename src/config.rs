//! The config file: where it is found and how it becomes a [`Resolver`].
//!
//! ```yaml
//! name: myapp                   # shown in errors; default `default`
//! providers:                    # asked in this order; default: one `env` layer without prefix
//!   - kind: env
//!     prefix: MYAPP
//!     delimiter: "__"
//! cache:
//!   max_documents: 64
//! ```
//!
//! Validation is strict: an unknown key or `kind`, a value of the wrong type, a duplicated key or
//! an empty file is a [`ConfigError`] naming the file, the key and what was expected. Messages
//! never quote a value from the file, except an unknown `kind`. Relative paths resolve against
//! the file's own folder. `docs/config.md` is the full reference.

use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::error::ConfigError;
use crate::provider::Provider;
use crate::providers::{EnvProvider, KeyringProvider, SopsProvider};
use crate::resolver::{Resolver, ResolverBuilder};

/// The environment variable that names the config file.
pub const CONFIG_ENV: &str = "SECRET_CASCADE_CONFIG";

/// The config file's name in the current directory.
pub const LOCAL_CONFIG: &str = "secret-cascade.yml";

/// Config files larger than this are refused before parsing.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The provider kinds a config file may name.
const KINDS: &[&str] = &["env", "keyring", "sops"];

/// Finds the config file: `SECRET_CASCADE_CONFIG` if set (even when the file is missing, so that
/// a wrong setting is an error rather than a silent fallback), else `./secret-cascade.yml`, else
/// `$XDG_CONFIG_HOME/secret-cascade/config.yml` (`~/.config/secret-cascade/config.yml`).
pub fn discover() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let user_config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")))
        .map(|dir| dir.join("secret-cascade").join("config.yml"));
    std::iter::once(PathBuf::from(LOCAL_CONFIG))
        .chain(user_config)
        .find(|path| path.symlink_metadata().is_ok())
}

/// Reads and validates a config file into a builder.
pub(crate) fn load(path: &Path) -> Result<ResolverBuilder, ConfigError> {
    let file = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let bytes = crate::bounded_read::file(&file, MAX_CONFIG_BYTES).map_err(|e| match e {
        crate::bounded_read::ReadError::TooLarge { size, .. } => ConfigError::new(
            &file,
            format!(
                "the file has at least {size} bytes; a config file may have at most {MAX_CONFIG_BYTES}"
            ),
        ),
        other => ConfigError::new(&file, format!("cannot read the file: {other}")),
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
    let base = file.parent().unwrap_or(Path::new("/"));
    let mut top = Section::new(&file, base, String::new(), root)?;
    let builder = read_resolver(&mut top)?;
    top.finish()?;
    Ok(builder)
}

fn read_resolver(top: &mut Section<'_>) -> Result<ResolverBuilder, ConfigError> {
    let mut builder = Resolver::builder();
    if let Some(name) = top.non_empty_string("name")? {
        builder = builder.name(name);
    }
    if let Some(mut cache) = top.section("cache")? {
        if let Some(max) = cache.positive_integer("max_documents")? {
            builder = builder.max_documents(max);
        }
        cache.finish()?;
    }
    match top.list("providers")? {
        None => builder = builder.provider(EnvProvider::new()),
        Some(items) => {
            for (i, item) in items.iter().enumerate() {
                let mut section = top.item("providers", i, item)?;
                let provider = read_provider(&mut section, &builder)?;
                section.finish()?;
                builder = builder.boxed_provider(provider);
            }
        }
    }
    Ok(builder)
}

fn read_provider(
    section: &mut Section<'_>,
    builder: &ResolverBuilder,
) -> Result<Box<dyn Provider>, ConfigError> {
    let Some(kind) = section.non_empty_string("kind")? else {
        return Err(section.error(
            None,
            format!("missing `kind`; expected one of {}", quoted(KINDS)),
        ));
    };
    Ok(match kind.as_str() {
        "env" => Box::new(EnvProvider::from_config(section)?),
        "keyring" => Box::new(KeyringProvider::from_config(section)?),
        "sops" => Box::new(SopsProvider::from_config(
            section,
            builder.document_cache(),
        )?),
        other => {
            return Err(section.error(
                Some("kind"),
                format!(
                    "unknown provider kind `{other}`; expected one of {}",
                    quoted(KINDS)
                ),
            ));
        }
    })
}

/// One mapping of the config file, read key by key. Every key a reader asks for is remembered,
/// so that [`Section::finish`] can reject the keys nobody asked for and list the ones expected.
pub(crate) struct Section<'a> {
    file: &'a Path,
    base: &'a Path,
    at: String,
    line: usize,
    entries: Vec<(&'a str, &'a MarkedYaml<'a>)>,
    asked: Vec<&'static str>,
}

impl<'a> Section<'a> {
    fn new(
        file: &'a Path,
        base: &'a Path,
        at: String,
        node: &'a MarkedYaml<'a>,
    ) -> Result<Self, ConfigError> {
        let line = node.span.start.line();
        let YamlData::Mapping(mapping) = &node.data else {
            let what = if at.is_empty() { "the file" } else { "this" };
            return Err(ConfigError::new(
                file,
                format!("{what} must be a mapping, found {}", kind_of(node)),
            )
            .at(at, Some(line)));
        };
        let mut entries = Vec::with_capacity(mapping.len());
        for (key, value) in mapping {
            let YamlData::Value(Scalar::String(key_text)) = &key.data else {
                return Err(ConfigError::new(
                    file,
                    format!("keys must be strings, found {}", kind_of(key)),
                )
                .at(at, Some(key.span.start.line())));
            };
            entries.push((key_text.as_ref(), value));
        }
        Ok(Self {
            file,
            base,
            at,
            line,
            entries,
            asked: Vec::new(),
        })
    }

    /// The nested mapping at `key`, if present.
    pub(crate) fn section(
        &mut self,
        key: &'static str,
    ) -> Result<Option<Section<'a>>, ConfigError> {
        let at = self.key_path(key);
        self.take(key)
            .map(|node| Section::new(self.file, self.base, at, node))
            .transpose()
    }

    /// The list at `key`, if present.
    pub(crate) fn list(
        &mut self,
        key: &'static str,
    ) -> Result<Option<&'a [MarkedYaml<'a>]>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(MarkedYaml {
                data: YamlData::Sequence(items),
                ..
            }) => Ok(Some(items)),
            Some(other) => Err(self.expected(key, other, "a list")),
        }
    }

    /// The mapping at position `index` of the list at `key`.
    pub(crate) fn item(
        &self,
        key: &str,
        index: usize,
        node: &'a MarkedYaml<'a>,
    ) -> Result<Section<'a>, ConfigError> {
        Section::new(
            self.file,
            self.base,
            format!("{}[{index}]", self.key_path(key)),
            node,
        )
    }

    /// The text at `key`, if present (a null counts as absent).
    pub(crate) fn string(&mut self, key: &'static str) -> Result<Option<String>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(MarkedYaml {
                data: YamlData::Value(Scalar::String(text)),
                ..
            }) => Ok(Some(text.to_string())),
            Some(other) => Err(self.expected(key, other, "a string")),
        }
    }

    /// Like [`Section::string`], but an empty string is an error.
    pub(crate) fn non_empty_string(
        &mut self,
        key: &'static str,
    ) -> Result<Option<String>, ConfigError> {
        match self.string(key)? {
            Some(text) if text.is_empty() => Err(self.error(Some(key), "must not be empty")),
            other => Ok(other),
        }
    }

    /// A file path at `key`; relative paths are taken from the config file's folder.
    pub(crate) fn path(&mut self, key: &'static str) -> Result<Option<PathBuf>, ConfigError> {
        Ok(self.non_empty_string(key)?.map(|text| self.base.join(text)))
    }

    /// A whole number of at least 1 at `key`.
    pub(crate) fn positive_integer(
        &mut self,
        key: &'static str,
    ) -> Result<Option<usize>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(MarkedYaml {
                data: YamlData::Value(Scalar::Integer(n)),
                ..
            }) => match usize::try_from(*n) {
                Ok(n) if n >= 1 => Ok(Some(n)),
                _ => Err(self.error(Some(key), "expected a whole number of at least 1")),
            },
            Some(other) => Err(self.expected(key, other, "a whole number of at least 1")),
        }
    }

    /// An error about `key` in this section (or about the section itself).
    pub(crate) fn error(&self, key: Option<&str>, message: impl Into<String>) -> ConfigError {
        let (at, line) = match key.and_then(|k| {
            self.entries
                .iter()
                .find(|(name, _)| *name == k)
                .map(|e| (k, e.1))
        }) {
            Some((k, node)) => (self.key_path(k), node.span.start.line()),
            None => (
                key.map_or_else(|| self.at.clone(), |k| self.key_path(k)),
                self.line,
            ),
        };
        ConfigError::new(self.file, message).at(at, Some(line))
    }

    /// Rejects the keys no reader asked for.
    pub(crate) fn finish(self) -> Result<(), ConfigError> {
        match self
            .entries
            .iter()
            .find(|(key, _)| !self.asked.contains(key))
        {
            None => Ok(()),
            Some((key, _)) => Err(self.error(
                Some(key),
                format!(
                    "unknown option `{key}`; expected one of {}",
                    quoted(&self.asked)
                ),
            )),
        }
    }

    fn take(&mut self, key: &'static str) -> Option<&'a MarkedYaml<'a>> {
        self.asked.push(key);
        let (_, node) = self.entries.iter().find(|(name, _)| *name == key)?;
        match node.data {
            YamlData::Value(Scalar::Null) => None,
            _ => Some(*node),
        }
    }

    fn expected(&self, key: &str, found: &MarkedYaml<'_>, expected: &str) -> ConfigError {
        self.error(
            Some(key),
            format!("expected {expected}, found {}", kind_of(found)),
        )
    }

    fn key_path(&self, key: &str) -> String {
        if self.at.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.at)
        }
    }
}

/// What kind of YAML node this is, in words, without its content.
fn kind_of(node: &MarkedYaml<'_>) -> &'static str {
    match &node.data {
        YamlData::Value(Scalar::Null) => "null",
        YamlData::Value(Scalar::Boolean(_)) => "a boolean",
        YamlData::Value(Scalar::Integer(_)) => "an integer",
        YamlData::Value(Scalar::FloatingPoint(_)) => "a number with a fraction",
        YamlData::Value(Scalar::String(_)) | YamlData::Representation(..) => "a string",
        YamlData::Sequence(_) => "a list",
        YamlData::Mapping(_) => "a mapping",
        YamlData::Tagged(..) => "a tagged value",
        YamlData::Alias(_) | YamlData::BadValue => "an invalid value",
    }
}

fn quoted(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Vec<MarkedYaml<'_>> {
        MarkedYaml::load_from_str(yaml).unwrap()
    }

    #[test]
    fn relative_paths_resolve_against_the_config_folder() {
        let docs = parse("path: secrets.enc.yaml\nabsolute: /etc/app/keys.txt\n");
        let base = Path::new("/srv/app/config");
        let mut section = Section::new(
            Path::new("/srv/app/config/c.yml"),
            base,
            String::new(),
            &docs[0],
        )
        .unwrap();
        assert_eq!(
            section.path("path").unwrap().unwrap(),
            Path::new("/srv/app/config/secrets.enc.yaml")
        );
        assert_eq!(
            section.path("absolute").unwrap().unwrap(),
            Path::new("/etc/app/keys.txt")
        );
        section.finish().unwrap();
    }

    #[test]
    fn nested_errors_name_the_key_path_and_line() {
        let docs = parse("cache:\n  max_documents: many\n");
        let file = Path::new("/c.yml");
        let mut top = Section::new(file, Path::new("/"), String::new(), &docs[0]).unwrap();
        let mut cache = top.section("cache").unwrap().unwrap();
        let err = cache.positive_integer("max_documents").unwrap_err();
        assert_eq!(err.key(), Some("cache.max_documents"));
        assert_eq!(err.line(), Some(2));
        assert_eq!(
            err.message(),
            "expected a whole number of at least 1, found a string"
        );
    }
}
