//! The data key: age identities, unwrapping, and Shamir key groups (SOPS_FORMAT.md §4).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use std::io::Write;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::x25519;
use zeroize::Zeroizing;

use super::age_encrypted::{self, EncryptedIdentityFile};
use super::key_command::{COMMAND_ENV, CommandFailure, KeyCommand, KeyCommandError};
use super::master_key::MasterKey;
use super::metadata::{AgeStanza, KeyGroup, Metadata, MetadataError};
use super::passphrase::TerminalCallbacks;
use super::pgp;
use super::{DecryptionError, ReadError};
use super::{age_pq, age_ssh};
use crate::shamir::{self, Field, ShamirError};

/// An age key file larger than this is refused; one identity is 75 bytes.
const MAX_KEY_FILE_BYTES: u64 = 1 << 20;

/// Why an identity source that is set cannot be used. Messages name the source (a file path, a
/// variable) and the line, never a key; a read or command failure is kept as the source.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum IdentityError {
    /// An age key file could not be read.
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: ReadError,
    },
    /// An age key file is not UTF-8.
    KeyFileNotUtf8 {
        /// The key file.
        path: PathBuf,
    },
    /// `SOPS_AGE_KEY` is not valid UTF-8.
    KeyVariableNotUtf8,
    /// A line of a key source is not an age identity. No longer produced: a line this build
    /// cannot use is skipped (with a debug log naming the source and line); kept so that code
    /// matching on it still compiles.
    NotAnIdentity {
        /// The source: a file path or a variable name.
        source_name: String,
        /// The 1-based line.
        line: usize,
    },
    /// `SOPS_AGE_KEY_CMD` is unusable or failed.
    Command(KeyCommandError),
    /// The SSH key `SOPS_AGE_SSH_PRIVATE_KEY_FILE` names cannot be used.
    SshKey {
        /// The key file.
        path: PathBuf,
        /// Why, in words that name no key material.
        reason: String,
    },
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyFile { path, source } => {
                write!(
                    f,
                    "cannot read the age key file {}: {source}",
                    path.display()
                )
            }
            Self::KeyFileNotUtf8 { path } => write!(
                f,
                "cannot read the age key file {}: it is not UTF-8",
                path.display()
            ),
            Self::KeyVariableNotUtf8 => f.write_str("SOPS_AGE_KEY is not valid UTF-8"),
            Self::NotAnIdentity { source_name, line } => write!(
                f,
                "{source_name}, line {line}: not an age identity (expected AGE-SECRET-KEY-1...)"
            ),
            Self::Command(e) => write!(f, "{e}"),
            Self::SshKey { path, reason } => write!(
                f,
                "{SSH_KEY_ENV}: cannot use the SSH key {}: {reason}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for IdentityError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::KeyFile { source, .. } => Some(source),
            Self::Command(e) => Some(e),
            _ => None,
        }
    }
}

impl From<IdentityError> for DecryptionError {
    fn from(error: IdentityError) -> Self {
        Self::Identities(error)
    }
}

impl From<KeyCommandError> for DecryptionError {
    fn from(error: KeyCommandError) -> Self {
        Self::Identities(IdentityError::Command(error))
    }
}

/// An age stanza (`enc`) of the file that could not be opened for a reason other than a
/// missing key: it is malformed or corrupt. The age error is kept as the source.
#[derive(Debug, Clone)]
pub struct StanzaError {
    recipient: String,
    failure: StanzaFailure,
}

#[derive(Debug, Clone)]
enum StanzaFailure {
    Malformed(Arc<age::DecryptError>),
    Corrupt(Arc<std::io::Error>),
    Failed(Arc<age::DecryptError>),
}

impl StanzaError {
    /// The recipient (`age1...`) the stanza is for.
    pub fn recipient(&self) -> &str {
        &self.recipient
    }

