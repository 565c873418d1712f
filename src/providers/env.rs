//! `kind: env`: environment variables.
//!
//! Options: `prefix` (default: none) and `delimiter` (default `__`).
//!
//! A request maps to one variable: the prefix, then the scope's segments, then the name's
//! segments (dots split both), joined with the delimiter; `-` becomes `_` and ASCII letters are
//! upper-cased. Scope `mail`, name `smtp.password`, prefix `MYAPP` gives
//! `MYAPP__MAIL__SMTP__PASSWORD`. `prefix: KSTLIB` reproduces kstlib's names for names without
//! hyphens.
//!
//! A variable that is set is a hit, even when empty. One that is not set is a miss. One that is set
//! but not valid UTF-8 is an error ([`crate::Error::Provider`]): the layer is present but its
//! value is unusable, so the chain stops. This layer is never unavailable.
//!
//! The process environment itself keeps its copy of the value; only the copy made here is wiped.

use secrecy::SecretString;
use smallvec::SmallVec;
use zeroize::Zeroizing;

use crate::check::Check;
use crate::error::ConfigError;
use crate::error::Error;
use crate::options::Options;
use crate::provider::{Answer, Provider, Reason};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::SecretRequest;

/// Reads secrets from environment variables.
#[derive(Debug, Clone)]
pub struct EnvProvider {
    prefix: Option<String>,
    delimiter: String,
    /// ModelMesh's names: the prefix and the name joined as given, nothing translated.
    verbatim_names: bool,
    /// kstlib's names: `-` kept as is instead of becoming `_`.
    keep_hyphens: bool,
}

impl EnvProvider {
    /// The delimiter used when none is configured.
    pub const DEFAULT_DELIMITER: &'static str = "__";

    /// No prefix, delimiter `__`.
    pub fn new() -> Self {
        Self {
            prefix: None,
            delimiter: Self::DEFAULT_DELIMITER.to_owned(),
            verbatim_names: false,
            keep_hyphens: false,
        }
    }

    /// Puts `prefix` before every variable name (`MYAPP` in `MYAPP__DB__PASSWORD`). An empty
    /// prefix means none.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into()).filter(|p: &String| !p.is_empty());
        self
    }

    /// Joins the parts of a variable name with `delimiter` instead of `__`.
    pub fn with_delimiter(mut self, delimiter: impl Into<String>) -> Self {
        self.delimiter = delimiter.into();
        self
    }

    /// Names variables as ModelMesh's env store does: the prefix, then the name (`scope.name`
    /// with a scope) exactly as given, with no delimiter, no case change, nothing translated
    /// (`prefix: MM_`, name `openai` reads `MM_openai`).
    pub fn with_verbatim_names(mut self) -> Self {
        self.verbatim_names = true;
        self
    }

    /// Keeps `-` in names as kstlib does (`KSTLIB__SMTP-HOST`) instead of mapping it to `_`.
    /// Such a variable cannot be set by a POSIX shell's `export`, but `env` and other programs
    /// can set it; used for kstlib's own config files only.
    pub fn with_hyphens_kept(mut self) -> Self {
        self.keep_hyphens = true;
        self
    }

    /// `kind: modelmesh.env.v1`: ModelMesh's option `prefix` (default none), with ModelMesh's
    /// variable names.
    pub fn from_modelmesh_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let prefix = options.string("prefix")?.unwrap_or_default();
        Ok(Self::new().with_prefix(prefix).with_verbatim_names())
    }

    /// The variable a request maps to.
    pub fn variable_name(&self, request: &SecretRequest) -> String {
        let mut variable = NameBuffer::new();
        self.write_variable_name(request, &mut variable);
        name_text(&variable).to_owned()
    }

    /// Writes the variable a request maps to into `variable`: on the stack for the usual names,
    /// so that a miss allocates nothing.
    fn write_variable_name(&self, request: &SecretRequest, variable: &mut NameBuffer) {
        let prefix = self.prefix.as_deref().unwrap_or_default();
        if self.verbatim_names {
            variable.extend_from_slice(prefix.as_bytes());
            if let Some(scope) = request.scope() {
                variable.extend_from_slice(scope.as_bytes());
                variable.push(b'.');
            }
            variable.extend_from_slice(request.name().as_bytes());
            return;
        }
        let delimiter = self.delimiter.as_bytes();
        let parts = self
            .prefix
            .iter()
            .map(String::as_str)
            .chain(request.scope())
            .chain([request.name()]);
        for (i, part) in parts.enumerate() {
            if i > 0 {
                variable.extend_from_slice(delimiter);
            }
            push_segments(variable, part.as_bytes(), delimiter, self.keep_hyphens);
        }
    }

    /// The layer a config mapping describes (its `kind` registered under this kind's name).
    pub fn from_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let mut provider = Self::new();
        if let Some(prefix) = options.string("prefix")? {
            provider = provider.with_prefix(prefix);
        }
        if let Some(delimiter) = options.non_empty_string("delimiter")? {
            provider = provider.with_delimiter(delimiter);
        }
        Ok(provider)
    }
}

