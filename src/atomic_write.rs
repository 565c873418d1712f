//! Writing a file so that readers see the old content or the new, never a mix: a temporary file
//! in the same folder, written and flushed to disk, renamed over the target, the folder flushed.
//! A crash or kill at any point leaves the old file intact (at worst with a stray
//! `.NAME.secret-cascade-*` temporary file beside it).
//!
//! A path that is a symbolic link is written *through*: the file it points to is replaced and the
//! link stays, as sops (which rewrites the file it opened) does. A link is how a shared file is
//! named in several places; replacing the link instead would leave the shared file as it was
//! while reporting success. The replaced file's owner and group are kept (which takes root when
//! they are another user's).
//!
//! Edits of one file are serialized by an advisory lock (`flock`) on its folder: two `set`s on one
//! file both land, one after the other, instead of the later one losing the earlier one's change.
//! Anyone who can read the folder can take that lock, so it is waited for a bounded time only.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The permission bits of the file [`write()`] puts in place (Unix; ignored elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An edit of the file: the replaced file's permission bits are kept; a new file gets these.
    KeepOr(u32),
    /// New content: these bits, whatever the replaced file had (`encrypt --output` onto a file
    /// that was world-readable does not make the result world-readable).
    Fixed(u32),
}

/// Replaces the file at `path` (or, if `path` is a symbolic link, the file it points to) with
/// `bytes` atomically, with the permission bits `mode` says and the replaced file's owner and
/// group.
pub fn write(path: &Path, bytes: &[u8], mode: Mode) -> io::Result<()> {
    let target = resolve(path)?;
    let folder = folder_of(&target);
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))?;
    let existing = match std::fs::metadata(&target) {
        Ok(metadata) => Some(metadata),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let bits = match (mode, &existing) {
        (Mode::Fixed(bits), _) | (Mode::KeepOr(bits), None) => bits,
        (Mode::KeepOr(_), Some(metadata)) => permission_bits(metadata),
    };
    let (temporary, mut file) = create_temporary(&folder, &name.to_string_lossy(), bits)?;
    let result = (|| {
        if let Some(metadata) = &existing {
            keep_owner(&file, metadata, &target)?;
        }
        // After the owner: chown clears set-id bits. The mode given at creation is narrowed by
        // the umask; this sets it exactly.
        set_permission_bits(&file, bits)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, &target)?;
        sync_folder(&folder)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// The file `path` names: itself, or the end of its chain of symbolic links (a link to a file
/// that does not exist yet resolves to that file's path, which is then created).
pub fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    // As the kernel does (ELOOP after 40), a cycle is an error, not a hang.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)?;
                current = folder_of(&current).join(link);
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

#[cfg(unix)]
fn permission_bits(metadata: &std::fs::Metadata) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o7777
}

#[cfg(not(unix))]
fn permission_bits(_: &std::fs::Metadata) -> u32 {
    0o600
}

fn set_permission_bits(file: &File, bits: u32) -> io::Result<()> {
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(bits))?;
    #[cfg(not(unix))]
    let _ = (file, bits);
    Ok(())
}

/// Gives the new file the replaced file's owner and group. Changing the owner takes root;
/// rather than quietly handing another user's file to the caller, a failure is an error.
#[cfg(unix)]
fn keep_owner(file: &File, replaced: &std::fs::Metadata, target: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let new = file.metadata()?;
    if (new.uid(), new.gid()) == (replaced.uid(), replaced.gid()) {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(replaced.uid()), Some(replaced.gid())).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot keep the owner and group ({}:{}) of {}: {e}; run as that user or as root",
                replaced.uid(),
                replaced.gid(),
                target.display()
            ),
        )
    })
}

#[cfg(not(unix))]
fn keep_owner(_: &File, _: &std::fs::Metadata, _: &Path) -> io::Result<()> {
    Ok(())
}

/// Holds the edit lock of a file's folder until dropped.
#[derive(Debug)]
pub struct EditLock {
    _folder: File,
}

