//! Setting up a folder for SOPS with age: a fresh identity, a `.sops.yaml` that encrypts to it and a
//! starter config that reads the encrypted file with it.
//!
//! [`init`] writes three files into a folder, and either all three or none of them:
//!
//! - [`KEY_FILE_NAME`]: a new age X25519 identity in the file format of `age-keygen` (a `created`
//!   and a `public key` comment, then the `AGE-SECRET-KEY-1...` line). On Unix it is created with
//!   mode 0600 from the start, never readable by others even for a moment.
//! - [`SOPS_CONFIG_NAME`]: one sops creation rule that encrypts every `.yaml`, `.yml`, `.json`,
//!   `.env` and `.ini` file of the folder and below to that identity's recipient.
//! - [`CONFIG_NAME`]: a commented config with an `env` layer (prefix `APP`) and then a `sops` layer
//!   reading `secrets.enc.yaml` with `age-key.txt`.
//!
//! Nothing is ever overwritten: if any of the three exists, nothing is written. Every file is
//! created with `O_CREAT | O_EXCL`, so a file that appears between the check and the write is not
//! overwritten either; the files already written by this call are then removed again.
//!
//! What is not guaranteed: the secret key is on disk in plaintext (that is the age key file format),
//! protected only by its mode; on platforms other than Unix it gets the folder's default
//! permissions. A folder created by [`init`] is left in place if writing fails.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::timestamp::rfc3339_utc;

use age::secrecy::ExposeSecret;
use zeroize::Zeroizing;

/// The name of the age key file [`init`] writes.
pub const KEY_FILE_NAME: &str = "age-key.txt";
/// The name of the sops config file [`init`] writes.
pub const SOPS_CONFIG_NAME: &str = ".sops.yaml";
/// The name of the secret-cascade config file [`init`] writes.
pub const CONFIG_NAME: &str = "secret-cascade.yml";

/// The starter config. Its paths are relative to its own folder, where the key file is written.
const STARTER_CONFIG: &str = "\
# secret-cascade config, written by `secret-cascade init`; its reference is docs/config.md.
# Layers are asked in order; the first one that has the name wins. Relative paths are taken from
# this file's folder, not the current directory.
providers:
  # Environment variables first, so that a deployment can override the file:
  # database.password is read from APP__DATABASE__PASSWORD. Rename APP after your application.
  - kind: env
    prefix: APP
  # Then the SOPS file, decrypted in process with the age identity next to this file.
  - kind: sops
    path: secrets.enc.yaml
    age_key_file: age-key.txt
";

/// Creates [`KEY_FILE_NAME`], [`SOPS_CONFIG_NAME`] and [`CONFIG_NAME`] in `dir`, creating `dir`
/// (and its parents) if it does not exist.
///
/// Returns the paths written and the new identity's public key (its recipient); the secret key is
/// only ever in the key file. Fails with [`InitError::Exists`] without writing anything if any of
/// the three files exists, and with [`InitError::Io`] if a folder or file cannot be created or
/// written; the files this call had already written are then removed.
pub fn init(dir: &Path) -> Result<InitReport, InitError> {
    let key_file = dir.join(KEY_FILE_NAME);
    let sops_config = dir.join(SOPS_CONFIG_NAME);
    let config = dir.join(CONFIG_NAME);

    let mut existing = Vec::new();
    for path in [&key_file, &sops_config, &config] {
        // `symlink_metadata`: a dangling symlink also blocks `create_new`, so it counts as a file.
        match fs::symlink_metadata(path) {
            Ok(_) => existing.push(path.clone()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(InitError::io("check", path, source)),
        }
    }
    if !existing.is_empty() {
        return Err(InitError::Exists { paths: existing });
    }
    fs::create_dir_all(dir).map_err(|source| InitError::io("create the folder", dir, source))?;

    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let key_text = key_file_text(&identity, &recipient, SystemTime::now());
    drop(identity);

    let mut written = NewFiles::default();
    written.create(&key_file, key_text.as_bytes(), FileMode::OwnerOnly)?;
    written.create(
        &sops_config,
        sops_config_text(&recipient).as_bytes(),
        FileMode::Default,
    )?;
    written.create(&config, STARTER_CONFIG.as_bytes(), FileMode::Default)?;
    sync_folder(dir)?;
    written.keep();

    Ok(InitReport {
        key_file,
        sops_config,
        config,
        recipient,
    })
}

/// What [`init`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InitReport {
    /// The age key file: `dir/age-key.txt`.
    pub key_file: PathBuf,
    /// The sops config: `dir/.sops.yaml`.
    pub sops_config: PathBuf,
    /// The starter secret-cascade config: `dir/secret-cascade.yml`.
    pub config: PathBuf,
    /// The new identity's public key (`age1...`), the recipient in `.sops.yaml`.
    pub recipient: String,
}

/// Why [`init`] wrote nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// Some of the files exist already; they are left as they were.
    #[error(
        "refusing to overwrite {}; nothing was written (move {} away or use another --dir)",
        PathList(paths),
        if paths.len() == 1 { "it" } else { "them" }
    )]
    Exists {
        /// The files that exist, in the order `age-key.txt`, `.sops.yaml`, `secret-cascade.yml`.
        paths: Vec<PathBuf>,
    },

    /// A folder or file could not be created, written or checked.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done: `check`, `create the folder`, `write`, `sync`.
        action: &'static str,
        /// The folder or file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

