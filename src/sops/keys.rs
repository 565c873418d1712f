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

use super::cipher::fill_random;
use super::key_command::{COMMAND_ENV, CommandFailure, KeyCommand, KeyCommandError};
use super::master_key::MasterKey;
use super::metadata::{AgeStanza, KeyGroup, Metadata, MetadataError};
use super::pgp;
use super::{DecryptionError, ReadError};

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
    /// A line of a key source is not an age identity.
    NotAnIdentity {
        /// The source: a file path or a variable name.
        source_name: String,
        /// The 1-based line.
        line: usize,
    },
    /// `SOPS_AGE_KEY_CMD` is unusable or failed.
    Command(KeyCommandError),
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
}

impl fmt::Display for StanzaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "recipient {}: ", self.recipient)?;
        match &self.failure {
            StanzaFailure::Malformed(e) => write!(f, "an age stanza is malformed: {e}"),
            StanzaFailure::Corrupt(e) => write!(f, "an age payload is corrupt: {e}"),
            StanzaFailure::Failed(e) => write!(f, "age decryption failed: {e}"),
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

/// What this process can open a file's data key with: the age identities, gathered in sops's
/// order, and the PGP keys. Vault transit and AWS KMS keys need no identity here: their
/// credentials are read from the environment when a file needs them.
pub struct Identities {
    identities: Vec<x25519::Identity>,
    sources: Vec<String>,
    /// `SOPS_AGE_KEY_CMD`, run only for a stanza that `identities` do not open, as sops runs it
    /// once per recipient with `SOPS_AGE_RECIPIENT` set.
    command: Option<KeyCommand>,
    /// PGP secret keys and the user's GnuPG.
    pub(crate) pgp: pgp::PgpKeys,
}

impl Identities {
    /// Gathers identities from, in order: `key_file` (the config's `age_key_file`), `SOPS_AGE_KEY`,
    /// `SOPS_AGE_KEY_FILE`, the output of `SOPS_AGE_KEY_CMD`, and sops's default key file
    /// `$XDG_CONFIG_HOME/sops/age/keys.txt` (`~/.config/sops/age/keys.txt`); and the PGP secret
    /// keys of the file `SECRET_CASCADE_PGP_KEY_FILE` names. Every source that is
    /// set is used; one that is set but unreadable or malformed is an error. The default file is
    /// skipped when it does not exist. Key files must be regular files of at most 1 MiB.
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
            found.add_text(&text, "SOPS_AGE_KEY")?;
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

    /// Identities from key-file text (`#` comments, one `AGE-SECRET-KEY-1...` per line).
    pub fn from_text(text: &str, source: &str) -> Result<Self, DecryptionError> {
        let mut found = Self::empty();
        found.add_text(text, source)?;
        Ok(found)
    }

    fn empty() -> Self {
        Self {
            identities: Vec::new(),
            sources: Vec::new(),
            command: None,
            pgp: pgp::PgpKeys::default(),
        }
    }

    /// Where the identities came from (file paths and variable names), for messages.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// The public keys (`age1...`) of the identities loaded so far: not those `SOPS_AGE_KEY_CMD`
    /// would print, since it runs only while a file is decrypted.
    pub fn recipients(&self) -> Vec<String> {
        self.identities
            .iter()
            .map(|i| i.to_public().to_string())
            .collect()
    }

    fn add_file(&mut self, path: &Path) -> Result<(), IdentityError> {
        let bytes = crate::bounded_read::file(path, MAX_KEY_FILE_BYTES).map_err(|source| {
            IdentityError::KeyFile {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|_| IdentityError::KeyFileNotUtf8 {
            path: path.to_path_buf(),
        })?;
        self.add_text(text, &path.display().to_string())
    }

    fn add_text(&mut self, text: &str, source: &str) -> Result<(), IdentityError> {
        self.identities.extend(parse_identities(text, source)?);
        self.sources.push(source.to_owned());
        Ok(())
    }
}

/// Identities from key-file text (`#` comments, one `AGE-SECRET-KEY-1...` per line).
fn parse_identities(text: &str, source: &str) -> Result<Vec<x25519::Identity>, IdentityError> {
    let mut identities = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let identity =
            x25519::Identity::from_str(line).map_err(|_| IdentityError::NotAnIdentity {
                source_name: source.to_owned(),
                line: number + 1,
            })?;
        identities.push(identity);
    }
    Ok(identities)
}

/// Age-decrypts one stanza's armored `enc` blob; `Ok(None)` when none of `identities` opens it.
fn unwrap_with(
    identities: &[x25519::Identity],
    stanza: &AgeStanza,
) -> Result<Option<Zeroizing<Vec<u8>>>, StanzaError> {
    let failed = |failure| StanzaError {
        recipient: stanza.recipient.clone(),
        failure,
    };
    let decryptor = age::Decryptor::new(ArmoredReader::new(stanza.enc.as_bytes()))
        .map_err(|e| failed(StanzaFailure::Malformed(Arc::new(e))))?;
    let identities = identities.iter().map(|i| i as &dyn age::Identity);
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
    let no_age_identity = identities.identities.is_empty() && identities.command.is_none();
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
    Ok(shamir_combine(&shares))
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
    let open = |stanza: &AgeStanza, with: &[x25519::Identity]| {
        unwrap_with(with, stanza).map_err(DecryptionError::Stanza)
    };
    for stanza in group.age() {
        if let Some(payload) = open(stanza, &identities.identities)? {
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
        if let Some(payload) = open(stanza, &printed)? {
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
) -> Result<Option<Vec<x25519::Identity>>, DecryptionError> {
    let output = match command.run(recipient) {
        Ok(output) => output,
        Err(CommandFailure::Exited(status)) => {
            failures.push(format!("{COMMAND_ENV}: {status} for {recipient}"));
            return Ok(None);
        }
        Err(CommandFailure::Broken(reason)) => return Err(reason.into()),
    };
    let text = std::str::from_utf8(&output).map_err(|_| KeyCommandError::OutputNotUtf8)?;
    Ok(Some(parse_identities(text, COMMAND_ENV)?))
}

fn no_match(metadata: &Metadata, identities: &Identities, failures: &[String]) -> DecryptionError {
    let keys = || metadata.key_groups.iter().flat_map(|g| g.keys.iter());
    let mut tried = identities.sources.clone();
    if keys().any(|key| matches!(key, MasterKey::Pgp(_))) {
        tried.push(identities.pgp.gnupg_source());
    }
    DecryptionError::NoMatchingIdentity {
        recipients: keys().map(MasterKey::describe).collect(),
        tried,
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
                "`{}` is not an age X25519 recipient (age1...)",
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

/// Encrypts a data key (or Shamir share) to one age X25519 recipient (`age1...`), ASCII-armored
/// as sops stores it in `enc` (SOPS_FORMAT.md §3.1).
pub(crate) fn wrap(payload: &[u8], recipient: &str) -> Result<String, RecipientError> {
    let failed = |failure| RecipientError {
        recipient: recipient.trim().to_owned(),
        failure,
    };
    let io = |e| failed(RecipientFailure::Io(Arc::new(e)));
    let recipient = parse_recipient(recipient)?;
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
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

/// An age X25519 recipient (`age1...`); other kinds (SSH keys, plugins) are not supported.
pub(crate) fn parse_recipient(text: &str) -> Result<x25519::Recipient, RecipientError> {
    x25519::Recipient::from_str(text.trim()).map_err(|_| RecipientError {
        recipient: text.trim().to_owned(),
        failure: RecipientFailure::NotX25519,
    })
}

/// Splits a secret into `parts` Shamir shares of which any `threshold` recover it, in the layout
/// HashiCorp's shamir package (which sops uses) writes: the y-bytes, then the x-coordinate.
pub(crate) fn shamir_split(
    secret: &[u8],
    parts: usize,
    threshold: usize,
) -> Vec<Zeroizing<Vec<u8>>> {
    debug_assert!((1..=parts).contains(&threshold) && parts <= 255);
    // Distinct non-zero x-coordinates, drawn at random.
    let mut xs: Vec<u8> = (1..=255).collect();
    for i in (1..xs.len()).rev() {
        let mut draw = [0u8; 2];
        fill_random(&mut draw);
        xs.swap(i, usize::from(u16::from_le_bytes(draw)) % (i + 1));
    }
    let mut shares: Vec<Zeroizing<Vec<u8>>> = xs[..parts]
        .iter()
        .map(|_| Zeroizing::new(Vec::with_capacity(secret.len() + 1)))
        .collect();
    let mut coefficients = Zeroizing::new(vec![0u8; threshold.saturating_sub(1)]);
    for &byte in secret {
        fill_random(&mut coefficients);
        for (share, &x) in shares.iter_mut().zip(&xs) {
            // Horner's rule: byte + c1 x + c2 x^2 + ...
            let mut y = 0u8;
            for &c in coefficients.iter().rev() {
                y = gf_mul(y ^ c, x);
            }
            share.push(y ^ byte);
        }
    }
    for (share, &x) in shares.iter_mut().zip(&xs) {
        share.push(x);
    }
    shares
}

/// Combines Shamir shares (32 y-bytes then the x-byte) by Lagrange interpolation at x = 0 over
/// GF(2^8) with the AES polynomial 0x11B, as HashiCorp's shamir package that sops uses.
fn shamir_combine(shares: &[Zeroizing<Vec<u8>>]) -> Zeroizing<Vec<u8>> {
    let xs: Vec<u8> = shares.iter().map(|s| s[32]).collect();
    let mut secret = Zeroizing::new(vec![0u8; 32]);
    for (k, share) in shares.iter().enumerate() {
        // basis_k(0) = prod_{j != k} x_j / (x_k xor x_j)
        let mut basis = 1u8;
        for (j, &xj) in xs.iter().enumerate() {
            if j != k {
                basis = gf_mul(basis, gf_div(xj, xs[k] ^ xj));
            }
        }
        for (byte, &y) in secret.iter_mut().zip(&share[..32]) {
            *byte ^= gf_mul(y, basis);
        }
    }
    secret
}

fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            product ^= a;
        }
        let carry = a & 0x80;
        a <<= 1;
        if carry != 0 {
            a ^= 0x1B;
        }
        b >>= 1;
    }
    product
}

/// a / b in GF(2^8); b^-1 = b^254. Division by zero (duplicate x coordinates) gives 0.
fn gf_div(a: u8, b: u8) -> u8 {
    let mut inverse = 1u8;
    for _ in 0..254 {
        inverse = gf_mul(inverse, b);
    }
    gf_mul(a, inverse)
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
    fn gf_arithmetic_inverts() {
        for a in 1..=255u8 {
            assert_eq!(gf_mul(gf_div(1, a), a), 1, "{a}");
        }
        assert_eq!(gf_mul(0x57, 0x83), 0xC1); // FIPS-197 §4.2
    }

    #[test]
    fn split_shares_recombine_from_any_threshold_subset() {
        let secret: Vec<u8> = (0..32).map(|i| i * 7).collect();
        let shares = shamir_split(&secret, 3, 2);
        assert!(shares.iter().all(|s| s.len() == 33));
        for (a, b) in [(0, 1), (1, 2), (2, 0)] {
            let pair = [shares[a].clone(), shares[b].clone()];
            assert_eq!(shamir_combine(&pair).as_slice(), secret.as_slice());
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
            identities: vec![identity],
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

    #[test]
    fn two_shares_of_a_line_give_its_value_at_zero() {
        // f(x) = s + c*x per byte; shares at x = 1 and x = 2.
        let secret: Vec<u8> = (0..32).collect();
        let coefficient: Vec<u8> = (100..132).collect();
        let share = |x: u8| {
            let mut s: Vec<u8> = secret
                .iter()
                .zip(&coefficient)
                .map(|(&s, &c)| s ^ gf_mul(c, x))
                .collect();
            s.push(x);
            Zeroizing::new(s)
        };
        assert_eq!(
            shamir_combine(&[share(1), share(2)]).as_slice(),
            secret.as_slice()
        );
        assert_eq!(
            shamir_combine(&[share(7), share(3)]).as_slice(),
            secret.as_slice()
        );
    }
}
