//! `kind: dotenv`: a `.env` file, and the process environment beside it.
//!
//! Options: `path` (required; relative to the config file's folder), `override_env` (default
//! `false`: a variable set in the environment wins over the file; `true`: the file wins) and
//! `cache_ttl_ms` (default off). Under ModelMesh's id `modelmesh.dotenv.v1`: `file_path` (default
//! `.env`, relative to the config file's folder), `override_env`, `secrets` (ignored, as ModelMesh
//! ignores it) and ModelMesh's common options ([`super::modelmesh`]).
//!
//! A request maps to a variable name as in the env layer without a prefix: the scope's and the
//! name's segments joined by `__`, `-` as `_`, upper-cased (`db.password` is `DB__PASSWORD`).
//! Under ModelMesh's id the name is the variable, verbatim (`db.password`, `openai_key`). Both the
//! file and the environment are consulted for every name, as ModelMesh does, in the order
//! `override_env` gives; a value from the environment has source [`SecretSource::Env`], one from
//! the file [`SecretSource::Dotenv`].
//!
//! The file is read as users of dotenv files expect: `export NAME=value`, `# comments`, inline
//! comments after a space in unquoted values (`a#b` is one value), single quotes taken literally,
//! double quotes with the escapes `\n`, `\r`, `\t`, `\"` and `\\`, quoted values over several
//! lines, CRLF line ends, a UTF-8 byte order mark skipped, the last of a repeated name winning, no
//! `${VAR}` interpolation. A line that is none of these (no `=`, a name with a space, text after a
//! closing quote, a quote never closed) is an error naming the line. Under ModelMesh's id the file
//! is read with ModelMesh's own rules (MODELMESH_REFERENCE.md §4), so its files give the same
//! values; `docs/config.md` lists the differences.
//!
//! A file that does not exist leaves the environment alone to answer, as in ModelMesh. One that
//! cannot be read, is not UTF-8 or breaks the syntax is an [`Error::Provider`] (exit 3) naming the
//! file and the line, never a value. The file is parsed once and again whenever it changes (one
//! `stat` per lookup); with `cache_ttl_ms` a value found in the file is kept that long without
//! looking at the file (the environment is always read as it is). The layer is read-only: no
//! [`crate::Management`], since rewriting the file would lose its comments and layout.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::cache::ParsedFile;
use crate::check::Check;
use crate::error::{ConfigError, Error};
use crate::options::Options;
use crate::plaintext::PlaintextBuffer;
use crate::provider::{Answer, Provider, Reason};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::SecretRequest;
use crate::value_cache::ValueCache;

use super::EnvProvider;
use super::env::read_variable;
use super::modelmesh::common_options;

/// Reads secrets from a dotenv file and the process environment.
pub struct DotenvProvider {
    label: String,
    file: ParsedFile<Entries>,
    override_env: bool,
    rules: Rules,
    /// How [`Rules::Dotenv`] maps names: the env layer without a prefix, made once.
    mapping: EnvProvider,
    cache: Option<ValueCache>,
}

/// Whose rules map names and read the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rules {
    /// Ours: names mapped as by the env layer, the syntax dotenv users expect.
    Dotenv,
    /// ModelMesh's: names verbatim, its line-by-line parser.
    ModelMesh,
}

/// A file's names and values.
struct Entries(HashMap<String, SecretString>);

