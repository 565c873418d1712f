//! A temporary GnuPG home per test: keys generated or imported into it, gpg-agent stopped when
//! it is dropped. gpg is Debian's `gnupg` (scripts/test installs it); without it every test that
//! uses this panics.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// A `GNUPGHOME` of its own (mode 0700, as gpg wants), short enough for the agent's socket path.
pub struct GnuPgHome {
    dir: TempDir,
}

impl GnuPgHome {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gpg")
            .tempdir_in("/tmp")
            .expect("temp dir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs gpg in this home with `args`; panics (naming the command) if it fails.
    #[track_caller]
    pub fn gpg(&self, args: &[&str]) -> Output {
        let output = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!("gpg cannot run ({e}): this test needs GnuPG (Debian `gnupg`)")
            });
        assert!(
            output.status.success(),
            "gpg {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// A gpg command in this home.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("gpg");
        cmd.env("GNUPGHOME", self.path()).arg("--batch");
        cmd
    }

    /// Generates a key without a passphrase: a `primary` certification and signing key (`rsa3072`,
    /// `ed25519`) with a `subkey` for encryption (`rsa3072`, `cv25519`); returns its fingerprint.
    pub fn generate(&self, name: &str, primary: &str, subkey: &str) -> String {
        self.generate_locked(name, primary, subkey, "")
    }

    /// [`GnuPgHome::generate`] with the secret keys protected by `passphrase`.
    pub fn generate_locked(
        &self,
        name: &str,
        primary: &str,
        subkey: &str,
        passphrase: &str,
    ) -> String {
        let uid = format!("{name} <{name}@example.org>");
        self.gpg_with(
            passphrase,
            &["--quick-gen-key", &uid, primary, "cert,sign", "never"],
        );
        let fingerprint = self.fingerprint(&uid);
        self.gpg_with(
            passphrase,
            &["--quick-add-key", &fingerprint, subkey, "encr", "never"],
        );
        fingerprint
    }

    /// [`GnuPgHome::gpg`] with `passphrase` given on the command line (no pinentry).
    #[track_caller]
    pub fn gpg_with(&self, passphrase: &str, args: &[&str]) -> Output {
        let mut all = vec!["--passphrase", passphrase, "--pinentry-mode", "loopback"];
        all.extend(args);
        self.gpg(&all)
    }

    /// The fingerprint of the primary key of `user`.
    pub fn fingerprint(&self, user: &str) -> String {
        let listed = self.gpg(&["--with-colons", "--list-keys", user]);
        String::from_utf8_lossy(&listed.stdout)
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_owned())
            })
            .expect("a fingerprint")
    }

    /// Imports a key file.
    pub fn import(&self, key_file: &Path) {
        self.gpg(&["--import", &key_file.display().to_string()]);
    }

    /// `gpg --armor --export-secret-keys FP` into `path`.
    pub fn export_secret(&self, fingerprint: &str, path: &Path) -> PathBuf {
        let exported = self.gpg(&["--armor", "--export-secret-keys", fingerprint]);
        std::fs::write(path, &exported.stdout).unwrap();
        path.to_path_buf()
    }
}

impl Drop for GnuPgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.path())
            .args(["--kill", "gpg-agent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