    /// Whether an identity failed on a well-formed stanza (a passphrase that could not be asked
    /// or was wrong, a plugin that failed) rather than the stanza being malformed.
    pub(crate) fn is_identity_failure(&self) -> bool {
        matches!(self.failure, StanzaFailure::Failed(_))
    }
}

impl fmt::Display for StanzaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "recipient {}: ", self.recipient)?;
        match &self.failure {
            StanzaFailure::Malformed(e) => write!(f, "an age stanza is malformed: {e}"),
            StanzaFailure::Corrupt(e) => write!(f, "an age payload is corrupt: {e}"),
            StanzaFailure::Failed(e) => write!(f, "cannot open its age key: {e}"),
        }
    }
}

impl std::error::Error for StanzaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.failure {
            StanzaFailure::Malformed(e) | StanzaFailure::Failed(e) => Some(&**e),
            StanzaFailure::Corrupt(e) => Some(&**e),
        }
    }
}

/// The variable that names an SSH private key to use as an age identity, as sops names it.
const SSH_KEY_ENV: &str = "SOPS_AGE_SSH_PRIVATE_KEY_FILE";

/// One loaded age identity: anything that opens age stanzas (an X25519 key, an SSH key, a plugin
/// identity, a passphrase-protected identity file), with its public key where it is known.
/// No `Debug`: it is a private key.
pub(crate) struct AgeIdentity {
    key: Box<dyn age::Identity + Send + Sync>,
    recipient: Option<String>,
    /// Whether opening a stanza with it may ask the user (a passphrase, a plugin's question):
    /// such identities are tried after the others.
    asks: bool,
}

impl AgeIdentity {
    /// `key`, whose public key is `recipient` if known; `asks` if opening a stanza with it may
    /// prompt the user.
    pub(crate) fn new(
        key: Box<dyn age::Identity + Send + Sync>,
        recipient: Option<String>,
        asks: bool,
    ) -> Self {
        Self {
            key,
            recipient,
            asks,
        }
    }

    /// The identity, for age's decryptor.
    pub(crate) fn key(&self) -> &dyn age::Identity {
        &*self.key
    }
}

/// What this process can open a file's data key with: the age identities, gathered in sops's
/// order, and the PGP keys. Vault transit and AWS KMS keys need no identity here: their
/// credentials are read from the environment when a file needs them.
pub struct Identities {
    identities: Vec<AgeIdentity>,
    sources: Vec<String>,
    /// `SOPS_AGE_KEY_CMD`, run only for a stanza that `identities` do not open, as sops runs it
    /// once per recipient with `SOPS_AGE_RECIPIENT` set.
    command: Option<KeyCommand>,
    /// PGP secret keys and the user's GnuPG.
    pub(crate) pgp: pgp::PgpKeys,
    /// The key files read, canonical: one named twice (the config's `age_key_file` is also
    /// `SOPS_AGE_KEY_FILE`) is read once.
    files: Vec<PathBuf>,
}