impl DotenvProvider {
    /// A layer for the file at `path`; the environment wins over the file; no value cache.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        Self {
            label: format!("dotenv:{}", path.display()),
            file: ParsedFile::new(path),
            override_env: false,
            rules: Rules::Dotenv,
            mapping: EnvProvider::new(),
            cache: None,
        }
    }

    /// With `true`, a name in the file wins over a variable of the environment (ModelMesh's
    /// `override_env`).
    pub fn with_override_env(mut self, override_env: bool) -> Self {
        self.override_env = override_env;
        self
    }

    /// Keeps values found in the file for `ttl` (a zero `ttl` keeps nothing).
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache = ValueCache::for_ttl(ttl);
        self
    }

    /// The file this layer reads.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The variable a request maps to: as the env layer maps it without a prefix
    /// (`DB__PASSWORD`), or verbatim under ModelMesh's rules.
    pub fn variable_name(&self, request: &SecretRequest) -> String {
        match self.rules {
            Rules::Dotenv => self.mapping.variable_name(request),
            Rules::ModelMesh => request.qualified_name(),
        }
    }

    /// The layer a config mapping describes (`kind: dotenv`).
    pub fn from_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let Some(path) = options.path("path")? else {
            return Err(options.error(None, "missing `path`: the dotenv file to read"));
        };
        let mut provider =
            Self::new(path).with_override_env(options.boolean("override_env")?.unwrap_or(false));
        if let Some(ms) = options.positive_integer("cache_ttl_ms")? {
            provider = provider.with_cache_ttl(Duration::from_millis(ms as u64));
        }
        Ok(provider)
    }

    /// The layer a ModelMesh config describes (`modelmesh.dotenv.v1`): `file_path` (default
    /// `.env`), `override_env`, the common options, ModelMesh's names and parser.
    pub fn from_modelmesh_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let path = match options.path("file_path")? {
            Some(path) => path,
            None => options.file().with_file_name(DEFAULT_MODELMESH_FILE),
        };
        let mut provider =
            Self::new(path).with_override_env(options.boolean("override_env")?.unwrap_or(false));
        provider.rules = Rules::ModelMesh;
        options.ignore("secrets");
        provider.cache = common_options(options)?;
        Ok(provider)
    }

    /// Parses the file's bytes under this layer's rules.
    fn parse(&self) -> impl Fn(&[u8]) -> Result<Entries, SyntaxError> + use<> {
        let rules = self.rules;
        move |bytes| {
            let text = std::str::from_utf8(bytes).map_err(|e| SyntaxError {
                line: 1 + bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count(),
                problem: "not valid UTF-8",
            })?;
            Ok(Entries(match rules {
                Rules::Dotenv => parse(text)?,
                Rules::ModelMesh => parse_modelmesh(text),
            }))
        }
    }

    /// The variable's value in the environment, as a hit.
    fn in_environment(&self, variable: &str) -> Result<Option<Answer>, Error> {
        Ok(read_variable(variable, &self.label)?.map(|value| {
            let metadata = Metadata::new().with("variable", variable);
            Answer::Hit(SecretRecord::new(value, SecretSource::Env, metadata))
        }))
    }

    /// The variable's value in the file, as a hit; `None` for a miss.
    fn in_file(&self, variable: &str) -> Result<Option<Answer>, Error> {
        let hit = |value| {
            let metadata = Metadata::new()
                .with("path", self.file.path().display().to_string())
                .with("variable", variable);
            Some(Answer::Hit(SecretRecord::new(
                value,
                SecretSource::Dotenv,
                metadata,
            )))
        };
        if let Some(value) = self.cache.as_ref().and_then(|cache| cache.get(variable)) {
            return Ok(hit(value));
        }
        let parse = self.parse();
        let entries = self
            .file
            .get(MAX_FILE_BYTES, parse)
            .map_err(|e| e.into_error(&self.label, self.file.path()))?;
        let Some(value) = entries.as_ref().and_then(|entries| entries.0.get(variable)) else {
            return Ok(None);
        };
        let value = SecretString::from(value.expose_secret());
        if let Some(cache) = &self.cache {
            cache.put(variable, &value, None);
        }
        Ok(hit(value))
    }
}

impl Provider for DotenvProvider {
    fn label(&self) -> &str {
        &self.label
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        let variable = self.variable_name(request);
        if !self.override_env
            && let Some(hit) = self.in_environment(&variable)?
        {
            return Ok(hit);
        }
        if let Some(hit) = self.in_file(&variable)? {
            return Ok(hit);
        }
        if self.override_env
            && let Some(hit) = self.in_environment(&variable)?
        {
            return Ok(hit);
        }
        Ok(Answer::Miss(Reason::deferred()))
    }

