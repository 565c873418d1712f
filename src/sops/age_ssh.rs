//! SSH keys as age identities and recipients (age's `ssh-ed25519` and `ssh-rsa` stanzas), as
//! sops 3.11 uses them: `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, `~/.ssh/id_ed25519` and `~/.ssh/id_rsa`
//! as identities, `ssh-ed25519 AAAA...` / `ssh-rsa AAAA...` public keys as recipients.
//!
//! An encrypted OpenSSH key asks for its passphrase on the terminal, once, and only when a
//! stanza is for that key (the stanza's tag is the first four bytes of the SHA-256 of the public
//! key, which an OpenSSH key file carries in clear, or a legacy PEM key's `.pub` file beside it).

use std::fmt;
use std::io::BufReader;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;

use age::DecryptError;
use age_core::format::{FileKey, Stanza};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

use super::keys::AgeIdentity;
use super::passphrase;

/// The largest SSH private key file read; an RSA-16384 key is under 13 KiB.
const MAX_SSH_KEY_BYTES: u64 = 64 << 10;

/// Why an SSH private key file cannot be used. Names the file, never its contents.
#[derive(Debug, Clone)]
pub(crate) enum SshKeyError {
    /// The file could not be read.
    Read(crate::bounded_read::ReadError),
    /// Not an SSH private key age can use (ed25519 or RSA, OpenSSH or PEM).
    Unsupported,
    /// An encrypted key whose public key is in neither the file nor a `.pub` beside it.
    NoPublicKey,
}

impl fmt::Display for SshKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(e) => write!(f, "{e}"),
            Self::Unsupported => f.write_str(
                "not an SSH private key age can use (ssh-ed25519 or ssh-rsa, unencrypted or \
                 passphrase-protected OpenSSH format)",
            ),
            Self::NoPublicKey => f.write_str(
                "an encrypted key without its public key: put the matching .pub file beside it",
            ),
        }
    }
}

/// Reads an SSH private key file as an age identity.
pub(crate) fn identity_from_file(path: &Path) -> Result<AgeIdentity, SshKeyError> {
    let bytes = crate::bounded_read::file(path, MAX_SSH_KEY_BYTES).map_err(SshKeyError::Read)?;
    let bytes = zeroize::Zeroizing::new(bytes);
    let name = path.display().to_string();
    let key = age::ssh::Identity::from_buffer(BufReader::new(bytes.as_slice()), Some(name.clone()))
        .map_err(|_| SshKeyError::Unsupported)?;
    let public = openssh_public_key(&bytes).or_else(|| public_key_file(path));
    match key {
        age::ssh::Identity::Unencrypted(_) => Ok(AgeIdentity::new(Box::new(key), public, false)),
        age::ssh::Identity::Encrypted(_) => {
            let public = public.ok_or(SshKeyError::NoPublicKey)?;
            let (kind, tag) = stanza_tag(&public).ok_or(SshKeyError::NoPublicKey)?;
            let encrypted = EncryptedSshKey {
                path: name,
                kind,
                tag,
                key: Mutex::new(key),
            };
            Ok(AgeIdentity::new(Box::new(encrypted), Some(public), true))
        }
        age::ssh::Identity::Unsupported(_) => Err(SshKeyError::Unsupported),
    }
}

/// An SSH recipient (`ssh-ed25519 AAAA...`, `ssh-rsa AAAA...`, a comment allowed).
pub(crate) fn recipient(text: &str) -> Option<age::ssh::Recipient> {
    age::ssh::Recipient::from_str(text).ok()
}

/// An encrypted OpenSSH key, decrypted with a passphrase from the terminal the first time a
/// stanza for it is opened. No `Debug`: it holds a key.
struct EncryptedSshKey {
    path: String,
    /// `ssh-ed25519` or `ssh-rsa`.
    kind: String,
    /// The stanza argument that names this key.
    tag: String,
    /// The key: encrypted until decrypted once.
    key: Mutex<age::ssh::Identity>,
}

impl age::Identity for EncryptedSshKey {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, DecryptError>> {
        if stanza.tag != self.kind || stanza.args.first() != Some(&self.tag) {
            return None;
        }
        let mut key = self.key.lock().unwrap_or_else(|e| e.into_inner());
        if let age::ssh::Identity::Encrypted(encrypted) = &*key {
            let prompt = format!("Enter passphrase for \"{}\":", self.path);
            let passphrase = match passphrase::read(&prompt, &self.path) {
                Ok(passphrase) => passphrase,
                Err(e) => return Some(Err(DecryptError::Io(e))),
            };
            match encrypted.decrypt(passphrase) {
                Ok(decrypted) => *key = age::ssh::Identity::Unencrypted(decrypted),
                Err(e) => return Some(Err(e)),
            }
        }
        age::Identity::unwrap_stanza(&*key, stanza)
    }
}

/// `ssh-ed25519 AAAA...` from an OpenSSH private key file, whose public key is in clear
/// (PROTOCOL.key: magic, cipher, KDF, KDF options, key count, then the first public key).
fn openssh_public_key(file: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(file).ok()?;
    let body: String = text
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "-----BEGIN OPENSSH PRIVATE KEY-----")
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let bytes = STANDARD.decode(body).ok()?;
    let mut rest = bytes.strip_prefix(b"openssh-key-v1\0")?;
    for _ in 0..3 {
        read_string(&mut rest)?;
    }
    let (count, tail) = rest.split_first_chunk::<4>()?;
    if u32::from_be_bytes(*count) != 1 {
        return None;
    }
    rest = tail;
    let blob = read_string(&mut rest)?;
    let mut inner = blob;
    let kind = std::str::from_utf8(read_string(&mut inner)?).ok()?;
    Some(format!("{kind} {}", STANDARD.encode(blob)))
}

/// The `.pub` file beside a private key, without its comment.
fn public_key_file(private: &Path) -> Option<String> {
    let mut name = private.as_os_str().to_owned();
    name.push(".pub");
    let bytes = crate::bounded_read::file(Path::new(&name), MAX_SSH_KEY_BYTES).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let mut words = text.split_whitespace();
    let public = format!("{} {}", words.next()?, words.next()?);
    recipient(&public).map(|_| public)
}

/// The stanza's tag and argument for an SSH public key: its type and the unpadded base64 of
/// the first four bytes of the SHA-256 of the key blob.
fn stanza_tag(public: &str) -> Option<(String, String)> {
    let (kind, blob) = public.split_once(' ')?;
    let blob = STANDARD.decode(blob.split_whitespace().next()?).ok()?;
    let digest = Sha256::digest(&blob);
    Some((kind.to_owned(), STANDARD_NO_PAD.encode(&digest[..4])))
}

fn read_string<'a>(input: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (length, rest) = input.split_first_chunk::<4>()?;
    let length = usize::try_from(u32::from_be_bytes(*length)).ok()?;
    if rest.len() < length {
        return None;
    }
    let (string, rest) = rest.split_at(length);
    *input = rest;
    Some(string)
}
