//! [`PlaintextBuffer`]: a growable byte buffer for plaintext that leaves no copy behind when it
//! grows.
//!
//! A `Zeroizing<Vec<u8>>` wipes its last allocation on drop, but every time a `Vec` grows the
//! allocator moves the bytes to a new block and frees the old one as it is, so a buffer built up
//! from empty leaves a trail of unwiped partial copies in freed memory. This buffer wipes the old
//! block itself before letting it go, so at any time the plaintext exists in one place only.

use std::fmt;
use std::io::{self, Read};
use std::ops::Deref;

use zeroize::Zeroizing;

/// A byte buffer that wipes every allocation it leaves: on growth and on drop.
///
/// It offers `Vec`'s building methods (`push`, `extend_from_slice`, `extend`) and `io::Write` /
/// `fmt::Write`, reads as `&[u8]`, and becomes a `Zeroizing<Vec<u8>>` without copying.
///
/// ```
/// use secret_cascade::PlaintextBuffer;
/// use zeroize::Zeroizing;
///
/// let mut buffer = PlaintextBuffer::new();
/// buffer.extend_from_slice(b"s3cr3t");
/// buffer.push(b'\n');
/// assert_eq!(&buffer[..], b"s3cr3t\n");
/// let bytes: Zeroizing<Vec<u8>> = buffer.into();
/// assert_eq!(bytes.as_slice(), b"s3cr3t\n");
/// ```
///
/// Not guaranteed: copies the caller makes of the contents, and copies the compiler makes in
/// registers or on the stack while bytes pass through.
#[derive(Default)]
pub struct PlaintextBuffer {
    bytes: Zeroizing<Vec<u8>>,
}

impl PlaintextBuffer {
    /// The first allocation of a buffer that grows from empty: small writes then need no moves.
    const MIN_CAPACITY: usize = 64;

    /// How much [`read_from`](Self::read_from) asks for per read.
    const READ_CHUNK: usize = 8 << 10;

    /// An empty buffer; nothing is allocated until the first byte.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty buffer with room for `capacity` bytes: sized up front, it never has to move.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            bytes: Zeroizing::new(Vec::with_capacity(capacity)),
        }
    }

    /// Makes room for `additional` more bytes. When the bytes have to move, they are copied to a
    /// new allocation and the old one is wiped before it is freed.
    pub fn reserve(&mut self, additional: usize) {
        let needed = self.bytes.len().saturating_add(additional);
        if needed <= self.bytes.capacity() {
            return;
        }
        // Doubling keeps appends amortised O(1), as in `Vec`.
        let capacity = needed
            .max(self.bytes.capacity().saturating_mul(2))
            .max(Self::MIN_CAPACITY);
        let mut grown = Zeroizing::new(Vec::with_capacity(capacity));
        grown.extend_from_slice(&self.bytes);
        // The old `Zeroizing` wipes its whole capacity as it drops here.
        self.bytes = grown;
    }

    /// Appends one byte.
    pub fn push(&mut self, byte: u8) {
        self.reserve(1);
        self.bytes.push(byte);
    }

    /// Appends `bytes`.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.bytes.extend_from_slice(bytes);
    }

    /// Removes and returns the last byte. Its place is wiped with the rest of the allocation.
    pub fn pop(&mut self) -> Option<u8> {
        self.bytes.pop()
    }

    /// Appends everything `reader` yields until its end and returns how many bytes that was.
    ///
    /// Reads go straight into this buffer's spare room, so a reader without a buffer of its own
    /// (a `File`, not `std::io::stdin()`, whose internal buffer is never wiped) leaves no copy.
    /// The buffer grows only when that room is used up: a buffer sized for the whole input (one
    /// byte more, to see its end) never moves.
    pub fn read_from(&mut self, reader: &mut impl Read) -> io::Result<usize> {
        let start = self.bytes.len();
        loop {
            if self.bytes.len() == self.bytes.capacity() {
                self.reserve(Self::READ_CHUNK);
            }
            let filled = self.bytes.len();
            // Within the capacity just reserved: the zeros are written in place, nothing moves.
            let capacity = self.bytes.capacity();
            self.bytes.resize(capacity, 0);
            let read = reader.read(&mut self.bytes[filled..]);
            // Back to the bytes actually read; the zeros past them stay within the allocation.
            self.bytes
                .truncate(filled + read.as_ref().map_or(0, |count| *count));
            match read {
                Ok(0) => return Ok(self.bytes.len() - start),
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }
}

impl Deref for PlaintextBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl AsRef<[u8]> for PlaintextBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl From<PlaintextBuffer> for Zeroizing<Vec<u8>> {
    /// Hands over the allocation as it is: no copy, no shrinking (which would move the bytes).
    fn from(buffer: PlaintextBuffer) -> Self {
        buffer.bytes
    }
}

impl Extend<u8> for PlaintextBuffer {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, bytes: I) {
        let bytes = bytes.into_iter();
        self.reserve(bytes.size_hint().0);
        for byte in bytes {
            self.push(byte);
        }
    }
}

