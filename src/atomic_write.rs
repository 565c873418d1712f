//! Writing a file so that readers see the old content or the new, never a mix: a temporary file
//! in the same folder, written and flushed to disk, renamed over the target, the folder flushed.
//! A crash or kill at any point leaves the old file intact (at worst with a stray
//! `.NAME.secret-cascade-*` temporary file beside it).
//!
//! Edits of one file are serialized by an advisory lock (`flock`) on its folder: two `set`s on one
//! file both land, one after the other, instead of the later one losing the earlier one's change.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes` atomically. An existing file's permissions are kept; a new file
/// gets `new_mode` (Unix; e.g. `0o600`).
pub fn write(path: &Path, bytes: &[u8], new_mode: u32) -> io::Result<()> {
    let folder = folder_of(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))?;
    let permissions = match std::fs::metadata(path) {
        Ok(metadata) => Some(metadata.permissions()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let (temporary, mut file) = create_temporary(&folder, &name.to_string_lossy(), new_mode)?;
    let result = (|| {
        if let Some(permissions) = permissions {
            file.set_permissions(permissions)?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, path)?;
        sync_folder(&folder)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Holds the edit lock of a file's folder until dropped.
#[derive(Debug)]
pub struct EditLock {
    _folder: File,
}

/// Waits for, then takes, the edit lock for `path` (an advisory lock on its folder).
pub fn lock(path: &Path) -> io::Result<EditLock> {
    let folder = File::open(folder_of(path))?;
    folder.lock()?;
    Ok(EditLock { _folder: folder })
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

    #[test]
    fn replaces_content_and_keeps_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.yaml");
        write(&path, b"one", 0o600).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
            write(&path, b"two", 0o600).unwrap();
            assert_eq!(mode(&path), 0o640);
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"old").unwrap();
        let missing = dir.path().join("no-such-folder").join("f");
        assert!(write(&missing, b"new", 0o600).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
    }
}