impl Identities {
    /// Gathers identities from, in order: `key_file` (the config's `age_key_file`), `SOPS_AGE_KEY`,
    /// `SOPS_AGE_KEY_FILE`, the output of `SOPS_AGE_KEY_CMD`, sops's default key file
    /// `$XDG_CONFIG_HOME/sops/age/keys.txt` (`~/.config/sops/age/keys.txt`), then SSH keys as
    /// sops 3.11 finds them: `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, `~/.ssh/id_ed25519` and
    /// `~/.ssh/id_rsa` (each that exists).
    ///
    /// A key source holds one identity per line (`#` comments): X25519 (`AGE-SECRET-KEY-1...`),
    /// post-quantum (`AGE-SECRET-KEY-PQ-1...`) or a plugin's (`AGE-PLUGIN-...`, run as
    /// `age-plugin-NAME` from `PATH`); a line this build cannot use (a plugin not installed, a
    /// typo) is skipped with a debug log naming the source and line, never the line. A key source may
    /// instead be an age file encrypted to a passphrase (`age -p`): its passphrase is asked on
    /// the terminal when a file first needs it.
    ///
    /// A source that is set but unreadable is an error; the default key file and the default SSH
    /// keys are skipped when they do not exist, and a default SSH key age cannot use is skipped.
    /// Key files must be regular files of at most 1 MiB. Then the PGP secret keys of the file
    /// `SECRET_CASCADE_PGP_KEY_FILE` names (see [`Identities::with_pgp_key_file`]).
    ///
    /// `SOPS_AGE_KEY_CMD` is not run here: it is split into words (no shell, as in sops) and run
    /// later, once per recipient stanza that the other identities do not open, with
    /// `SOPS_AGE_RECIPIENT` set to that recipient, for at most `SECRET_CASCADE_KEY_CMD_TIMEOUT`
    /// seconds (30 by default) and 1 MiB of output.
    pub fn discover(key_file: Option<&Path>) -> Result<Self, DecryptionError> {
        let mut found = Self::empty();
        if let Some(path) = key_file {
            found.add_file(path)?;
        }
        if let Some(text) = std::env::var_os("SOPS_AGE_KEY").filter(|v| !v.is_empty()) {
            let text = Zeroizing::new(
                text.into_string()
                    .map_err(|_| IdentityError::KeyVariableNotUtf8)?,
            );
            found.add_text(text.as_bytes(), "SOPS_AGE_KEY");
        }
        if let Some(path) = std::env::var_os("SOPS_AGE_KEY_FILE").filter(|v| !v.is_empty()) {
            found.add_file(Path::new(&path))?;
        }
        if let Some(command) = KeyCommand::from_env()? {
            found.command = Some(command);
            found.sources.push(COMMAND_ENV.to_owned());
        }
        if let Some(path) = default_key_file().filter(|p| p.exists()) {
            found.add_file(&path)?;
        }
        found.add_ssh_keys()?;
        if let Some(path) = std::env::var_os(pgp::KEY_FILE_ENV).filter(|v| !v.is_empty()) {
            found = found.with_pgp_key_file(Path::new(&path))?;
        }
        Ok(found)
    }

    /// Adds the PGP secret keys of an armored key file (the `sops` kind's `pgp_key_file`).
    pub fn with_pgp_key_file(mut self, path: &Path) -> Result<Self, DecryptionError> {
        self.pgp.add_key_file(path)?;
        self.sources.push(path.display().to_string());
        Ok(self)
    }

    /// Identities from key-file text (`#` comments, one identity per line; lines this build
    /// cannot use are skipped), or a passphrase-protected age identity file.
    pub fn from_text(text: &str, source: &str) -> Result<Self, DecryptionError> {
        let mut found = Self::empty();
        found.add_text(text.as_bytes(), source);
        Ok(found)
    }

    fn empty() -> Self {
        Self {
            identities: Vec::new(),
            sources: Vec::new(),
            command: None,
            pgp: pgp::PgpKeys::default(),
            files: Vec::new(),
        }
    }

    /// Where the identities came from (file paths and variable names), for messages.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// The public keys (`age1...`, `ssh-ed25519 AAAA...`) of the identities loaded so far, where
    /// they are known: not those of plugin identities or of a passphrase-protected identity file
    /// (not opened yet), nor those `SOPS_AGE_KEY_CMD` would print, since it runs only while a
    /// file is decrypted.
    pub fn recipients(&self) -> Vec<String> {
        self.identities
            .iter()
            .filter_map(|i| i.recipient.clone())
            .collect()
    }

