//! Passphrase-protected age identity files: a key file that is itself age-encrypted to a
//! passphrase (`age -p`, binary or armored), as sops 3.11 reads them. The passphrase is asked on
//! the terminal the first time a stanza needs an identity, once; the decrypted identities are
//! then kept for the process, parsed like any key file.

use std::io::Read;
use std::sync::Mutex;

use age::DecryptError;
use age::armor::ArmoredReader;
use age_core::format::{FileKey, Stanza};
use zeroize::Zeroizing;

use super::keys::{AgeIdentity, parse_identity_lines};
use super::passphrase;

/// Whether key-file bytes are an age-encrypted file rather than identity lines (sops looks at
/// the first 14 bytes the same way).
pub(crate) fn is_encrypted(bytes: &[u8]) -> bool {
    bytes.starts_with(b"age-encryption") || bytes.starts_with(b"-----BEGIN AGE")
}

/// An encrypted identity file as an age identity. No `Debug`: once opened it holds keys.
pub(crate) struct EncryptedIdentityFile {
    source: String,
    state: Mutex<State>,
}

enum State {
    Encrypted(Zeroizing<Vec<u8>>),
    Opened(Vec<AgeIdentity>),
    /// A wrong passphrase or a broken file: asked once, not again.
    Failed(String),
}

impl EncryptedIdentityFile {
    /// The encrypted file `bytes`, read from `source` (a path or a variable name).
    pub(crate) fn new(bytes: &[u8], source: &str) -> Self {
        Self {
            source: source.to_owned(),
            state: Mutex::new(State::Encrypted(Zeroizing::new(bytes.to_vec()))),
        }
    }

    fn open(&self, encrypted: &[u8]) -> Result<Vec<AgeIdentity>, String> {
        let source = &self.source;
        let decryptor = age::Decryptor::new(ArmoredReader::new(encrypted))
            .map_err(|e| format!("the encrypted age identity file {source} is malformed: {e}"))?;
        if !decryptor.is_scrypt() {
            return Err(format!(
                "the age identity file {source} is encrypted, but not to a passphrase"
            ));
        }
        let prompt = format!("Enter passphrase for identity '{source}':");
        let passphrase = passphrase::read(&prompt, source).map_err(|e| e.to_string())?;
        let identity = age::scrypt::Identity::new(passphrase);
        let mut reader = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .map_err(|e| match e {
                DecryptError::DecryptionFailed | DecryptError::NoMatchingKeys => {
                    format!("incorrect passphrase for the age identity file {source}")
                }
                e => format!("cannot decrypt the age identity file {source}: {e}"),
            })?;
        let mut text = Zeroizing::new(Vec::new());
        reader
            .read_to_end(&mut text)
            .map_err(|e| format!("cannot decrypt the age identity file {source}: {e}"))?;
        let text = std::str::from_utf8(&text)
            .map_err(|_| format!("the decrypted age identity file {source} is not UTF-8"))?;
        Ok(parse_identity_lines(text, source))
    }
}

impl age::Identity for EncryptedIdentityFile {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, DecryptError>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let State::Encrypted(bytes) = &*state {
            *state = match self.open(bytes) {
                Ok(identities) => State::Opened(identities),
                Err(reason) => State::Failed(reason),
            };
        }
        match &*state {
            State::Opened(identities) => identities
                .iter()
                .find_map(|identity| identity.key().unwrap_stanza(stanza)),
            State::Failed(reason) => {
                Some(Err(DecryptError::Io(std::io::Error::other(reason.clone()))))
            }
            State::Encrypted(_) => None,
        }
    }
}
