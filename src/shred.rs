//! Secure deletion of a file: overwrite its contents in place, pass after pass, then unlink it.
//!
//! ```no_run
//! use std::path::Path;
//! use secret_cascade::shred::{self, ShredOptions, ShredOutcome};
//!
//! match shred::shred(Path::new("secrets.yaml"), &ShredOptions::default())? {
//!     ShredOutcome::Removed { bytes, passes } => println!("{bytes} bytes, {passes} passes"),
//!     ShredOutcome::AlreadyRemoved => println!("already removed"),
//! }
//! # Ok::<(), secret_cascade::shred::ShredError>(())
//! ```
//!
//! What [`shred`] does, with the default [`ShredOptions`]: it opens the existing file for writing
//! without truncating it (so every pass lands in the same inode and nothing new is created),
//! writes the file's exact length in random bytes, flushes it to the device with `fsync`, does
//! that again, then writes zeros and flushes once more: 3 passes in all, the last one zeros. Then
//! it unlinks the name. The number of passes is always exactly [`ShredOptions::passes`], whatever
//! the [`Method`]; zeroing the last pass replaces a random pass, it never adds one.
//!
//! A missing file is not an error ([`ShredOutcome::AlreadyRemoved`]): the goal, no file there, is
//! met. A directory, a symbolic link (its target is left alone; shredding through a link is how a
//! typo destroys the wrong file) and any other file that is not a regular file are refused.
//!
//! # What is not guaranteed
//!
//! Overwriting in place only reaches the blocks the file occupies *now*, through the filesystem.
//! It cannot reach:
//!
//! - Copy-on-write and log-structured filesystems (btrfs, ZFS, APFS, F2FS) and data journaling
//!   (ext3/ext4 with `data=journal`): a write goes to new blocks, and the old contents stay on the
//!   device until the space is reused.
//! - SSDs, SD cards and USB sticks: wear levelling and block remapping in the device's firmware
//!   put each write in a fresh cell; the old cells are invisible to the operating system. Use the
//!   device's secure erase, or full-disk encryption from the start.
//! - Snapshots (LVM, btrfs, ZFS, VM images), backups, cloud sync folders and version control.
//! - Copies made elsewhere: editor swap and backup files, the page cache of another mount, swap
//!   and hibernation files, a `tmpfs` that was swapped out.
//! - Other names of the same file: a hard link keeps the (now overwritten) inode alive under its
//!   other name, and the file's name itself may remain in the directory's blocks.
//!
//! On those systems the result is still a deleted file whose current blocks were overwritten,
//! which is better than a plain `rm`, but the old bytes may be recoverable. Keeping secrets
//! encrypted at rest (SOPS) is the protection; shredding a cleartext copy limits the damage.
//!
//! # Methods
//!
//! [`Method::Auto`] is the native overwrite, [`Method::Overwrite`]. It gives the same guarantees
//! as GNU `shred` on the file's contents (the same passes through the same inode, random bytes
//! from the operating system's generator), needs no other program, and flushes after every pass,
//! which `shred` does too. Nothing would be gained by preferring an external program when one is
//! found, and the behaviour would depend on the machine.
//!
//! [`Method::Command`] runs GNU coreutils `shred` on the file, then unlinks the name here. With
//! the last pass zeroing it runs `shred -n N-1 -z --exact -- FILE` (coreutils' `-z` *adds* a zero
//! pass, so N-1 random passes and the zero pass make N), otherwise `shred -n N --exact -- FILE`.
//! Without `shred` on `PATH` it fails with [`ShredError::CommandMissing`]; it never falls back to
//! the native overwrite behind the caller's back. Two coreutils options are deliberately not
//! used: `--exact` keeps `shred` from rounding the file up to a whole block (which changes its
//! length as its other names see it, and differs from the native overwrite), and `-u` is replaced by the unlink here because coreutils
//! truncates the file to zero bytes before removing it, which hides from the other names of the
//! file whether it was overwritten at all.

use crate::words::words;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// Overwrites the regular file at `path` as `options` say, flushing after each pass, then
/// unlinks it.
///
/// Returns [`ShredOutcome::AlreadyRemoved`] when nothing is at `path`. Refuses directories,
/// symbolic links (without touching their target) and other non-regular files, and a pass count
/// below 1, before anything is written.
///
/// Read the [module docs](self) for what overwriting in place cannot reach.
pub fn shred(path: &Path, options: &ShredOptions) -> Result<ShredOutcome, ShredError> {
    let Some(bytes) = check(path, options)? else {
        return Ok(ShredOutcome::AlreadyRemoved);
    };
    match options.method {
        Method::Auto | Method::Overwrite => overwrite(path, options)?,
        Method::Command => run_shred_command(path, options)?,
    }
    fs::remove_file(path).map_err(|source| ShredError::Io {
        path: path.to_owned(),
        operation: "remove",
        source,
    })?;
    Ok(ShredOutcome::Removed {
        bytes,
        passes: options.passes,
    })
}