    fn add_file(&mut self, path: &Path) -> Result<(), IdentityError> {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.files.contains(&canonical) {
            tracing::debug!(file = %path.display(), "age key file named twice; read once");
            return Ok(());
        }
        self.files.push(canonical);
        let bytes = crate::bounded_read::file(path, MAX_KEY_FILE_BYTES).map_err(|source| {
            IdentityError::KeyFile {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let bytes = Zeroizing::new(bytes);
        if !age_encrypted::is_encrypted(&bytes) && std::str::from_utf8(&bytes).is_err() {
            return Err(IdentityError::KeyFileNotUtf8 {
                path: path.to_path_buf(),
            });
        }
        self.add_text(&bytes, &path.display().to_string());
        Ok(())
    }

    fn add_text(&mut self, bytes: &[u8], source: &str) {
        self.identities.extend(parse_identities(bytes, source));
        self.sources.push(source.to_owned());
    }

    /// The SSH keys sops 3.11 uses: `SOPS_AGE_SSH_PRIVATE_KEY_FILE` (an error if it cannot be
    /// used), then `~/.ssh/id_ed25519` and `~/.ssh/id_rsa` if they exist (skipped, with a debug
    /// log, if age cannot use them).
    fn add_ssh_keys(&mut self) -> Result<(), IdentityError> {
        if let Some(path) = std::env::var_os(SSH_KEY_ENV).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(path);
            let identity =
                age_ssh::identity_from_file(&path).map_err(|e| IdentityError::SshKey {
                    reason: e.to_string(),
                    path: path.clone(),
                })?;
            self.identities.push(identity);
            self.sources.push(path.display().to_string());
        }
        let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
            return Ok(());
        };
        for name in ["id_ed25519", "id_rsa"] {
            let path = Path::new(&home).join(".ssh").join(name);
            if !path.exists() {
                continue;
            }
            match age_ssh::identity_from_file(&path) {
                Ok(identity) => {
                    self.identities.push(identity);
                    self.sources.push(path.display().to_string());
                }
                Err(reason) => tracing::debug!(
                    source = %path.display(),
                    %reason,
                    "skipped an SSH key that age cannot use"
                ),
            }
        }
        Ok(())
    }
}

/// The identities of a key source: a passphrase-protected age file, or identity lines.
fn parse_identities(bytes: &[u8], source: &str) -> Vec<AgeIdentity> {
    if age_encrypted::is_encrypted(bytes) {
        let file = EncryptedIdentityFile::new(bytes, source);
        return vec![AgeIdentity::new(Box::new(file), None, true)];
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_identity_lines(text, source),
        Err(_) => {
            tracing::debug!(source, "skipped a key source that is not UTF-8");
            Vec::new()
        }
    }
}

/// Identities from key-file text (`#` comments, one identity per line). A line this build cannot
/// use is skipped with a debug log that names the source and line, never the line's text.
pub(crate) fn parse_identity_lines(text: &str, source: &str) -> Vec<AgeIdentity> {
    let mut identities = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_identity(line) {
            Ok(identity) => identities.push(identity),
            Err(reason) => tracing::debug!(
                source,
                line = number + 1,
                reason,
                "skipped an age identity line this build cannot use"
            ),
        }
    }
    identities
}

/// One identity line: X25519, post-quantum or a plugin's. The reason names the kind, never the key.
fn parse_identity(line: &str) -> Result<AgeIdentity, &'static str> {
    if line.starts_with("AGE-PLUGIN-") {
        let identity =
            age::plugin::Identity::from_str(line).map_err(|_| "a malformed age plugin identity")?;
        let name = identity.plugin().to_owned();
        let plugin = age::plugin::IdentityPluginV1::new(&name, &[identity], TerminalCallbacks)
            .map_err(|_| "its age plugin is not on PATH")?;
        return Ok(AgeIdentity::new(Box::new(plugin), None, true));
    }
    if line.starts_with("AGE-SECRET-KEY-PQ-") {
        let identity =
            age_pq::Identity::parse(line).map_err(|_| "a malformed post-quantum age identity")?;
        let recipient = identity.to_public().to_string();
        return Ok(AgeIdentity::new(Box::new(identity), Some(recipient), false));
    }
    let identity = x25519::Identity::from_str(line)
        .map_err(|_| "not an age identity (AGE-SECRET-KEY-1...)")?;
    let recipient = identity.to_public().to_string();
    Ok(AgeIdentity::new(Box::new(identity), Some(recipient), false))
}