/// How long [`lock`] waits by default for another edit to finish.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Takes the edit lock for `path` (an advisory lock on the folder of the file it names, links
/// followed), waiting at most `timeout` for whoever holds it. Past that, the error names the
/// folder so that the holder can be found (`fuser -v FOLDER`).
pub fn lock(path: &Path, timeout: Duration) -> io::Result<EditLock> {
    let folder_path = folder_of(&resolve(path)?);
    let folder = File::open(&folder_path)?;
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        match folder.try_lock() {
            Ok(()) => return Ok(EditLock { _folder: folder }),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
            Err(std::fs::TryLockError::WouldBlock) => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "another process holds the edit lock (flock) on the folder {} and did not \
                     release it within {:.1} s; find it with `fuser -v {}`, or wait longer \
                     (--lock-timeout, SECRET_CASCADE_LOCK_TIMEOUT)",
                    folder_path.display(),
                    timeout.as_secs_f64(),
                    folder_path.display()
                ),
            ));
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A new file `.NAME.secret-cascade-XXXXXXXX` in `folder`, created exclusively.
fn create_temporary(folder: &Path, name: &str, mode: u32) -> io::Result<(PathBuf, File)> {
    loop {
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).map_err(io::Error::other)?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let temporary = folder.join(format!(".{name}.secret-cascade-{suffix}"));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        match options.open(&temporary) {
            Ok(file) => return Ok((temporary, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Flushes the folder's entry for the renamed file (Unix; elsewhere a no-op).
fn sync_folder(folder: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(folder)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = folder;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    fn chmod(path: &Path, bits: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(bits)).unwrap();
    }

    #[test]
    fn replaces_content_and_keeps_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.yaml");
        write(&path, b"one", Mode::KeepOr(0o600)).unwrap();
        #[cfg(unix)]
        {
            assert_eq!(mode(&path), 0o600);
            chmod(&path, 0o640);
            write(&path, b"two", Mode::KeepOr(0o600)).unwrap();
            assert_eq!(mode(&path), 0o640);
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }

    #[cfg(unix)]
    #[test]
    fn a_fixed_mode_replaces_a_loose_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.enc.yaml");
        std::fs::write(&path, b"old").unwrap();
        chmod(&path, 0o644);
        write(&path, b"new", Mode::Fixed(0o600)).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("shared")).unwrap();
        let real = dir.path().join("shared/real.yaml");
        std::fs::write(&real, b"old").unwrap();
        chmod(&real, 0o640);
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink("shared/real.yaml", &link).unwrap();
        let chained = dir.path().join("chained.yaml");
        std::os::unix::fs::symlink("link.yaml", &chained).unwrap();
        write(&chained, b"new", Mode::KeepOr(0o600)).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::symlink_metadata(&chained)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert_eq!(mode(&real), 0o640);
        let stray: Vec<_> = std::fs::read_dir(dir.path().join("shared"))
            .unwrap()
            .collect();
        assert_eq!(stray.len(), 1, "the temporary file lived beside the target");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_cycle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::os::unix::fs::symlink("b", &a).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        let error = write(&a, b"x", Mode::KeepOr(0o600)).unwrap_err();
        assert!(error.to_string().contains("too many levels"), "{error}");
    }

    #[test]
    fn a_held_lock_is_waited_for_a_bounded_time_then_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.yaml");
        let held = lock(&path, Duration::ZERO).unwrap();
        let error = lock(&path, Duration::from_millis(50)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(
            error
                .to_string()
                .contains(&dir.path().display().to_string()),
            "{error}"
        );
        drop(held);
        // Not zero: a process another test forks at this moment shares the lock's open file
        // until it execs, and may hold it for that instant.
        lock(&path, Duration::from_secs(10)).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"old").unwrap();
        let missing = dir.path().join("no-such-folder").join("f");
        assert!(write(&missing, b"new", Mode::KeepOr(0o600)).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
    }
}
