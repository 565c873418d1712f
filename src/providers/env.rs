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
use zeroize::Zeroizing;

use crate::check::Check;
use crate::error::ConfigError;
use crate::error::Error;
use crate::options::Options;
use crate::plaintext::into_secret;
use crate::provider::{Answer, Provider, Reason};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::{SecretRequest, layer_id};

/// Reads secrets from environment variables.
#[derive(Debug, Clone)]
pub struct EnvProvider {
    prefix: Option<String>,
    delimiter: String,
    /// ModelMesh's names: the prefix and the name joined as given, nothing translated.
    verbatim_names: bool,
    /// kstlib's names: `-` kept as is instead of becoming `_`.
    keep_hyphens: bool,
    /// Names requests as no differently configured layer does ([`SecretRequest::layer_name`]).
    id: u64,
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
            id: layer_id(),
        }
    }

    /// Puts `prefix` before every variable name (`MYAPP` in `MYAPP__DB__PASSWORD`). An empty
    /// prefix means none.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into()).filter(|p: &String| !p.is_empty());
        self.id = layer_id();
        self
    }

    /// Joins the parts of a variable name with `delimiter` instead of `__`.
    pub fn with_delimiter(mut self, delimiter: impl Into<String>) -> Self {
        self.delimiter = delimiter.into();
        self.id = layer_id();
        self
    }

    /// Names variables as ModelMesh's env store does: the prefix, then the name (`scope.name`
    /// with a scope) exactly as given, with no delimiter, no case change, nothing translated
    /// (`prefix: MM_`, name `openai` reads `MM_openai`).
    pub fn with_verbatim_names(mut self) -> Self {
        self.verbatim_names = true;
        self.id = layer_id();
        self
    }

    /// Keeps `-` in names as kstlib does (`KSTLIB__SMTP-HOST`) instead of mapping it to `_`.
    /// Such a variable cannot be set by a POSIX shell's `export`, but `env` and other programs
    /// can set it; used for kstlib's own config files only.
    pub fn with_hyphens_kept(mut self) -> Self {
        self.keep_hyphens = true;
        self.id = layer_id();
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
        let mut stack = [0; STACK_NAME];
        let mut heap = Vec::new();
        self.write_variable_name(request, &mut stack, &mut heap)
            .to_owned()
    }

    /// The variable a request maps to, written into `stack` when it fits (the usual case, so that
    /// a miss allocates nothing), else into `heap`.
    fn write_variable_name<'b>(
        &self,
        request: &SecretRequest,
        stack: &'b mut [u8; STACK_NAME],
        heap: &'b mut Vec<u8>,
    ) -> &'b str {
        let prefix = self.prefix.as_deref();
        if self.verbatim_names {
            let scope = request.scope().into_iter().flat_map(|scope| [scope, "."]);
            let parts = prefix.into_iter().chain(scope).chain([request.name()]);
            return join_mapped(parts, None, stack, heap);
        }
        let parts = prefix
            .into_iter()
            .chain(request.scope())
            .chain([request.name()]);
        join_mapped(parts, Some(self.mapping()), stack, heap)
    }

    /// How parts of names become parts of variable names (not for ModelMesh's names).
    fn mapping(&self) -> Mapping<'_> {
        Mapping {
            delimiter: self.delimiter.as_bytes(),
            keep_hyphens: self.keep_hyphens,
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

/// Names up to this long are built on the stack.
const STACK_NAME: usize = 128;

/// How a name's parts become a variable's: joined and split on dots with `delimiter`, `-` made
/// `_` unless `keep_hyphens`, ASCII letters upper-cased.
#[derive(Clone, Copy)]
struct Mapping<'a> {
    delimiter: &'a [u8],
    keep_hyphens: bool,
}

/// Joins `parts` into `stack` (or `heap` when longer) under `mapping`, or as they are without
/// one (ModelMesh's names): one pass over the bytes, on a path every env lookup takes.
fn join_mapped<'p, 'b>(
    parts: impl Iterator<Item = &'p str> + Clone,
    mapping: Option<Mapping<'_>>,
    stack: &'b mut [u8; STACK_NAME],
    heap: &'b mut Vec<u8>,
) -> &'b str {
    let mut at = 0;
    let written = write_mapped(parts.clone(), mapping, |byte| {
        if let Some(slot) = stack.get_mut(at) {
            *slot = byte;
        }
        at += 1;
    });
    let out: &[u8] = if written <= STACK_NAME {
        &stack[..written]
    } else {
        write_mapped(parts, mapping, |byte| heap.push(byte));
        heap
    };
    // Only ASCII bytes were replaced, and only by ASCII, so the bytes are still UTF-8.
    std::str::from_utf8(out).unwrap_or_default()
}

/// Feeds the bytes of the mapped, joined `parts` to `push`; returns how many.
fn write_mapped<'p>(
    parts: impl Iterator<Item = &'p str>,
    mapping: Option<Mapping<'_>>,
    mut push: impl FnMut(u8),
) -> usize {
    let mut count = 0;
    let mut put = |byte| {
        push(byte);
        count += 1;
    };
    match mapping {
        None => parts.flat_map(str::bytes).for_each(&mut put),
        Some(Mapping {
            delimiter,
            keep_hyphens,
        }) => {
            for (i, part) in parts.enumerate() {
                if i > 0 {
                    delimiter.iter().for_each(|&byte| put(byte));
                }
                for byte in part.bytes() {
                    match byte {
                        b'.' => delimiter.iter().for_each(|&byte| put(byte)),
                        b'-' if !keep_hyphens => put(b'_'),
                        _ => put(byte.to_ascii_uppercase()),
                    }
                }
            }
        }
    }
    count
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
        let (mut stack, mut heap);
        // A reused request remembers its name; another env layer maps it on the stack.
        let variable = match request.layer_name(self.id, || self.variable_name(request)) {
            Some(name) => name,
            None => {
                (stack, heap) = ([0; STACK_NAME], Vec::new());
                self.write_variable_name(request, &mut stack, &mut heap)
            }
        };
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
        let (mut stack, mut heap) = ([0; STACK_NAME], Vec::new());
        let start = if self.verbatim_names {
            prefix.clone()
        } else {
            let prefix = [prefix.as_str()].into_iter();
            let mapped = join_mapped(prefix, Some(self.mapping()), &mut stack, &mut heap);
            format!("{mapped}{}", self.delimiter)
        };
        let found = std::env::vars_os()
            .filter(|(name, _)| name.as_encoded_bytes().starts_with(start.as_bytes()))
            .count();
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
        let glued = EnvProvider::new().with_delimiter("");
        let long = EnvProvider::new();
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
            (&glued, SecretRequest::new("a.b-c").with_scope("s"), "SAB_C"),
            (&long, SecretRequest::new("y".repeat(200)), &"Y".repeat(200)),
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