/// Age-decrypts one stanza's armored `enc` blob; `Ok(None)` when none of `identities` opens it.
fn unwrap_with(
    identities: &[AgeIdentity],
    stanza: &AgeStanza,
) -> Result<Option<Zeroizing<Vec<u8>>>, StanzaError> {
    let failed = |failure| StanzaError {
        recipient: stanza.recipient.clone(),
        failure,
    };
    let decryptor = age::Decryptor::new(ArmoredReader::new(stanza.enc.as_bytes()))
        .map_err(|e| failed(StanzaFailure::Malformed(Arc::new(e))))?;
    // Identities that may ask the user come last: a file the others open asks nothing.
    let quiet = identities.iter().filter(|i| !i.asks);
    let asking = identities.iter().filter(|i| i.asks);
    let identities = quiet.chain(asking).map(AgeIdentity::key);
    match decryptor.decrypt(identities) {
        Ok(mut reader) => {
            let mut payload = Zeroizing::new(Vec::with_capacity(33));
            reader
                .read_to_end(&mut payload)
                .map_err(|e| failed(StanzaFailure::Corrupt(Arc::new(e))))?;
            Ok(Some(payload))
        }
        Err(age::DecryptError::NoMatchingKeys) => Ok(None),
        Err(e) => Err(failed(StanzaFailure::Failed(Arc::new(e)))),
    }
}

fn default_key_file() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(config.join("sops").join("age").join("keys.txt"))
}

/// Recovers the 32-byte data key from the metadata's key groups.
pub(crate) fn data_key(
    metadata: &Metadata,
    identities: &Identities,
) -> Result<Zeroizing<Vec<u8>>, DecryptionError> {
    let groups = &metadata.key_groups;
    let keys = || groups.iter().flat_map(|g| g.keys.iter());
    if keys().all(|key| key.unsupported_name().is_some()) {
        let mut types: Vec<String> = Vec::new();
        for key in keys() {
            let name = format!("{} ({})", key.unsupported_name().unwrap_or("?"), key.kind());
            if !types.contains(&name) {
                types.push(name);
            }
        }
        return Err(DecryptionError::UnsupportedKeyTypes { types });
    }
    // With no source at all there is nothing to say but how to give one; with sources whose
    // lines were all skipped, the "no identity matched" error names them.
    let no_age_identity = identities.sources.is_empty()
        && identities.identities.is_empty()
        && identities.command.is_none();
    if no_age_identity && keys().all(|key| matches!(key, MasterKey::Age(_))) {
        return Err(DecryptionError::NoIdentities);
    }
    let mut shares = Vec::new();
    let mut failures = Vec::new();
    for group in groups {
        if let Some(payload) = unwrap_group(group, identities, &mut failures)? {
            shares.push(payload);
            if shares.len() == metadata.threshold {
                break;
            }
        }
    }
    let no_match = || no_match(metadata, identities, &failures);
    if groups.len() == 1 {
        let key = shares.pop().ok_or_else(no_match)?;
        return check_length(key, 32);
    }
    if shares.len() < metadata.threshold {
        if shares.is_empty() {
            return Err(no_match());
        }
        return Err(DecryptionError::TooFewShares {
            needed: metadata.threshold,
            opened: shares.len(),
        });
    }
    let shares = shares
        .into_iter()
        .map(|s| check_length(s, 33))
        .collect::<Result<Vec<_>, _>>()?;
    shamir_combine(&shares)
}