/// Everything [`shred`] checks before it writes, without touching the file: `Ok(None)` when
/// nothing is at `path`, `Ok(Some(length))` for a regular file it would shred, and the error it
/// would return otherwise.
///
/// For a caller that asks for confirmation first and wants to show the size, or to say "already
/// removed" without asking. [`shred`] checks again, so a file that changed in between is still
/// handled correctly.
pub fn check(path: &Path, options: &ShredOptions) -> Result<Option<u64>, ShredError> {
    if options.passes < 1 {
        return Err(ShredError::InvalidPasses {
            passes: options.passes,
        });
    }
    // `symlink_metadata`, not `metadata`: a link must be seen as a link, not as its target.
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ShredError::Io {
                path: path.to_owned(),
                operation: "inspect",
                source,
            });
        }
    };
    let file_type = metadata.file_type();
    let path = path.to_owned();
    if file_type.is_symlink() {
        Err(ShredError::Symlink { path })
    } else if file_type.is_dir() {
        Err(ShredError::Directory { path })
    } else if !file_type.is_file() {
        Err(ShredError::NotARegularFile { path })
    } else {
        Ok(Some(metadata.len()))
    }
}

/// How [`shred`] overwrites a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Method {
    /// The native overwrite ([`Method::Overwrite`]); see the [module docs](self#methods) for why.
    #[default]
    Auto,
    /// GNU coreutils `shred`, found on `PATH`; an error when it is not there.
    Command,
    /// The native overwrite: random bytes from the operating system, written in place.
    Overwrite,
}

words!(Method, "method" {
    Auto => "auto",
    Command => "command",
    Overwrite => "overwrite",
});

/// What [`shred`] does; [`Default`] is 3 passes, [`Method::Auto`], the last pass zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShredOptions {
    /// How many times the whole file is written, at least 1. This is the total: a zeroing last
    /// pass is one of them.
    pub passes: u32,
    /// Native overwrite or GNU `shred`.
    pub method: Method,
    /// Whether the last pass writes zeros instead of random bytes, so the file does not look
    /// shredded. With `passes: 1` that single pass writes zeros.
    pub zero_last_pass: bool,
}

impl Default for ShredOptions {
    fn default() -> Self {
        Self {
            passes: 3,
            method: Method::Auto,
            zero_last_pass: true,
        }
    }
}

/// What [`shred`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShredOutcome {
    /// The file was overwritten and its name unlinked.
    Removed {
        /// The file's length, each pass wrote exactly this many bytes.
        bytes: u64,
        /// How many passes were written.
        passes: u32,
    },
    /// Nothing was at the path: there was nothing to do.
    AlreadyRemoved,
}

/// Why [`shred`] refused or failed. Each message names the file.
///
/// The refusals (`Symlink`, `Directory`, `NotARegularFile`, `InvalidPasses`) happen before
/// anything is written. The command-line tool maps them to exit code 2 and the rest to 1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShredError {
    /// The path is a symbolic link. Neither the link nor its target was touched.
    #[error(
        "refusing to shred {}: it is a symbolic link (its target was left alone; name the target itself to shred it)",
        path.display()
    )]
    Symlink {
        /// The link.
        path: PathBuf,
    },

    /// The path is a directory.
    #[error("refusing to shred {}: it is a directory", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
    },

    /// The path is a device, a FIFO, a socket or anything else that is not a regular file.
    #[error("refusing to shred {}: it is not a regular file", path.display())]
    NotARegularFile {
        /// The path.
        path: PathBuf,
    },

    /// [`ShredOptions::passes`] is below 1.
    #[error("the number of passes must be at least 1, not {passes}")]
    InvalidPasses {
        /// The rejected count.
        passes: u32,
    },

    /// [`Method::Command`] was asked for and no `program` is on `PATH`. Nothing was written.
    #[error(
        "cannot shred {} with method `command`: the `{program}` program (GNU coreutils) is not on PATH; install coreutils or use --method overwrite",
        path.display()
    )]
    CommandMissing {
        /// The file that was left as it was.
        path: PathBuf,
        /// The program that was looked for: `shred`.
        program: &'static str,
    },

    /// The `shred` program ran and failed.
    #[error("`shred` failed on {} ({status}): {stderr}", path.display())]
    CommandFailed {
        /// The file, possibly partly overwritten.
        path: PathBuf,
        /// How `shred` exited.
        status: ExitStatus,
        /// What it printed on stderr, trimmed.
        stderr: String,
    },

    /// Between the check and the open, the path started naming a different file, for example a
    /// symbolic link swapped in. Nothing was written.
    #[error(
        "refusing to shred {}: it was replaced by another file while being opened",
        path.display()
    )]
    Replaced {
        /// The path.
        path: PathBuf,
    },

    /// Reading the file's type, opening, writing, flushing or unlinking failed.
    #[error("cannot {operation} {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done, a verb phrase: `open for writing`, `overwrite`, `flush`, ...
        operation: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
}

