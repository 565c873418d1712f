//! `kind: json`: a plain (unencrypted) JSON file of secrets.
//!
//! Options: `path` (required; relative to the config file's folder), `json_path` (the dotted path
//! of the object that holds the secrets, `secrets.production`; default the whole file) and
//! `cache_ttl_ms` (default off). Under ModelMesh's id `modelmesh.json-secrets.v1`: `file_path`
//! (required here), `json_path`, `secrets` (ignored, as ModelMesh ignores it) and ModelMesh's
//! common options ([`super::modelmesh`]).
//!
//! A request maps to a path inside the object at `json_path`, as in a SOPS file: the key path if
//! given, else the scope's and the name's dotted segments; a numeric segment indexes a list
//! (`replicas.1.token`), `with_key_path(["hosts", "db.internal"])` reaches keys with dots. Values
//! come back as the SOPS layer hands them out (they share the parser and the conversion): strings
//! as they are, other scalars as text (`8080`, `true`, `0.125`), maps and lists as compact JSON; a
//! `null` is a miss. Unlike sops, which reads every JSON number as a float, whole numbers within
//! the 64-bit range are kept exactly (`12345678901234567890`). Under ModelMesh's id a segment only ever names an object's key (ModelMesh has
//! no list indexes: `arr.0` is a miss).
//!
//! A file that does not exist is *unavailable* (skipped, named in `NotFound`). One that exists but
//! cannot be read or is not a JSON object (a syntax error, a duplicated key, a top level that is
//! not an object) is an [`Error::Provider`] at the first lookup, naming the file and the line: the
//! chain stops (exit 3) and never reads a broken file as empty. A `json_path` that leads to no
//! object is a miss for every name, and says so. The file is parsed once and again whenever it
//! changes (one `stat` per lookup); with `cache_ttl_ms` a found value is kept that long without
//! looking at the file, and so outlives a change of it (a miss is never kept).
//!
//! The layer is read-only: no [`crate::Management`], since rewriting a file would lose its
//! layout.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::cache::ParsedFile;
use crate::check::Check;
use crate::error::{ConfigError, Error};
use crate::options::Options;
use crate::provider::{Answer, Provider, Reason};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::SecretRequest;
use crate::sops::Lookup;
use crate::sops::stores::ParseError;
use crate::sops::stores::json::{self, Numbers};
use crate::sops::tree::Node;
use crate::value_cache::ValueCache;

use super::modelmesh::common_options;

/// Reads secrets from one JSON file.
pub struct JsonProvider {
    label: String,
    file: ParsedFile<Node>,
    json_path: Vec<String>,
    list_indexes: bool,
    cache: Option<ValueCache>,
}

impl JsonProvider {
    /// A layer for the file at `path`, its whole object, list indexes allowed, no value cache.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        Self {
            label: format!("json:{}", path.display()),
            file: ParsedFile::new(path),
            json_path: Vec::new(),
            list_indexes: true,
            cache: None,
        }
    }

    /// Looks names up in the object at the dotted `json_path` (`secrets.production`); an empty
    /// one is the whole file.
    pub fn with_json_path(mut self, json_path: &str) -> Self {
        self.json_path = match json_path {
            "" => Vec::new(),
            dotted => dotted.split('.').map(str::to_owned).collect(),
        };
        self
    }

    /// Keeps found values for `ttl` (a zero `ttl` keeps nothing).
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache = ValueCache::for_ttl(ttl);
        self
    }

    /// The file this layer reads.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The layer a config mapping describes (`kind: json`).
    pub fn from_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let Some(path) = options.path("path")? else {
            return Err(options.error(None, "missing `path`: the JSON file to read"));
        };
        let mut provider = Self::new(path).with_json_path(&json_path(options)?);
        if let Some(ms) = options.positive_integer("cache_ttl_ms")? {
            provider = provider.with_cache_ttl(Duration::from_millis(ms as u64));
        }
        Ok(provider)
    }

    /// The layer a ModelMesh config describes (`modelmesh.json-secrets.v1`): `file_path`,
    /// `json_path`, the common options, and ModelMesh's lookup (no list indexes).
    pub fn from_modelmesh_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let Some(path) = options.path("file_path")? else {
            return Err(options.error(None, "missing `file_path`: the JSON file to read"));
        };
        let mut provider = Self::new(path).with_json_path(&json_path(options)?);
        provider.list_indexes = false;
        options.ignore("secrets");
        provider.cache = common_options(options)?;
        Ok(provider)
    }

    fn root(&self) -> Result<Option<Arc<Node>>, Error> {
        self.file
            .get(MAX_FILE_BYTES, parse)
            .map_err(|e| e.into_error(&self.label, self.file.path()))
    }

    /// The node at `path` below `node`: keys of objects and, where allowed, indexes of lists.
    fn walk<'n, 's>(
        &self,
        node: &'n Node,
        path: impl IntoIterator<Item = &'s str>,
    ) -> Option<&'n Node> {
        if self.list_indexes {
            node.at(path)
        } else {
            path.into_iter().try_fold(node, |node, key| node.get(key))
        }
    }

    /// The object `json_path` names in `root`, if it is one.
    fn scope<'n>(&self, root: &'n Node) -> Option<&'n Node> {
        let object = self.walk(root, self.json_path.iter().map(String::as_str))?;
        matches!(object, Node::Map(_)).then_some(object)
    }

    fn hit(&self, value: SecretString, key: &str) -> Answer {
        let metadata = Metadata::new()
            .with("path", self.file.path().display().to_string())
            .with("key", key);
        Answer::Hit(SecretRecord::new(value, SecretSource::Json, metadata))
    }
}

