//! The options of one config mapping (a layer's, the cache's), read key by key, strictly: the
//! reader every kind uses, built-in or third-party.
//!
//! Every key a reader asks for is remembered, so that an option nobody asked for is an error
//! naming the file, the line and the key, with the options that were expected. Relative paths are
//! taken from the config file's folder. String options may hold references, expanded where they
//! stand:
//!
//! - `${env:NAME}`: the environment variable (unset is an error naming the variable);
//! - `${file:PATH}`: the file's content, one trailing line break removed, `PATH` relative to the
//!   config's folder (a token file such as a Vault agent's sink);
//! - `${secrets:NAME}`: the secret `NAME` resolved through the layers listed *before* the one
//!   being read (a passphrase from the keyring or from an earlier file);
//! - `$${` is a literal `${`.
//!
//! What a reference gives is a secret: it is expanded in buffers wiped on drop, and no error,
//! `Debug` or log line shows it (errors name the reference, never its value).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use saphyr::{MarkedYaml, Scalar, YamlData};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::bounded_read;
use crate::cache::DocumentCache;
use crate::error::{Attempt, ConfigError, Outcome};
use crate::plaintext::PlaintextBuffer;
use crate::provider::{Answer, Provider};
use crate::request::SecretRequest;

/// One mapping of a config file, read key by key.
///
/// A kind's factory gets the mapping of its layer (`- kind: ...` and its options) and reads its
/// options with these methods; the keys it never asks for are refused after it returns.
pub struct Options<'a> {
    file: &'a Path,
    base: &'a Path,
    at: String,
    line: usize,
    /// Each key, its value, and the line of the key (a block value starts on a later line).
    entries: Vec<(&'a str, &'a MarkedYaml<'a>, usize)>,
    asked: Vec<&'static str>,
    context: &'a Context<'a>,
}

/// What options are read within: the resolver's document cache and the layers built so far (for
/// `${secrets:...}`).
pub(crate) struct Context<'a> {
    pub(crate) cache: &'a Arc<DocumentCache>,
    pub(crate) earlier: &'a [Box<dyn Provider>],
}

