//! `secret_cascade._native`: the resolver of the `secret-cascade` crate for Python.
//!
//! The Python package (`python/secret_cascade/`) re-exports these classes and adds what is plain
//! Python: the exception classes (`errors.py`, raised from here), `sensitive()`, and the kstlib
//! look-alike module. Every resolution runs with the GIL released, so a cold decryption or a
//! server round trip does not stop the other Python threads.
//!
//! Values reach Python only as `str`, made from the Rust buffer when `SecretRecord.value` is
//! read. Python cannot wipe a `str`; the Rust buffer is wiped by `SecretRecord.wipe()` (what
//! `sensitive()` calls on exit) or when the record is garbage-collected.

#![deny(missing_docs)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use secret_cascade::{
    DocumentCache, Error, ExposeSecret, Outcome, SecretRequest, SensitiveGuard, config,
};

/// A resolver: an ordered chain of layers built from a config file, or the process-wide one.
#[pyclass(module = "secret_cascade", name = "Resolver", frozen)]
struct Resolver {
    inner: Shared,
}

/// A resolver of this module's own, or the library's process-wide one (built once, never freed).
enum Shared {
    Owned(Arc<secret_cascade::Resolver>),
    ProcessWide(&'static secret_cascade::Resolver),
}

#[pymethods]
impl Resolver {
    /// The resolver a config file describes (see the crate's docs/config.md).
    #[staticmethod]
    fn from_config_file(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let built = py.detach(|| secret_cascade::Resolver::from_config_file(&path));
        Ok(Self::owned(built.map_err(|e| to_python(py, e))?))
    }

    /// The resolver of the discovered config file (`SECRET_CASCADE_CONFIG`,
    /// `./secret-cascade.yml`, `$XDG_CONFIG_HOME/secret-cascade/config.yml`), else the environment.
    #[staticmethod]
    fn discover(py: Python<'_>) -> PyResult<Self> {
        let built = py.detach(secret_cascade::Resolver::discover);
        Ok(Self::owned(built.map_err(|e| to_python(py, e))?))
    }

    /// The first layer's answer, else `default`, else `SecretNotFoundError`.
    #[pyo3(signature = (name, scope=None, default=None, key_path=None))]
    fn resolve(
        &self,
        py: Python<'_>,
        name: String,
        scope: Option<String>,
        default: Option<String>,
        key_path: Option<Vec<String>>,
    ) -> PyResult<SecretRecord> {
        let request = request(name, scope, default, key_path);
        self.detached(py, |resolver| resolver.resolve(&request))
    }

    /// Like `resolve`, but `None` when no layer has the name and there is no default.
    #[pyo3(signature = (name, scope=None, default=None, key_path=None))]
    fn lookup(
        &self,
        py: Python<'_>,
        name: String,
        scope: Option<String>,
        default: Option<String>,
        key_path: Option<Vec<String>>,
    ) -> PyResult<Option<SecretRecord>> {
        let request = request(name, scope, default, key_path);
        self.detached(py, |resolver| resolver.lookup(&request))
    }

    /// Drops decrypted documents from the cache: the one of `path`, or all of them.
    #[pyo3(signature = (path=None))]
    fn purge_cache(&self, path: Option<PathBuf>) {
        let cache = self.get().document_cache();
        match path {
            // The cache is keyed by canonical path; a file that is gone has no entry to drop.
            Some(path) => {
                if let Ok(canonical) = path.canonicalize() {
                    cache.purge(&canonical);
                }
            }
            None => cache.purge_all(),
        }
    }

    /// How many decrypted documents the cache holds now.
    #[getter]
    fn cached_documents(&self) -> usize {
        self.get().document_cache().len()
    }

    /// The resolver's name, shown in errors.
    #[getter]
    fn name(&self) -> &str {
        self.get().name()
    }

    /// The labels of the layers, in the order they are asked.
    #[getter]
    fn layers(&self) -> Vec<String> {
        self.get().layers().map(str::to_owned).collect()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Resolver(name={}, layers={})",
            PyString::new(py, self.name()).repr()?,
            PyList::new(py, self.layers())?.repr()?
        ))
    }
}

impl Resolver {
    fn owned(resolver: secret_cascade::Resolver) -> Self {
        Self {
            inner: Shared::Owned(Arc::new(resolver)),
        }
    }