impl<'a> Extend<&'a u8> for PlaintextBuffer {
    fn extend<I: IntoIterator<Item = &'a u8>>(&mut self, bytes: I) {
        self.extend(bytes.into_iter().copied());
    }
}

impl io::Write for PlaintextBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Write for PlaintextBuffer {
    /// Lets `write!` format straight into the buffer, without an intermediate `String`.
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

impl fmt::Debug for PlaintextBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlaintextBuffer")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// A JSON answer of a server, its strings wiped when it is dropped: a Vault KV answer holds every
/// value of the secret, not only the one asked for; a transit or KMS answer holds a data key.
pub(crate) struct Json(pub(crate) serde_json::Value);

impl Drop for Json {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites every string in `value` with zeros: an answer's strings may be secrets.
pub(crate) fn wipe(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => zeroize::Zeroize::zeroize(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(wipe),
        serde_json::Value::Object(map) => map.values_mut().for_each(wipe),
        _ => {}
    }
}

/// Moves `text` into a [`secrecy::SecretString`] without a stray copy: the buffer itself becomes
/// the secret when it is exactly the text's size (as `std::env` and `to_vec` make them), else the
/// text is copied and the original wiped (a shrinking reallocation would free it unwiped).
pub(crate) fn into_secret(text: String) -> secrecy::SecretString {
    if text.capacity() == text.len() {
        secrecy::SecretString::from(text)
    } else {
        secrecy::SecretString::from(Zeroizing::new(text).as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growing_keeps_the_bytes_in_order() {
        let mut buffer = PlaintextBuffer::new();
        for round in 0..1000u32 {
            buffer.extend_from_slice(&round.to_le_bytes());
        }
        buffer.extend(std::iter::repeat_n(b'x', 3));
        let expected: Vec<u8> = (0..1000u32)
            .flat_map(u32::to_le_bytes)
            .chain(*b"xxx")
            .collect();
        assert_eq!(&buffer[..], &expected[..]);
    }

    #[test]
    fn conversion_hands_over_the_allocation_without_a_copy() {
        let mut buffer = PlaintextBuffer::with_capacity(100);
        buffer.extend_from_slice(b"abc");
        let before = buffer.as_ptr();
        let bytes: Zeroizing<Vec<u8>> = buffer.into();
        assert_eq!(bytes.as_ptr(), before);
        assert_eq!(bytes.capacity(), 100);
    }

    #[test]
    fn a_buffer_sized_up_front_never_moves() {
        let mut buffer = PlaintextBuffer::with_capacity(10);
        let before = buffer.bytes.as_ptr();
        buffer.extend_from_slice(b"0123456789");
        assert_eq!(buffer.as_ptr(), before);
    }

    #[test]
    fn read_from_reads_everything_across_chunks() {
        let source: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        let mut buffer = PlaintextBuffer::new();
        buffer.push(b'>');
        let read = buffer.read_from(&mut source.as_slice()).unwrap();
        assert_eq!(read, source.len());
        assert_eq!(buffer[0], b'>');
        assert_eq!(&buffer[1..], &source[..]);
    }

    #[test]
    fn debug_shows_the_length_only() {
        let mut buffer = PlaintextBuffer::new();
        buffer.extend_from_slice(b"hunter2");
        let shown = format!("{buffer:?}");
        assert!(
            shown.contains("len: 7") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