/// Appends the dot-separated segments of `part` joined by `delimiter`, each with `-` replaced by
/// `_` (unless `keep_hyphens`) and ASCII letters upper-cased. Copy-then-transform in place is several times cheaper than
/// pushing byte by byte, on a path every env lookup takes.
fn push_segments(variable: &mut NameBuffer, part: &[u8], delimiter: &[u8], keep_hyphens: bool) {
    let mut rest = part;
    loop {
        let end = rest
            .iter()
            .position(|&byte| byte == b'.')
            .unwrap_or(rest.len());
        let (segment, tail) = rest.split_at(end);
        let start = variable.len();
        variable.extend_from_slice(segment);
        for byte in &mut variable[start..] {
            *byte = if *byte == b'-' && !keep_hyphens {
                b'_'
            } else {
                byte.to_ascii_uppercase()
            };
        }
        let Some((_dot, after)) = tail.split_first() else {
            return;
        };
        variable.extend_from_slice(delimiter);
        rest = after;
    }
}

impl Default for EnvProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl Provider for EnvProvider {
    fn label(&self) -> &str {
        "env"
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        let mut variable = NameBuffer::new();
        self.write_variable_name(request, &mut variable);
        let variable = name_text(&variable);
        Ok(match read_variable(variable, self.label())? {
            Some(value) => Answer::Hit(SecretRecord::new(
                value,
                SecretSource::Env,
                Metadata::new().with("variable", variable.to_owned()),
            )),
            None => Answer::Miss(Reason::deferred()),
        })
    }

    fn explain(&self, request: &SecretRequest) -> String {
        format!("{} is not set", self.variable_name(request))
    }

    /// Counts the variables that start with the prefix (names only; no value is read). None is
    /// a warning: the prefix is probably misspelt. Without a prefix, every variable is consulted.
    fn diagnose(&self) -> Vec<Check> {
        let Some(prefix) = &self.prefix else {
            return vec![Check::ok(
                "variables",
                format!(
                    "no prefix: every variable is consulted ({} set)",
                    std::env::vars_os().count()
                ),
            )];
        };
        // The prefix is mapped like the rest of a name: `my-app` is looked up as `MY_APP__`
        // (ModelMesh's names take it as it is).
        let mut start = NameBuffer::new();
        if self.verbatim_names {
            start.extend_from_slice(prefix.as_bytes());
        } else {
            push_segments(
                &mut start,
                prefix.as_bytes(),
                self.delimiter.as_bytes(),
                self.keep_hyphens,
            );
            start.extend_from_slice(self.delimiter.as_bytes());
        }
        let found = std::env::vars_os()
            .filter(|(name, _)| name.as_encoded_bytes().starts_with(&start))
            .count();
        let start = String::from_utf8_lossy(&start);
        // None yet is normal (a deployment sets them to override later layers): not a warning.
        let message = match found {
            0 => format!("no variable starts with {start} yet; set one to answer from here"),
            1 => format!("1 variable starts with {start}"),
            n => format!("{n} variables start with {start}"),
        };
        vec![Check::ok("variables", message)]
    }
}