/// Opens one of the group's keys: its age stanzas with the identities already loaded, then its
/// other keys (PGP, Vault transit, AWS KMS) in turn, then, only if none of them does, its age
/// stanzas with what `SOPS_AGE_KEY_CMD` prints for each stanza's recipient. A key that fails
/// (a server down, gpg failing) is noted in `failures` and the next one is tried.
fn unwrap_group(
    group: &KeyGroup,
    identities: &Identities,
    failures: &mut Vec<String>,
) -> Result<Option<Zeroizing<Vec<u8>>>, DecryptionError> {
    // An identity that fails on a well-formed stanza (a passphrase not given, a plugin error) is
    // noted like a failing key, and the next stanza tried; a malformed stanza stops everything.
    let open =
        |stanza: &AgeStanza, with: &[AgeIdentity], failures: &mut Vec<String>| match unwrap_with(
            with, stanza,
        ) {
            Err(e) if e.is_identity_failure() => {
                failures.push(e.to_string());
                Ok(None)
            }
            other => other.map_err(DecryptionError::Stanza),
        };
    for stanza in group.age() {
        if let Some(payload) = open(stanza, &identities.identities, failures)? {
            return Ok(Some(payload));
        }
    }
    for key in &group.keys {
        match key.unwrap(identities) {
            Ok(Some(payload)) => return Ok(Some(payload)),
            Ok(None) => {}
            Err(failure) => failures.push(format!("{}: {failure}", key.describe())),
        }
    }
    let Some(command) = &identities.command else {
        return Ok(None);
    };
    for stanza in group.age() {
        let Some(printed) = command_identities(command, &stanza.recipient, failures)? else {
            continue;
        };
        if let Some(payload) = open(stanza, &printed, failures)? {
            return Ok(Some(payload));
        }
    }
    Ok(None)
}

/// The identities `SOPS_AGE_KEY_CMD` prints for `recipient`; `Ok(None)` when it exited
/// unsuccessfully (noted in `failures`), as it may know only some recipients' keys.
fn command_identities(
    command: &KeyCommand,
    recipient: &str,
    failures: &mut Vec<String>,
) -> Result<Option<Vec<AgeIdentity>>, DecryptionError> {
    let output = match command.run(recipient) {
        Ok(output) => output,
        Err(CommandFailure::Exited(status)) => {
            failures.push(format!("{COMMAND_ENV}: {status} for {recipient}"));
            return Ok(None);
        }
        Err(CommandFailure::Broken(reason)) => return Err(reason.into()),
    };
    if !age_encrypted::is_encrypted(&output) && std::str::from_utf8(&output).is_err() {
        return Err(KeyCommandError::OutputNotUtf8.into());
    }
    Ok(Some(parse_identities(&output, COMMAND_ENV)))
}

fn no_match(metadata: &Metadata, identities: &Identities, failures: &[String]) -> DecryptionError {
    let keys = || metadata.key_groups.iter().flat_map(|g| g.keys.iter());
    let mut tried = identities.sources.clone();
    if keys().any(|key| matches!(key, MasterKey::Pgp(_))) {
        tried.push(identities.pgp.gnupg_source());
    }
    let mut held = identities.recipients();
    held.extend(
        identities
            .pgp
            .fingerprints()
            .into_iter()
            .map(|fp| format!("pgp {fp}")),
    );
    DecryptionError::NoMatchingIdentity {
        recipients: keys().map(MasterKey::describe).collect(),
        tried,
        held,
        failures: failures.to_vec(),
    }
}

fn check_length(
    key: Zeroizing<Vec<u8>>,
    expected: usize,
) -> Result<Zeroizing<Vec<u8>>, DecryptionError> {
    if key.len() == expected {
        Ok(key)
    } else {
        Err(DecryptionError::Metadata(MetadataError::PayloadSize {
            size: key.len(),
            expected,
        }))
    }
}

/// Why the data key could not be encrypted to a recipient. The age error, when there is one, is
/// kept as the source.
#[derive(Debug, Clone)]
pub struct RecipientError {
    recipient: String,
    failure: RecipientFailure,
}

