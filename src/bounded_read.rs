//! Bounded reads: a file a user names (a SOPS file, an age key file, a config file, a
//! `.sops.yaml`) or a child's output, read so that it can neither hang the process nor exhaust
//! its memory.
//!
//! Opening a FIFO for reading waits until a writer appears, a device such as `/dev/zero` never
//! ends, and a file's reported size can lie (`/proc` files report 0, a log keeps growing). So
//! [`file`] opens without blocking, checks the opened handle (not the path, which could be swapped
//! between a check and the open) and refuses anything but a regular file, and every read stops one
//! byte past its limit whatever the size said. The bytes land in a buffer that is wiped on drop,
//! grown by hand so that no unwiped copy is left behind by a reallocation.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::plaintext::PlaintextBuffer;

/// Why a bounded read refused or failed. Messages do not name the file: callers say which file
/// it was, in their own terms (the SOPS file, the age key file, ...). An I/O failure is kept as
/// the [`io::Error`] itself and returned by [`std::error::Error::source`]; it is shared (`Arc`) so
/// that the error stays `Clone`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ReadError {
    /// Opening, inspecting or reading failed.
    Io(Arc<io::Error>),
    /// The path names a FIFO, a device, a socket or a directory.
    NotRegular {
        /// What it is instead, with its article: `a FIFO`, `a character device`, ...
        kind: &'static str,
    },
    /// There was more to read than the limit allows.
    TooLarge {
        /// The reported size, or the number of bytes seen when the report was smaller.
        size: u64,
        /// The limit that was exceeded.
        limit: u64,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The I/O error's own words, as before it was kept as the source.
            Self::Io(error) => write!(f, "{error}"),
            Self::NotRegular { kind } => write!(
                f,
                "it is {kind}, not a regular file; give the path of a regular file"
            ),
            Self::TooLarge { size, limit } => {
                write!(f, "it has at least {size} bytes; the limit is {limit}")
            }
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(error) => Some(&**error),
            Self::NotRegular { .. } | Self::TooLarge { .. } => None,
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> Self {
        Self::Io(Arc::new(error))
    }
}

/// Reads the regular file at `path` (following symbolic links), at most `limit` bytes.
pub(crate) fn file(path: &Path, limit: u64) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let file = without_blocking(OpenOptions::new().read(true)).open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(ReadError::NotRegular {
            kind: kind_of(&metadata.file_type()),
        });
    }
    let size = metadata.len();
    if size > limit {
        return Err(ReadError::TooLarge { size, limit });
    }
    stream(file, size, limit)
}

/// Reads `reader` to its end into a wiped-on-drop buffer, failing once it yields more than
/// `limit` bytes; `expected` (a file's reported size, 0 if unknown) sizes the first allocation.
pub(crate) fn stream(
    reader: impl Read,
    expected: u64,
    limit: u64,
) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    // One byte past `limit` tells "exactly at the limit" from "over it"; one past `expected` lets
    // a file of the reported size end without growing the buffer.
    let first = expected.saturating_add(1).min(limit.saturating_add(1));
    let first =
        usize::try_from(first).map_or(MAX_FIRST_ALLOCATION, |n| n.min(MAX_FIRST_ALLOCATION));
    let mut buffer = PlaintextBuffer::with_capacity(first);
    buffer.read_from(&mut reader.take(limit.saturating_add(1)))?;
    let size = buffer.len() as u64;
    if size > limit {
        return Err(ReadError::TooLarge { size, limit });
    }
    Ok(buffer.into())
}

/// Adds `O_NONBLOCK` on Unix, so that opening a FIFO returns at once (for reading) or fails
/// (for writing, with no reader) instead of waiting for the other end. Reads and writes of a
/// regular file ignore the flag.
pub(crate) fn without_blocking(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NONBLOCK);
    options
}

/// The first allocation is capped, so that a reported size (which may lie) cannot reserve much
/// memory up front; a larger file grows the buffer as its bytes actually arrive.
const MAX_FIRST_ALLOCATION: usize = 64 << 20;

fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_within_the_limit_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(file(&path, 10).unwrap().as_slice(), b"0123456789");
        assert!(matches!(
            file(&path, 9),
            Err(ReadError::TooLarge { size: 10, limit: 9 })
        ));
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo (coreutils) is needed for this test");
        assert!(made.success());
        let error = file(&path, 1024).unwrap_err();
        assert_eq!(
            error.to_string(),
            "it is a FIFO, not a regular file; give the path of a regular file"
        );
    }

    #[test]
    fn devices_and_directories_are_refused() {
        assert!(matches!(
            file(Path::new("/dev/zero"), 1024),
            Err(ReadError::NotRegular {
                kind: "a character device"
            })
        ));
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            file(dir.path(), 1024),
            Err(ReadError::NotRegular {
                kind: "a directory"
            })
        ));
    }

    #[test]
    fn a_file_whose_reported_size_lies_is_still_bounded() {
        // /proc files report a size of 0 and then yield far more.
        let path = Path::new("/proc/self/maps");
        assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
        assert!(matches!(
            file(path, 16),
            Err(ReadError::TooLarge {
                size: 17,
                limit: 16
            })
        ));
    }

    #[test]
    fn an_endless_stream_stops_one_byte_past_the_limit() {
        let error = stream(io::repeat(b'y'), 0, 100_000).unwrap_err();
        assert!(matches!(
            error,
            ReadError::TooLarge {
                size: 100_001,
                limit: 100_000
            }
        ));
        assert_eq!(stream(&b"abc"[..], 0, 3).unwrap().as_slice(), b"abc");
    }
}