    /// Runs `resolve` with the GIL released (other Python threads run meanwhile), and turns what
    /// it found into Python records.
    fn detached<T: IntoRecords + Send>(
        &self,
        py: Python<'_>,
        resolve: impl FnOnce(&secret_cascade::Resolver) -> Result<T, Error> + Send,
    ) -> PyResult<T::Python> {
        let resolver = self.get();
        match py.detach(|| resolve(resolver)) {
            Ok(found) => Ok(found.into_records(resolver)),
            Err(error) => Err(to_python(py, error)),
        }
    }

    fn get(&self) -> &secret_cascade::Resolver {
        match &self.inner {
            Shared::Owned(resolver) => resolver,
            Shared::ProcessWide(resolver) => resolver,
        }
    }
}

/// A resolved secret: where it came from (`source`, `metadata`) and its value until wiped.
#[pyclass(module = "secret_cascade", name = "SecretRecord", frozen)]
struct SecretRecord {
    source: &'static str,
    metadata: Vec<(&'static str, String)>,
    /// `None` once wiped.
    value: Mutex<Option<secret_cascade::SecretRecord>>,
    /// The resolver's document cache, for `wipe(purge_cache=True)`.
    cache: Arc<DocumentCache>,
}

#[pymethods]
impl SecretRecord {
    /// The kind of layer that answered: `override`, `env`, `keyring`, `sops`, `default`, ...
    #[getter]
    fn source(&self) -> &'static str {
        self.source
    }

    /// How the layer found it (`path`, `key`, `variable`, ...): a new dict on each read.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (key, value) in &self.metadata {
            dict.set_item(key, value)?;
        }
        Ok(dict)
    }

    /// The value as a new `str` (which Python cannot wipe), or `None` once wiped.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        let value = self.locked();
        value
            .as_ref()
            .map(|record| PyString::new(py, record.expose_secret()))
    }

    /// Whether `wipe()` has run.
    #[getter]
    fn wiped(&self) -> bool {
        self.locked().is_none()
    }

    /// Zeroizes the Rust buffer holding the value and forgets it; with `purge_cache`, also drops
    /// the decrypted document it came from (a SOPS file's) from the resolver's cache.
    #[pyo3(signature = (purge_cache=false))]
    fn wipe(&self, purge_cache: bool) {
        if let Some(record) = self.locked().take() {
            let guard = SensitiveGuard::new(record);
            let guard = if purge_cache {
                guard.purging(Arc::clone(&self.cache))
            } else {
                guard
            };
            drop(guard);
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let value = if self.wiped() { "<wiped>" } else { "<hidden>" };
        Ok(format!(
            "SecretRecord(source={}, metadata={}, value={value})",
            PyString::new(py, self.source).repr()?,
            self.metadata(py)?.repr()?
        ))
    }
}

impl SecretRecord {
    fn new(record: secret_cascade::SecretRecord, resolver: &secret_cascade::Resolver) -> Self {
        Self {
            source: record.source().as_str(),
            metadata: record
                .metadata()
                .iter()
                .map(|(key, value)| (key, value.to_owned()))
                .collect(),
            value: Mutex::new(Some(record)),
            cache: Arc::clone(resolver.document_cache()),
        }
    }