    fn explain(&self, request: &SecretRequest) -> String {
        let variable = self.variable_name(request);
        let path = self.file.path().display();
        match self.file.get(MAX_FILE_BYTES, self.parse()) {
            Ok(Some(_)) => format!("{variable} is not set and not in {path}"),
            Ok(None) => format!("{variable} is not set and {path} does not exist"),
            Err(error) => error.into_error(&self.label, self.file.path()).to_string(),
        }
    }

    fn diagnose(&self) -> Vec<Check> {
        let missing = format!(
            "{} does not exist: only the environment is consulted",
            self.file.path().display()
        );
        self.file
            .checks(MAX_FILE_BYTES, self.parse(), Check::warn("file", missing))
    }
}

impl fmt::Debug for DotenvProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DotenvProvider")
            .field("path", &self.file.path())
            .field("override_env", &self.override_env)
            .field("rules", &self.rules)
            .field("cache", &self.cache)
            .finish()
    }
}

/// Where a dotenv file breaks the syntax: its line (1-based) and what is wrong, never its text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SyntaxError {
    line: usize,
    problem: &'static str,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

impl std::error::Error for SyntaxError {}

/// Our dotenv syntax (see the module docs). Values are copied out of `text` into zeroizing
/// buffers.
fn parse(text: &str) -> Result<HashMap<String, SecretString>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries = HashMap::new();
    let mut at = 0;
    let mut line = 1;
    while at < text.len() {
        let fail = |problem| Err(SyntaxError { line, problem });
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let raw = &text[at..end];
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let statement = raw.trim_start_matches(BLANK);
        if statement.trim_end_matches(BLANK).is_empty() || statement.starts_with('#') {
            at = end + 1;
            line += 1;
            continue;
        }
        let statement = statement
            .strip_prefix("export")
            .filter(|rest| rest.starts_with(BLANK))
            .map_or(statement, |rest| rest.trim_start_matches(BLANK));
        let Some((name, value)) = statement.split_once('=') else {
            return fail("expected NAME=value");
        };
        let name = name.trim_end_matches(BLANK);
        if name.is_empty() {
            return fail("the name before `=` is empty");
        }
        if name.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
            return fail("the name before `=` holds a space or a quote");
        }
        let value = value.trim_start_matches(BLANK);
        let quote = match value.chars().next() {
            Some(quote @ ('"' | '\'')) => quote,
            _ => {
                entries.insert(name.to_owned(), SecretString::from(unquoted(value)));
                at = end + 1;
                line += 1;
                continue;
            }
        };
        // The value's offset in `text`: `value` ends where `raw` ends.
        let opened = at + raw.len() - value.len() + 1;
        let Some(closed) = closing_quote(&text[opened..], quote).map(|i| opened + i) else {
            return fail("a quoted value is not closed");
        };
        let inside = &text[opened..closed];
        let value = unescape(inside, quote == '"');
        entries.insert(name.to_owned(), SecretString::from(value.as_str()));
        line += inside.matches('\n').count();
        let end = text[closed..].find('\n').map_or(text.len(), |i| closed + i);
        let after = text[closed + 1..end].trim_matches(BLANK_OR_CR);
        if !(after.is_empty() || after.starts_with('#')) {
            return Err(SyntaxError {
                line,
                problem: "only a comment may follow a closing quote",
            });
        }
        at = end + 1;
        line += 1;
    }
    Ok(entries)
}

/// An unquoted value: up to a `#` that follows a space or tab (or starts it), trailing blanks
/// removed.
fn unquoted(value: &str) -> &str {
    let comment = value
        .match_indices('#')
        .find(|&(i, _)| i == 0 || value[..i].ends_with(BLANK));
    let value = comment.map_or(value, |(i, _)| &value[..i]);
    value.trim_end_matches(BLANK_OR_CR)
}