#[derive(Debug, Clone)]
enum RecipientFailure {
    NotX25519,
    Encrypt(Arc<age::EncryptError>),
    Io(Arc<std::io::Error>),
    NotUtf8Armor,
    Unusable(String),
}

impl RecipientError {
    /// `recipient` cannot be used, for `reason` (which names no key material).
    pub(crate) fn unusable(recipient: &str, reason: impl Into<String>) -> Self {
        Self {
            recipient: recipient.trim().to_owned(),
            failure: RecipientFailure::Unusable(reason.into()),
        }
    }

    /// The recipient as given.
    pub fn recipient(&self) -> &str {
        &self.recipient
    }
}

impl fmt::Display for RecipientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            RecipientFailure::NotX25519 => write!(
                f,
                "`{}` is not an age recipient (age1..., ssh-ed25519 AAAA..., ssh-rsa AAAA..., or \
                 a plugin's age1<name>1...)",
                self.recipient
            ),
            RecipientFailure::Encrypt(e) => write!(f, "{e}"),
            RecipientFailure::Io(e) => write!(f, "{e}"),
            RecipientFailure::NotUtf8Armor => f.write_str("age produced non-UTF-8 armor"),
            RecipientFailure::Unusable(reason) => write!(f, "{}: {reason}", self.recipient),
        }
    }
}

impl std::error::Error for RecipientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.failure {
            RecipientFailure::Encrypt(e) => Some(&**e),
            RecipientFailure::Io(e) => Some(&**e),
            RecipientFailure::NotX25519
            | RecipientFailure::NotUtf8Armor
            | RecipientFailure::Unusable(_) => None,
        }
    }
}

/// Encrypts a data key (or Shamir share) to one age recipient (see [`parse_recipient`]), ASCII-armored
/// as sops stores it in `enc` (SOPS_FORMAT.md §3.1).
pub(crate) fn wrap(payload: &[u8], recipient: &str) -> Result<String, RecipientError> {
    let failed = |failure| RecipientError {
        recipient: recipient.trim().to_owned(),
        failure,
    };
    let io = |e| failed(RecipientFailure::Io(Arc::new(e)));
    let recipient = parse_recipient(recipient)?;
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&*recipient as _))
        .map_err(|e| failed(RecipientFailure::Encrypt(Arc::new(e))))?;
    let armored = ArmoredWriter::wrap_output(Vec::new(), Format::AsciiArmor).map_err(io)?;
    let mut writer = encryptor.wrap_output(armored).map_err(io)?;
    writer.write_all(payload).map_err(io)?;
    let bytes = writer
        .finish()
        .and_then(|armored| armored.finish())
        .map_err(io)?;
    String::from_utf8(bytes).map_err(|_| failed(RecipientFailure::NotUtf8Armor))
}

/// An age recipient: `age1pq1...` is post-quantum (as age 1.3 reads it; sops 3.11, on age 1.2,
/// would look for an `age-plugin-pq`), then as sops 3.11 tells them apart: `age1<name>1...` (two
/// `1`s) is a plugin's, run as `age-plugin-<name>` from `PATH`, `age1...` is X25519,
/// `ssh-ed25519 ...` / `ssh-rsa ...` an SSH public key.
pub(crate) fn parse_recipient(
    text: &str,
) -> Result<Box<dyn age::Recipient + Send>, RecipientError> {
    let text = text.trim();
    let not_a_recipient = || RecipientError {
        recipient: text.to_owned(),
        failure: RecipientFailure::NotX25519,
    };
    if text.starts_with("ssh-") {
        return age_ssh::recipient(text)
            .map(|r| Box::new(r) as _)
            .ok_or_else(not_a_recipient);
    }
    if text.starts_with("age1pq1") {
        return age_pq::Recipient::parse(text)
            .map(|r| Box::new(r) as _)
            .map_err(|_| not_a_recipient());
    }
    if text.starts_with("age1") && text.matches('1').count() > 1 {
        let recipient = age::plugin::Recipient::from_str(text).map_err(|_| not_a_recipient())?;
        let name = recipient.plugin().to_owned();
        let plugin = age::plugin::RecipientPluginV1::new(
            &name,
            &[recipient],
            &[],
            TerminalCallbacks,
        )
        .map_err(|_| {
            RecipientError::unusable(
                text,
                format!("no age-plugin-{name} on PATH: install the age plugin for this recipient"),
            )
        })?;
        return Ok(Box::new(plugin));
    }
    x25519::Recipient::from_str(text)
        .map(|r| Box::new(r) as _)
        .map_err(|_| not_a_recipient())
}