impl<'a> Options<'a> {
    pub(crate) fn new(
        file: &'a Path,
        base: &'a Path,
        at: String,
        node: &'a MarkedYaml<'a>,
        context: &'a Context<'a>,
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
            entries.push((key_text.as_ref(), value, key.span.start.line()));
        }
        Ok(Self {
            file,
            base,
            at,
            line,
            entries,
            asked: Vec::new(),
            context,
        })
    }

    /// The text at `key`, if present (a null counts as absent), references expanded.
    ///
    /// For options that are not secrets (a prefix, a service name): the text is handed out as a
    /// plain `String`. Read a password or token with [`Options::secret`].
    pub fn string(&mut self, key: &'static str) -> Result<Option<String>, ConfigError> {
        Ok(self.secret(key)?.map(|mut text| std::mem::take(&mut *text)))
    }

    /// Like [`Options::string`], but an empty string is an error.
    pub fn non_empty_string(&mut self, key: &'static str) -> Result<Option<String>, ConfigError> {
        match self.string(key)? {
            Some(text) if text.is_empty() => Err(self.error(Some(key), "must not be empty")),
            other => Ok(other),
        }
    }

    /// The text at `key`, references expanded, in a buffer wiped on drop: for passwords, tokens
    /// and other secrets.
    pub fn secret(&mut self, key: &'static str) -> Result<Option<Zeroizing<String>>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(MarkedYaml {
                data: YamlData::Value(Scalar::String(text)),
                ..
            }) => self.expand(key, text).map(Some),
            Some(other) => Err(self.expected(key, other, "a string")),
        }
    }

    /// A file path at `key`, references expanded; a relative path is taken from the config file's
    /// folder.
    pub fn path(&mut self, key: &'static str) -> Result<Option<PathBuf>, ConfigError> {
        Ok(self.non_empty_string(key)?.map(|text| self.base.join(text)))
    }

    /// A whole number of at least 1 at `key`.
    pub fn positive_integer(&mut self, key: &'static str) -> Result<Option<usize>, ConfigError> {
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

    /// A whole number of at least 0 at `key` (ModelMesh's `cache_ttl_ms: 0`, "no reuse").
    pub fn whole_number(&mut self, key: &'static str) -> Result<Option<u64>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(MarkedYaml {
                data: YamlData::Value(Scalar::Integer(n)),
                ..
            }) => u64::try_from(*n)
                .map(Some)
                .map_err(|_| self.error(Some(key), "expected a whole number of at least 0")),
            Some(other) => Err(self.expected(key, other, "a whole number of at least 0")),
        }
    }

    /// The mapping at `key` of names to strings (the memory kind's `secrets:`), in the file's
    /// order; empty when `key` is absent. Each value is expanded like [`Options::secret`] (references such as `${env:X}`) into
    /// a buffer wiped on drop; a value that is not a string is an error naming its name. Names
    /// are taken as written.
    pub fn secret_map(
        &mut self,
        key: &'static str,
    ) -> Result<Vec<(String, Zeroizing<String>)>, ConfigError> {
        let Some(node) = self.take(key) else {
            return Ok(Vec::new());
        };
        let YamlData::Mapping(mapping) = &node.data else {
            return Err(self.expected(key, node, "a mapping of names to strings"));
        };
        mapping
            .iter()
            .map(|(name, value)| {
                let YamlData::Value(Scalar::String(name)) = &name.data else {
                    let found = kind_of(name);
                    return Err(
                        self.error(Some(key), format!("names must be strings, found {found}"))
                    );
                };
                let at = format!("{key}.{name}");
                match &value.data {
                    YamlData::Value(Scalar::String(text)) => {
                        Ok((name.to_string(), self.expand(&at, text)?))
                    }
                    _ => Err(self.error(
                        Some(&at),
                        format!(
                            "expected a string (quote numbers), found {}",
                            kind_of(value)
                        ),
                    )),
                }
            })
            .collect()
    }

    /// Accepts `key` with whatever value, unread: an option another tool's config may carry that
    /// this kind has no use for (ModelMesh's `secrets` on its file stores, which ModelMesh
    /// ignores too). Its references are not expanded.
    pub fn ignore(&mut self, key: &'static str) {
        self.take(key);
    }

    /// `true` or `false` at `key`.
    pub fn boolean(&mut self, key: &'static str) -> Result<Option<bool>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(MarkedYaml {
                data: YamlData::Value(Scalar::Boolean(b)),
                ..
            }) => Ok(Some(*b)),
            Some(other) => Err(self.expected(key, other, "true or false")),
        }
    }

    /// A list of strings at `key` (references expanded in each), if present.
    pub fn string_list(&mut self, key: &'static str) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(items) = self.list(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|item| match &item.data {
                YamlData::Value(Scalar::String(text)) => self
                    .expand(key, text)
                    .map(|mut text| std::mem::take(&mut *text)),
                _ => Err(self.expected(key, item, "a list of strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The nested mapping at `key`, if present.
    pub fn section(&mut self, key: &'static str) -> Result<Option<Options<'a>>, ConfigError> {
        let at = self.key_path(key);
        self.take(key)
            .map(|node| Options::new(self.file, self.base, at, node, self.context))
            .transpose()
    }

    /// The resolver's cache of decrypted documents, for layers that read encrypted files.
    pub fn document_cache(&self) -> Arc<DocumentCache> {
        Arc::clone(self.context.cache)
    }

    /// The config file.
    pub fn file(&self) -> &Path {
        self.file
    }

    /// An error about `key` in this mapping (or about the mapping itself), naming the file, the
    /// line and the key's path (`providers[2].path`).
    pub fn error(&self, key: Option<&str>, message: impl Into<String>) -> ConfigError {
        let (at, line) = match key.and_then(|k| {
            self.entries
                .iter()
                .find(|(name, ..)| *name == k)
                .map(|e| (k, e.2))
        }) {
            Some((k, line)) => (self.key_path(k), line),
            None => (
                key.map_or_else(|| self.at.clone(), |k| self.key_path(k)),
                self.line,
            ),
        };
        ConfigError::new(self.file, message).at(at, Some(line))
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

    /// The mapping at position `index` of the list at `key`, read within `context`.
    pub(crate) fn item<'c>(
        &self,
        key: &str,
        index: usize,
        node: &'a MarkedYaml<'a>,
        context: &'c Context<'c>,
    ) -> Result<Options<'c>, ConfigError>
    where
        'a: 'c,
    {
        Options::new(
            self.file,
            self.base,
            format!("{}[{index}]", self.key_path(key)),
            node,
            context,
        )
    }

    /// The text at `key` as written, without expanding references (a layer's `kind`).
    pub(crate) fn literal(&mut self, key: &'static str) -> Result<Option<&'a str>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(MarkedYaml {
                data: YamlData::Value(Scalar::String(text)),
                ..
            }) if text.is_empty() => Err(self.error(Some(key), "must not be empty")),
            Some(MarkedYaml {
                data: YamlData::Value(Scalar::String(text)),
                ..
            }) => Ok(Some(text.as_ref())),
            Some(other) => Err(self.expected(key, other, "a string")),
        }
    }

    /// Rejects the keys no reader asked for.
    pub(crate) fn finish(self) -> Result<(), ConfigError> {
        match self
            .entries
            .iter()
            .find(|(key, ..)| !self.asked.contains(key))
        {
            None => Ok(()),
            Some((key, ..)) => Err(self.error(
                Some(key),
                format!(
                    "unknown option `{key}`; expected one of {}",
                    quoted(&self.asked)
                ),
            )),
        }
    }

    /// `text` with its references replaced by what they name, built in a wiped buffer.
    fn expand(&self, key: &str, text: &str) -> Result<Zeroizing<String>, ConfigError> {
        let mut out = PlaintextBuffer::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.extend_from_slice(&rest.as_bytes()[..at]);
            rest = &rest[at..];
            if let Some(after) = rest.strip_prefix("$${") {
                out.extend_from_slice(b"${");
                rest = after;
            } else if let Some(after) = rest.strip_prefix("${") {
                let end = after.find('}').ok_or_else(|| {
                    self.error(
                        Some(key),
                        "a reference `${` is not closed by `}`; write `$${` for a literal `${`",
                    )
                })?;
                let reference = &after[..end];
                let value = self.resolve(key, reference)?;
                out.extend_from_slice(value.as_bytes());
                rest = &after[end + 1..];
            } else {
                out.push(b'$');
                rest = &rest[1..];
            }
        }
        out.extend_from_slice(rest.as_bytes());
        let mut bytes: Zeroizing<Vec<u8>> = out.into();
        // Every piece was UTF-8 (checked as it was resolved), so this takes the allocation as it
        // is; the fallback cannot happen and copies nothing.
        Ok(Zeroizing::new(
            String::from_utf8(std::mem::take(&mut *bytes)).unwrap_or_default(),
        ))
    }

    /// What one reference (`scheme:argument`, between `${` and `}`) names.
    fn resolve(&self, key: &str, reference: &str) -> Result<Zeroizing<String>, ConfigError> {
        let fail =
            |message: String| self.error(Some(key), format!("`${{{reference}}}`: {message}"));
        let Some((scheme, argument)) = reference.split_once(':') else {
            return Err(fail(
                "a reference is `${env:NAME}`, `${file:PATH}` or `${secrets:NAME}`".into(),
            ));
        };
        if argument.is_empty() {
            return Err(fail(format!("`{scheme}:` needs a name after the colon")));
        }
        match scheme {
            "env" => match std::env::var_os(argument) {
                None => Err(fail(format!(
                    "the environment variable {argument} is not set"
                ))),
                Some(value) => value.into_string().map(Zeroizing::new).map_err(|value| {
                    drop(Zeroizing::new(value.into_encoded_bytes()));
                    fail(format!("the environment variable {argument} is not UTF-8"))
                }),
            },
            "file" => {
                let path = self.base.join(argument);
                let mut bytes =
                    bounded_read::file(&path, MAX_REFERENCED_FILE_BYTES).map_err(|e| {
                        fail(format!("cannot read {}: {e}", path.display())).caused_by(e)
                    })?;
                if bytes.ends_with(b"\n") {
                    bytes.pop();
                    if bytes.ends_with(b"\r") {
                        bytes.pop();
                    }
                }
                String::from_utf8(std::mem::take(&mut *bytes))
                    .map(Zeroizing::new)
                    .map_err(|e| {
                        drop(Zeroizing::new(e.into_bytes()));
                        fail(format!("{} is not UTF-8", path.display()))
                    })
            }
            "secrets" => self.secret_from_earlier_layers(argument, &fail),
            other => Err(fail(format!(
                "unknown reference scheme `{other}`; expected env, file or secrets"
            ))),
        }
    }

    /// `${secrets:NAME}`: the first answer of the layers listed before this one.
    fn secret_from_earlier_layers(
        &self,
        name: &str,
        fail: &dyn Fn(String) -> ConfigError,
    ) -> Result<Zeroizing<String>, ConfigError> {
        let request = SecretRequest::new(name);
        if let Err(error) = request.check() {
            return Err(fail(error.to_string()));
        }
        let mut tried = Vec::new();
        for layer in self.context.earlier {
            let (outcome, reason) = match layer.fetch(&request) {
                Ok(Answer::Hit(record)) => {
                    return Ok(Zeroizing::new(record.expose_secret().to_owned()));
                }
                Ok(Answer::Miss(reason)) => (Outcome::Missed, reason),
                Ok(Answer::Unavailable(reason)) => (Outcome::Unavailable, reason),
                Err(error) => {
                    return Err(fail(format!("layer `{}` failed: {error}", layer.label())));
                }
            };
            tried.push(Attempt {
                layer: layer.label().to_owned(),
                outcome,
                reason: reason.explain(&**layer, &request),
            });
        }
        Err(fail(if tried.is_empty() {
            "no layer is listed before this one to resolve it from; list the layer that holds \
             it first"
                .to_owned()
        } else {
            format!(
                "not found in the layers listed before this one: {}",
                tried
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }))
    }

    fn take(&mut self, key: &'static str) -> Option<&'a MarkedYaml<'a>> {
        self.asked.push(key);
        let (_, node, _) = self.entries.iter().find(|(name, ..)| *name == key)?;
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

/// `` `a`, `b` ``: words as a list in a message.
pub(crate) fn quoted(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A file named by `${file:...}` holds a token or a password: larger ones are refused.
const MAX_REFERENCED_FILE_BYTES: u64 = 1 << 20;