/// Where the quote that closes a value opened by `quote` is in `text` (which starts after the
/// opening one): the next one, or for `"` the next one without a backslash before it.
fn closing_quote(text: &str, quote: char) -> Option<usize> {
    if quote == '\'' {
        return text.find('\'');
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// A quoted value's text with CRLF as LF and, with `escapes` (double quotes), `\n`, `\r`, `\t`,
/// `\"` and `\\` replaced; any other backslash is kept as it is.
fn unescape(inside: &str, escapes: bool) -> Zeroizing<String> {
    // Never longer than the text, so the buffer never grows (and leaves no copy behind).
    let mut value = Zeroizing::new(String::with_capacity(inside.len()));
    let mut chars = inside.chars().peekable();
    while let Some(c) = chars.next() {
        let replaced = match (c, chars.peek()) {
            ('\\', Some('n')) if escapes => '\n',
            ('\\', Some('r')) if escapes => '\r',
            ('\\', Some('t')) if escapes => '\t',
            ('\\', Some('"')) if escapes => '"',
            ('\\', Some('\\')) if escapes => '\\',
            ('\r', Some('\n')) => '\n',
            (c, _) => {
                value.push(c);
                continue;
            }
        };
        chars.next();
        value.push(replaced);
    }
    value
}

/// ModelMesh's dotenv parser, rule by rule (MODELMESH_REFERENCE.md §4): lines split on `\n`,
/// `\r\n` and `\r`; trimmed as Python trims; `NAME=value` with the name and value trimmed (no
/// `export`, a name may hold spaces); a trailing backslash joins the next raw line; one pair of
/// matching quotes removed with no escapes; else an inline comment cut at ` #` (or a tab and
/// `#`). Lines without `=` or with an empty name are skipped. The last value of a name wins.
fn parse_modelmesh(text: &str) -> HashMap<String, SecretString> {
    let lines = python_lines(text);
    let mut entries = HashMap::new();
    let mut next = 0;
    while let Some(line) = lines.get(next) {
        next += 1;
        let line = line.trim_matches(python_space);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim_matches(python_space);
        if name.is_empty() {
            continue;
        }
        let mut joined = PlaintextBuffer::new();
        joined.extend_from_slice(value.trim_matches(python_space).as_bytes());
        while joined.ends_with(b"\\") && next < lines.len() {
            joined.pop();
            joined.extend_from_slice(lines[next].as_bytes());
            next += 1;
        }
        let joined: Zeroizing<Vec<u8>> = joined.into();
        // Only whole lines of `text` and ASCII were joined, so the bytes are UTF-8.
        let value = String::from_utf8_lossy(&joined);
        let quoted = value.len() >= 2
            && (value.starts_with('"') && value.ends_with('"')
                || value.starts_with('\'') && value.ends_with('\''));
        let value = if quoted {
            &value[1..value.len() - 1]
        } else {
            let cut = value.find(" #").or_else(|| value.find("\t#"));
            value[..cut.unwrap_or(value.len())].trim_end_matches(python_space)
        };
        entries.insert(name.to_owned(), SecretString::from(value));
    }
    entries
}

/// `text` split into lines at `\r\n`, `\n` or a lone `\r`, as Python's `splitlines` does for
/// these (no empty line after a final line break).
fn python_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some(i) = rest.find(['\r', '\n']) else {
            lines.push(rest);
            break;
        };
        lines.push(&rest[..i]);
        let width = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + width..];
    }
    lines
}

/// Python's `str.isspace`: Unicode white space and the separators U+001C to U+001F.
fn python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Space and tab: what separates the parts of a line.
const BLANK: [char; 2] = [' ', '\t'];

/// Blanks and the CR of a CRLF line end.
const BLANK_OR_CR: [char; 3] = [' ', '\t', '\r'];

/// ModelMesh's default file, here taken from the config file's folder.
const DEFAULT_MODELMESH_FILE: &str = ".env";

/// Larger files are refused before parsing.
const MAX_FILE_BYTES: u64 = 16 << 20;