/// The size of one write. Big enough that the system-call count does not matter, small enough to
/// live anywhere.
const CHUNK: usize = 64 * 1024;

fn overwrite(path: &Path, options: &ShredOptions) -> Result<(), ShredError> {
    let io_error = |operation: &'static str| {
        move |source: io::Error| ShredError::Io {
            path: path.to_owned(),
            operation,
            source,
        }
    };
    // No `create`, no `truncate`: the passes must land in the blocks of the existing inode, and a
    // path that vanished since the check must fail rather than produce a new file. Without
    // blocking: a FIFO swapped in since the check would otherwise wait for a reader forever.
    let mut file = crate::bounded_read::without_blocking(OpenOptions::new().write(true))
        .open(path)
        .map_err(io_error("open for writing"))?;
    let length = opened_regular_file_length(path, &file)?;
    let mut buffer = vec![0u8; CHUNK];
    for pass in 1..=options.passes {
        let zeros = options.zero_last_pass && pass == options.passes;
        if zeros {
            buffer.fill(0);
        }
        file.seek(SeekFrom::Start(0)).map_err(io_error("seek in"))?;
        let mut remaining = length;
        while remaining > 0 {
            let size = usize::try_from(remaining).map_or(CHUNK, |left| left.min(CHUNK));
            let chunk = &mut buffer[..size];
            if !zeros {
                getrandom::fill(chunk).map_err(|error| ShredError::Io {
                    path: path.to_owned(),
                    operation: "get random bytes to overwrite",
                    source: io::Error::other(error),
                })?;
            }
            file.write_all(chunk).map_err(io_error("overwrite"))?;
            remaining -= size as u64;
        }
        // Without this, later passes could replace earlier ones in the page cache and only the
        // last would ever reach the device.
        file.sync_all().map_err(io_error("flush"))?;
    }
    Ok(())
}

/// The length of the file just opened, after making sure it is still the regular file that
/// [`check`] saw: a symbolic link swapped in between would otherwise send the passes to its target.
fn opened_regular_file_length(path: &Path, file: &File) -> Result<u64, ShredError> {
    let opened = file.metadata().map_err(|source| ShredError::Io {
        path: path.to_owned(),
        operation: "inspect",
        source,
    })?;
    let replaced = || ShredError::Replaced {
        path: path.to_owned(),
    };
    if !opened.is_file() {
        return Err(replaced());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let named = fs::symlink_metadata(path).map_err(|_| replaced())?;
        if (named.dev(), named.ino()) != (opened.dev(), opened.ino()) {
            return Err(replaced());
        }
    }
    Ok(opened.len())
}