/// The value of the environment variable `variable`, `None` when it is not set; one that is set
/// but not UTF-8 is an [`Error::Provider`] of `layer`. Shared with the dotenv layer, which consults
/// the environment too.
pub(crate) fn read_variable(variable: &str, layer: &str) -> Result<Option<SecretString>, Error> {
    let Some(raw) = std::env::var_os(variable) else {
        return Ok(None);
    };
    match String::from_utf8(raw.into_encoded_bytes()) {
        Ok(text) => Ok(Some(into_secret(text))),
        Err(not_utf8) => {
            drop(Zeroizing::new(not_utf8.into_bytes()));
            Err(Error::Provider {
                layer: layer.to_owned(),
                reason: format!("{variable} is set but its value is not valid UTF-8"),
                source: None,
            })
        }
    }
}

/// A variable name being built: on the stack up to 128 bytes.
type NameBuffer = SmallVec<[u8; 128]>;

/// The text of a name built by [`EnvProvider::write_variable_name`]: only ASCII bytes were
/// replaced, and only by ASCII, so the bytes are still UTF-8.
fn name_text(variable: &NameBuffer) -> &str {
    std::str::from_utf8(variable).unwrap_or_default()
}

/// Moves `text` into a [`SecretString`] without a stray copy: the buffer itself becomes the
/// secret when it is exactly the text's size (as `std::env` returns it), else the text is copied
/// and the original wiped.
fn into_secret(text: String) -> SecretString {
    if text.capacity() == text.len() {
        SecretString::from(text)
    } else {
        SecretString::from(Zeroizing::new(text).as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(provider: &EnvProvider, request: SecretRequest) -> String {
        provider.variable_name(&request)
    }

    #[test]
    fn names_map_to_variables() {
        let plain = EnvProvider::new();
        let myapp = EnvProvider::new().with_prefix("MYAPP");
        let kstlib = EnvProvider::new().with_prefix("KSTLIB");
        let dash = EnvProvider::new().with_prefix("app").with_delimiter("_");
        let cases = [
            (
                &myapp,
                SecretRequest::new("mail.smtp.password"),
                "MYAPP__MAIL__SMTP__PASSWORD",
            ),
            (
                &kstlib,
                SecretRequest::new("smtp.password").with_scope("mail"),
                "KSTLIB__MAIL__SMTP__PASSWORD",
            ),
            (&kstlib, SecretRequest::new("api_key"), "KSTLIB__API_KEY"),
            (&kstlib, SecretRequest::new("api-key"), "KSTLIB__API_KEY"),
            (&plain, SecretRequest::new("token"), "TOKEN"),
            (
                &plain,
                SecretRequest::new("db.password").with_scope("prod.eu"),
                "PROD__EU__DB__PASSWORD",
            ),
            (&dash, SecretRequest::new("my-db.pass"), "APP_MY_DB_PASS"),
            (&plain, SecretRequest::new("Grüße"), "GRüßE"),
        ];
        for (provider, request, expected) in cases {
            assert_eq!(var(provider, request), expected);
        }
    }

    #[test]
    fn a_prefix_no_variable_has_yet_is_fine_and_named() {
        let checks = EnvProvider::new()
            .with_prefix("secret-cascade.unit-test")
            .diagnose();
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].status(), crate::check::Status::Ok);
        assert_eq!(
            checks[0].message(),
            "no variable starts with SECRET_CASCADE__UNIT_TEST__ yet; set one to answer from here"
        );
    }

    #[test]
    fn without_a_prefix_every_variable_is_consulted() {
        let checks = EnvProvider::new().diagnose();
        assert_eq!(checks[0].status(), crate::check::Status::Ok);
        assert!(
            checks[0].message().starts_with("no prefix: every variable"),
            "{}",
            checks[0].message()
        );
    }

    #[test]
    fn an_empty_prefix_means_none() {
        assert_eq!(
            var(
                &EnvProvider::new().with_prefix(""),
                SecretRequest::new("a.b")
            ),
            "A__B"
        );
    }
}