/// Splits the data key into `parts` Shamir shares of which any `threshold` recover it, in the
/// layout HashiCorp's shamir package (which sops uses) writes: the y-bytes, then the
/// x-coordinate, over GF(2^8) with the AES polynomial 0x11B.
pub(crate) fn shamir_split(
    secret: &[u8],
    parts: usize,
    threshold: usize,
) -> Result<Vec<Zeroizing<Vec<u8>>>, ShamirError> {
    shamir::split_with_trailing_x(Field::AES, secret, parts, threshold)
}

/// Combines shares of that layout back into the data key.
fn shamir_combine(shares: &[Zeroizing<Vec<u8>>]) -> Result<Zeroizing<Vec<u8>>, DecryptionError> {
    shamir::combine_with_trailing_x(Field::AES, shares)
        .map_err(|_| DecryptionError::Metadata(MetadataError::InconsistentShares))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_stanza_names_its_recipient_and_keeps_the_age_error() {
        use std::error::Error as _;
        let stanza = AgeStanza {
            recipient: "age1example".into(),
            enc: "-----BEGIN AGE ENCRYPTED FILE-----\nnot age\n-----END AGE ENCRYPTED FILE-----\n"
                .into(),
        };
        let error = unwrap_with(&[], &stanza).unwrap_err();
        assert_eq!(error.recipient(), "age1example");
        assert!(
            error
                .to_string()
                .starts_with("recipient age1example: an age stanza is malformed: "),
            "{error}"
        );
        assert!(
            error
                .source()
                .is_some_and(|e| e.downcast_ref::<age::DecryptError>().is_some())
        );
    }

    #[test]
    fn split_shares_recombine_from_any_threshold_subset() {
        let secret: Vec<u8> = (0..32).map(|i| i * 7).collect();
        let shares = shamir_split(&secret, 3, 2).unwrap();
        assert!(shares.iter().all(|s| s.len() == 33));
        for (a, b) in [(0, 1), (1, 2), (2, 0)] {
            let pair = [shares[a].clone(), shares[b].clone()];
            assert_eq!(shamir_combine(&pair).unwrap().as_slice(), secret.as_slice());
        }
        assert_ne!(
            shares[0][..32],
            secret[..],
            "one share alone reveals nothing directly"
        );
    }

    #[test]
    fn wrapped_keys_unwrap_with_the_identity() {
        let identity = x25519::Identity::generate();
        let identity_recipient = identity.to_public().to_string();
        let armored = wrap(b"0123456789abcdef0123456789abcdef", &identity_recipient).unwrap();
        assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(armored.ends_with("-----END AGE ENCRYPTED FILE-----\n"));
        let identities = Identities {
            identities: vec![AgeIdentity::new(Box::new(identity), None, false)],
            ..Identities::empty()
        };
        let stanza = AgeStanza {
            recipient: identity_recipient,
            enc: armored,
        };
        let payload = unwrap_with(&identities.identities, &stanza)
            .unwrap()
            .unwrap();
        assert_eq!(payload.as_slice(), b"0123456789abcdef0123456789abcdef");
        assert!(wrap(b"k", "ssh-ed25519 AAAA").is_err());
    }
}