fn run_shred_command(path: &Path, options: &ShredOptions) -> Result<(), ShredError> {
    const PROGRAM: &str = "shred";
    let random_passes = if options.zero_last_pass {
        options.passes - 1
    } else {
        options.passes
    };
    let mut command = Command::new(PROGRAM);
    command.arg("-n").arg(random_passes.to_string());
    if options.zero_last_pass {
        command.arg("-z");
    }
    command
        .arg("--exact")
        .arg("--")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let output = command.output().map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            ShredError::CommandMissing {
                path: path.to_owned(),
                program: PROGRAM,
            }
        } else {
            ShredError::Io {
                path: path.to_owned(),
                operation: "run `shred` on",
                source,
            }
        }
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(ShredError::CommandFailed {
            path: path.to_owned(),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(passes: u32, method: Method, zero_last_pass: bool) -> ShredOptions {
        ShredOptions {
            passes,
            method,
            zero_last_pass,
        }
    }

    #[test]
    fn a_fifo_swapped_in_after_the_check_is_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo (coreutils) is needed for this test");
        assert!(made.success());
        // On a thread: opening a FIFO for writing with no reader would block this test forever.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(overwrite(&fifo, &ShredOptions::default()).is_err());
        });
        let refused = receiver.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(refused, Ok(true), "the overwrite waited on the FIFO");
    }

    /// A file with a second name, so its inode can be read after `shred` unlinked the first.
    fn linked_file(dir: &Path, content: &[u8]) -> (PathBuf, PathBuf) {
        let target = dir.join("target");
        let witness = dir.join("witness");
        fs::write(&target, content).unwrap();
        fs::hard_link(&target, &witness).unwrap();
        (target, witness)
    }

    #[test]
    fn default_options_are_three_passes_native_last_pass_zero() {
        assert_eq!(
            ShredOptions::default(),
            options(3, Method::Auto, true),
            "`encrypt --shred` relies on these defaults"
        );
    }

    #[test]
    fn the_outcome_reports_the_length_and_the_requested_passes() {
        let dir = tempfile::tempdir().unwrap();
        for passes in [1, 2, 5] {
            let (target, witness) = linked_file(dir.path(), b"0123456789");
            let outcome = shred(&target, &options(passes, Method::Overwrite, true)).unwrap();
            assert_eq!(outcome, ShredOutcome::Removed { bytes: 10, passes });
            assert!(!target.exists());
            assert_eq!(fs::read(&witness).unwrap(), [0u8; 10]);
            fs::remove_file(witness).unwrap();
        }
    }

    #[test]
    fn a_file_bigger_than_one_chunk_is_overwritten_to_its_exact_length() {
        let dir = tempfile::tempdir().unwrap();
        let length = 3 * CHUNK + 123;
        let (target, witness) = linked_file(dir.path(), &vec![0xA5; length]);
        shred(&target, &ShredOptions::default()).unwrap();
        let after = fs::read(&witness).unwrap();
        assert_eq!(after.len(), length);
        assert!(after.iter().all(|&byte| byte == 0));
    }

    #[test]
    fn random_last_pass_leaves_no_chunk_of_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let length = 2 * CHUNK + 7;
        let (target, witness) = linked_file(dir.path(), &vec![0xA5; length]);
        shred(&target, &options(1, Method::Overwrite, false)).unwrap();
        let after = fs::read(&witness).unwrap();
        assert_eq!(after.len(), length);
        // Each 4 KiB stretch of random bytes holding only 0xA5 would be a 2^-32768 accident.
        for stretch in after.chunks(4096) {
            assert!(stretch.iter().any(|&byte| byte != 0xA5));
            assert!(stretch.iter().any(|&byte| byte != 0));
        }
    }

    #[test]
    fn an_empty_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("empty");
        fs::write(&target, b"").unwrap();
        let outcome = shred(&target, &ShredOptions::default()).unwrap();
        assert_eq!(
            outcome,
            ShredOutcome::Removed {
                bytes: 0,
                passes: 3
            }
        );
        assert!(!target.exists());
    }

    #[test]
    fn a_missing_file_is_already_removed_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("absent");
        for method in [Method::Auto, Method::Overwrite, Method::Command] {
            let outcome = shred(&target, &options(3, method, true)).unwrap();
            assert_eq!(outcome, ShredOutcome::AlreadyRemoved);
            assert!(!target.exists());
        }
    }

    #[test]
    fn zero_passes_are_refused_before_looking_at_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("kept");
        fs::write(&target, b"keep").unwrap();
        let error = shred(&target, &options(0, Method::Overwrite, true)).unwrap_err();
        assert!(matches!(error, ShredError::InvalidPasses { passes: 0 }));
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        // Even for a path with nothing there: a bad option is not "already removed".
        let error = check(&dir.path().join("absent"), &options(0, Method::Auto, true));
        assert!(matches!(error, Err(ShredError::InvalidPasses { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn links_directories_and_fifos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let fifo = dir.path().join("fifo");
        let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success(), "mkfifo (coreutils) is needed for this test");
        let defaults = ShredOptions::default();
        assert!(matches!(
            shred(&link, &defaults),
            Err(ShredError::Symlink { .. })
        ));
        assert!(matches!(
            shred(dir.path(), &defaults),
            Err(ShredError::Directory { .. })
        ));
        assert!(matches!(
            shred(&fifo, &defaults),
            Err(ShredError::NotARegularFile { .. })
        ));
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    }

    #[test]
    fn method_names_round_trip() {
        for method in [Method::Auto, Method::Command, Method::Overwrite] {
            assert_eq!(method.as_str().parse::<Method>(), Ok(method));
        }
        let error = "wipe".parse::<Method>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown method `wipe`; expected `auto`, `command` or `overwrite`"
        );
    }
}