impl InitError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Formats paths as `a`, `a and b`, `a, b and c`.
struct PathList<'a>(&'a [PathBuf]);

impl fmt::Display for PathList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, path) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(if index + 1 == self.0.len() {
                    " and "
                } else {
                    ", "
                })?;
            }
            write!(f, "{}", path.display())?;
        }
        Ok(())
    }
}

/// The files one [`init`] call created; removed again on drop unless [`NewFiles::keep`] was called,
/// so that a failure halfway leaves nothing behind.
#[derive(Default)]
struct NewFiles {
    paths: Vec<PathBuf>,
    kept: bool,
}

/// Who may read a file [`NewFiles::create`] makes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FileMode {
    /// 0600 on Unix.
    OwnerOnly,
    /// 0666 minus the umask.
    Default,
}

impl NewFiles {
    /// Creates `path` (failing if it exists), writes `contents` and syncs it to disk.
    fn create(&mut self, path: &Path, contents: &[u8], mode: FileMode) -> Result<(), InitError> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if mode == FileMode::OwnerOnly {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(path).map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                InitError::Exists {
                    paths: vec![path.to_path_buf()],
                }
            } else {
                InitError::io("write", path, source)
            }
        })?;
        self.paths.push(path.to_path_buf());
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .map_err(|source| InitError::io("write", path, source))
    }

    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for NewFiles {
    fn drop(&mut self) {
        if !self.kept {
            for path in self.paths.iter().rev() {
                // Best effort: the error being returned is the one worth reporting.
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// Makes the new directory entries durable: losing the key file after secrets were encrypted to
/// it would lose the secrets.
fn sync_folder(dir: &Path) -> Result<(), InitError> {
    // Only Unix can open a folder to sync it.
    if cfg!(unix) {
        File::open(dir)
            .and_then(|folder| folder.sync_all())
            .map_err(|source| InitError::io("sync", dir, source))?;
    }
    Ok(())
}

/// The key file in `age-keygen`'s format. Every copy of the secret key is in a zeroizing buffer.
fn key_file_text(
    identity: &age::x25519::Identity,
    recipient: &str,
    created: SystemTime,
) -> Zeroizing<String> {
    let secret = identity.to_string();
    let secret = secret.expose_secret();
    let header = format!(
        "# created: {}\n# public key: {recipient}\n",
        rfc3339_utc(created)
    );
    // Sized up front: a growing `String` would leave copies of the key in freed buffers.
    let mut text = Zeroizing::new(String::with_capacity(header.len() + secret.len() + 1));
    text.push_str(&header);
    text.push_str(secret);
    text.push('\n');
    text
}

/// One creation rule encrypting YAML, JSON, dotenv and INI files to `recipient`.
///
/// sops (and `secret-cascade encrypt`) match `path_regex` against the file being encrypted, the
/// cleartext `secrets.yaml`, and `sops edit` against the encrypted `secrets.enc.yaml`: the rule
/// matches both.
fn sops_config_text(recipient: &str) -> String {
    format!(
        "# sops creation rules, written by `secret-cascade init`.\n\
         creation_rules:\n  \
           - path_regex: \\.(ya?ml|json|env|ini)$\n    \
             age: {recipient}\n"
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn key_file_text_is_in_age_keygen_format() {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let text = key_file_text(
            &identity,
            &recipient,
            UNIX_EPOCH + Duration::from_secs(1_795_375_800),
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "# created: 2026-11-22T19:30:00Z");
        assert_eq!(lines[1], format!("# public key: {recipient}"));
        let parsed: age::x25519::Identity = lines[2].parse().expect("the key line parses");
        assert_eq!(parsed.to_public().to_string(), recipient);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn new_files_are_removed_again_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("first"), dir.path().join("second"));
        let mut written = NewFiles::default();
        written.create(&first, b"1", FileMode::OwnerOnly).unwrap();
        // A file that appeared after the check is reported, not overwritten.
        fs::write(&second, "theirs").unwrap();
        match written.create(&second, b"2", FileMode::Default) {
            Err(InitError::Exists { paths }) => assert_eq!(paths, std::slice::from_ref(&second)),
            other => panic!("expected InitError::Exists, got {other:?}"),
        }
        drop(written);
        assert!(!first.exists(), "the file this call wrote is removed");
        assert_eq!(fs::read_to_string(&second).unwrap(), "theirs");

        let mut written = NewFiles::default();
        written.create(&first, b"1", FileMode::Default).unwrap();
        written.keep();
        assert_eq!(fs::read_to_string(&first).unwrap(), "1");
    }

    #[test]
    fn path_list_joins_with_commas_and_and() {
        let paths: Vec<PathBuf> = ["a", "b", "c"].iter().map(PathBuf::from).collect();
        assert_eq!(PathList(&paths[..1]).to_string(), "a");
        assert_eq!(PathList(&paths[..2]).to_string(), "a and b");
        assert_eq!(PathList(&paths).to_string(), "a, b and c");
    }
}