impl Provider for JsonProvider {
    fn label(&self) -> &str {
        &self.label
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        let path = request.document_path();
        // Segments joined by a separator no key is expected to hold, so that `["a.b"]` and
        // `["a", "b"]` are cached apart.
        let cached = self
            .cache
            .as_ref()
            .map(|cache| (cache, path.join("\u{1f}")));
        if let Some(value) = cached.as_ref().and_then(|(cache, id)| cache.get(id)) {
            return Ok(self.hit(value, request.document_key()));
        }
        let Some(root) = self.root()? else {
            return Ok(Answer::Unavailable(Reason::deferred()));
        };
        let Some(object) = self.scope(&root) else {
            return Ok(Answer::Miss(Reason::deferred()));
        };
        let Lookup::Value(value) = Lookup::of(self.walk(object, path.iter().copied())) else {
            return Ok(Answer::Miss(Reason::deferred()));
        };
        // serde_json only hands out valid UTF-8, and the rest is our own text.
        let value = SecretString::from(String::from_utf8_lossy(&value).as_ref());
        if let Some((cache, id)) = &cached {
            cache.put(id, &value, None);
        }
        Ok(self.hit(value, request.document_key()))
    }

    fn explain(&self, request: &SecretRequest) -> String {
        let file = self.file.path().display();
        let root = match self.root() {
            Ok(Some(root)) => root,
            Ok(None) => return format!("{file} does not exist"),
            Err(error) => return error.to_string(),
        };
        if self.scope(&root).is_none() {
            let json_path = self.json_path.join(".");
            return format!("`json_path` {json_path} is not an object in {file}");
        }
        format!("no `{}` in {file}", request.document_key())
    }

    fn diagnose(&self) -> Vec<Check> {
        let missing = format!("{} does not exist", self.file.path().display());
        self.file
            .checks(MAX_FILE_BYTES, parse, Check::fail("file", missing))
    }
}

impl fmt::Debug for JsonProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonProvider")
            .field("path", &self.file.path())
            .field("json_path", &self.json_path)
            .field("list_indexes", &self.list_indexes)
            .field("cache", &self.cache)
            .finish()
    }
}

/// `json_path`: dotted, without empty segments (`a..b`), or empty for the whole file.
fn json_path(options: &mut Options<'_>) -> Result<String, ConfigError> {
    let json_path = options.string("json_path")?.unwrap_or_default();
    if !json_path.is_empty() && json_path.split('.').any(str::is_empty) {
        return Err(options.error(
            Some("json_path"),
            "has an empty segment; write a dotted path such as `secrets.production`",
        ));
    }
    Ok(json_path)
}

/// The file's object, whole numbers read exactly. A UTF-8 byte order mark is skipped (serde_json
/// refuses it).
fn parse(bytes: &[u8]) -> Result<Node, ParseError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match json::parse_with(bytes, Numbers::Exact)? {
        object @ Node::Map(_) => Ok(object),
        _ => Err(ParseError::NotAMap),
    }
}

/// Larger files are refused before parsing: a file of secrets this size is a mistake.
const MAX_FILE_BYTES: u64 = 16 << 20;
