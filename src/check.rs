//! The words of a health check: a [`Check`] (one finding, with its [`Status`]), a layer's checks
//! ([`LayerDiagnosis`]), and the check every file-based layer makes of a file holding secrets or
//! keys. Providers report these from [`crate::Provider::diagnose`]; `secret-cascade doctor`
//! prints them.

use crate::words::words;
use std::path::Path;

/// One layer's checks, under its label (`env`, `sops:/etc/app/secrets.yaml`, or `config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDiagnosis {
    label: String,
    checks: Vec<Check>,
}

impl LayerDiagnosis {
    /// A layer's checks under its label.
    pub fn new(label: impl Into<String>, checks: Vec<Check>) -> Self {
        Self {
            label: label.into(),
            checks,
        }
    }

    /// The layer's label, as in errors.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The layer's checks, in the order it made them. Empty for a layer that has none.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// The worst status of the layer's checks; [`Status::Ok`] when it has none.
    pub fn status(&self) -> Status {
        self.checks
            .iter()
            .map(Check::status)
            .max()
            .unwrap_or(Status::Ok)
    }
}

/// One finding about a layer: its status, what it is about, and what was found.
///
/// Built by providers in [`crate::Provider::diagnose`]. The message is a sentence a user can act
/// on (`mode 0644 gives group or others access; run chmod 600 /srv/app/keys.txt`), and never
/// contains a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    status: Status,
    subject: String,
    message: String,
}

impl Check {
    /// A check that passed.
    pub fn ok(subject: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Status::Ok, subject, message)
    }

    /// Something works but deserves attention (loose file permissions, no variable with the
    /// prefix).
    pub fn warn(subject: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Status::Warn, subject, message)
    }

    /// Something keeps the layer from serving (a missing file, no key that opens it).
    pub fn fail(subject: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Status::Fail, subject, message)
    }

    /// A check with the given status.
    pub fn new(status: Status, subject: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            subject: subject.into(),
            message: message.into(),
        }
    }

    /// How it came out.
    pub fn status(&self) -> Status {
        self.status
    }

    /// What was checked, in a word or two: `file`, `key file`, `decryption`, `variables`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// What was found.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// How a [`Check`] came out, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but deserves attention.
    Warn,
    /// Keeps the layer (or the config) from serving.
    Fail,
}

words!(Status, "status" {
    Ok => "ok",
    Warn => "warn",
    Fail => "fail",
});

/// The check of a file that holds secrets or keys: [`Status::Ok`] with its mode when only its
/// owner has access, a warning naming the `chmod` that fixes it when group or others have any.
/// `None` where file modes do not exist (not Unix).
pub(crate) fn private_file(
    subject: &str,
    path: &Path,
    metadata: &std::fs::Metadata,
) -> Option<Check> {
    let mode = mode(metadata)?;
    Some(if mode & 0o077 == 0 {
        Check::ok(subject, format!("{}, mode {mode:04o}", path.display()))
    } else {
        Check::warn(
            subject,
            format!(
                "mode {mode:04o} gives group or others access; run chmod 600 {}",
                path.display()
            ),
        )
    })
}

/// The check of an encrypted file whose ciphertext may be shared (a SOPS file is meant to be
/// committed): any reader is fine, but a writer other than its owner could replace it with a
/// file encrypted to the owner's public key, holding values of their choosing. A warning naming
/// the `chmod` when group or others can write it. `None` where file modes do not exist.
pub(crate) fn unwritable_file(
    subject: &str,
    path: &Path,
    metadata: &std::fs::Metadata,
) -> Option<Check> {
    let mode = mode(metadata)?;
    Some(if mode & 0o022 == 0 {
        Check::ok(subject, format!("{}, mode {mode:04o}", path.display()))
    } else {
        Check::warn(
            subject,
            format!(
                "mode {mode:04o} lets group or others replace it with a file of their own \
                 encrypted to your public key; run chmod go-w {}",
                path.display()
            ),
        )
    })
}

/// A file's permission bits; `None` where file modes do not exist (not Unix).
#[cfg(unix)]
pub(crate) fn mode(metadata: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(metadata.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
pub(crate) fn mode(_metadata: &std::fs::Metadata) -> Option<u32> {
    None
}

/// `1 layer`, `3 layers`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_check_decides_and_no_checks_is_ok() {
        let layer = |checks| LayerDiagnosis::new("x", checks);
        assert_eq!(layer(vec![]).status(), Status::Ok);
        assert_eq!(
            layer(vec![Check::ok("a", ""), Check::warn("b", "")]).status(),
            Status::Warn
        );
        assert_eq!(
            layer(vec![Check::fail("a", ""), Check::warn("b", "")]).status(),
            Status::Fail
        );
    }

    #[cfg(unix)]
    #[test]
    fn files_open_to_group_or_others_are_warnings() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.txt");
        std::fs::write(&path, "").unwrap();
        let check_with = |mode| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            private_file("key file", &path, &std::fs::metadata(&path).unwrap()).unwrap()
        };
        assert_eq!(check_with(0o600).status(), Status::Ok);
        let loose = check_with(0o644);
        assert_eq!(loose.status(), Status::Warn);
        assert!(loose.message().contains("mode 0644"), "{}", loose.message());
        assert!(loose.message().contains("chmod 600"), "{}", loose.message());
    }
}