    fn locked(&self) -> MutexGuard<'_, Option<secret_cascade::SecretRecord>> {
        // A panic while holding the lock cannot leave the Option half-written.
        self.value
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What `resolve` (a record) and `lookup` (maybe a record) find, as Python records.
trait IntoRecords {
    /// The Python side: a record, or maybe one.
    type Python;
    /// Wraps what was found, with the resolver's document cache.
    fn into_records(self, resolver: &secret_cascade::Resolver) -> Self::Python;
}

impl IntoRecords for secret_cascade::SecretRecord {
    type Python = SecretRecord;
    fn into_records(self, resolver: &secret_cascade::Resolver) -> SecretRecord {
        SecretRecord::new(self, resolver)
    }
}

impl IntoRecords for Option<secret_cascade::SecretRecord> {
    type Python = Option<SecretRecord>;
    fn into_records(self, resolver: &secret_cascade::Resolver) -> Option<SecretRecord> {
        self.map(|record| SecretRecord::new(record, resolver))
    }
}

/// The process-wide resolver: built on first use from the discovered config, then kept.
#[pyfunction]
fn get_resolver(py: Python<'_>) -> PyResult<Resolver> {
    let resolver = py.detach(config::global).map_err(|e| to_python(py, e))?;
    Ok(Resolver {
        inner: Shared::ProcessWide(resolver),
    })
}

/// `get_resolver().resolve(...)`.
#[pyfunction]
#[pyo3(signature = (name, scope=None, default=None, key_path=None))]
fn resolve_secret(
    py: Python<'_>,
    name: String,
    scope: Option<String>,
    default: Option<String>,
    key_path: Option<Vec<String>>,
) -> PyResult<SecretRecord> {
    get_resolver(py)?.resolve(py, name, scope, default, key_path)
}

fn request(
    name: String,
    scope: Option<String>,
    default: Option<String>,
    key_path: Option<Vec<String>>,
) -> SecretRequest {
    let mut request = SecretRequest::new(name);
    if let Some(scope) = scope {
        request = request.with_scope(scope);
    }
    if let Some(default) = default {
        request = request.with_default(default);
    }
    if let Some(key_path) = key_path {
        request = request.with_key_path(key_path);
    }
    request
}

/// The exception of `secret_cascade.errors` for `error`, with what the Rust error carries as
/// attributes. The message is the Rust error's, which never contains a value.
fn to_python(py: Python<'_>, error: Error) -> PyErr {
    match exception(py, &error) {
        Ok(exception) => PyErr::from_value(exception),
        Err(failed) => failed,
    }
}

fn exception<'py>(py: Python<'py>, error: &Error) -> PyResult<Bound<'py, PyAny>> {
    let details = PyDict::new(py);
    let class = match error {
        Error::NotFound {
            name,
            resolver,
            tried,
        } => {
            details.set_item("name", name)?;
            details.set_item("resolver", resolver)?;
            let tried: Vec<(&str, &str, &str)> = tried
                .iter()
                .map(|attempt| {
                    let outcome = match attempt.outcome {
                        Outcome::Missed => "missed",
                        Outcome::Unavailable => "unavailable",
                        _ => "other",
                    };
                    (attempt.layer.as_str(), outcome, attempt.reason.as_str())
                })
                .collect();
            details.set_item("tried", tried)?;
            "SecretNotFoundError"
        }
        Error::Config(config) => {
            details.set_item("file", config.file())?;
            details.set_item("key", config.key())?;
            details.set_item("line", config.line())?;
            details.set_item("reason", config.message())?;
            "ConfigError"
        }
        Error::Decryption { file, reason } => {
            details.set_item("file", file)?;
            details.set_item("reason", reason.to_string())?;
            "SecretDecryptionError"
        }
        // A layer that is present but broken stops the chain as a decryption failure does (the
        // command-line tool's exit 3 for both).
        Error::Provider { layer, reason, .. } => {
            details.set_item("layer", layer)?;
            details.set_item("reason", reason)?;
            "SecretDecryptionError"
        }
        Error::Denied { layer, reason } => {
            details.set_item("layer", layer)?;
            details.set_item("reason", reason)?;
            "AccessDeniedError"
        }
        Error::Unavailable { layer, reason } => {
            details.set_item("layer", layer)?;
            details.set_item("reason", reason)?;
            "UnavailableError"
        }
        Error::InvalidRequest { reason } => {
            details.set_item("reason", reason)?;
            "InvalidRequestError"
        }
        _ => "SecretError",
    };
    py.import("secret_cascade.errors")?
        .getattr(class)?
        .call((error.to_string(),), Some(&details))
}

/// In a child made by `os.fork()` (a pre-forking server's worker), the thread that reads file
/// watches does not exist: SOPS layers check their files with `stat` there instead.
#[pyfunction]
fn _stop_watching_after_fork() {
    secret_cascade::stop_watching();
}

/// The native half of the `secret_cascade` package.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Resolver>()?;
    module.add_class::<SecretRecord>()?;
    module.add_function(wrap_pyfunction!(get_resolver, module)?)?;
    module.add_function(wrap_pyfunction!(resolve_secret, module)?)?;
    let after_fork = wrap_pyfunction!(_stop_watching_after_fork, module)?;
    let kwargs = pyo3::types::PyDict::new(module.py());
    kwargs.set_item("after_in_child", after_fork)?;
    module
        .py()
        .import("os")?
        .call_method("register_at_fork", (), Some(&kwargs))?;
    Ok(())
}
