//! Opening a parsed file's values: every encrypted value decrypted in place, then every value the
//! MAC covers hashed in document order (SOPS_FORMAT.md §7, §8).
//!
//! With enough values and a second core, a second thread decrypts chunks of them alongside this
//! one. Whatever the threads, the error reported is the one a walk in document order meets
//! first, and a thread that panics is an error, not a panic.

use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use sha2::{Digest, Sha512};

use super::cipher::{self, DataKey, ValueError};
use super::encrypt::Stash;
use super::metadata::Metadata;
use super::tree::{self, Kind, Leaf, Node};
use super::{DecryptionError, Place, threads, visit_leaves};

/// Below this many encrypted values a second thread costs more than it saves: starting one
/// takes tens of microseconds, opening a value about one.
pub(super) const MIN_VALUES_FOR_A_THREAD: usize = 64;

/// The steps a thread takes at a time: few enough hand-overs to cost nothing, small enough
/// chunks for both threads to finish close together.
const STEPS_PER_CHUNK: usize = 64;

/// Decrypts the values of `branches` in place and feeds the MAC's hasher; with `stash`, remembers
/// each value's ciphertext. `max_threads` is how many threads the caller allows
/// ([`threads::available`] outside tests).
pub(super) fn open(
    branches: &mut [Node],
    metadata: &Metadata,
    key: &DataKey,
    hasher: &mut Sha512,
    stash: Option<&mut Stash>,
    max_threads: usize,
) -> Result<(), DecryptionError> {
    let mut aads = Vec::new();
    let mut decisions = Vec::new();
    let keep = stash.is_some();
    // The walk decides what each place needs; the comments it decrypts at once, because a
    // decrypted comment can be a marker that decides what the next values need (§6). It stops
    // at the first value that is plaintext where it must not be: the values before that one are
    // still opened below, so that an earlier failing value is the error reported.
    let walked = visit_leaves(branches, &metadata.rule, |place| {
        let Place {
            leaf,
            aad,
            matched,
            comment,
            ..
        } = place;
        let mut remember = |aad: &[u8]| {
            aads.extend_from_slice(aad);
            aads.len() - aad.len()..aads.len()
        };
        let decision = if comment {
            if !cipher::is_encrypted(&leaf.bytes) {
                Decision::Skip
            } else {
                let original = keep.then(|| leaf.bytes.to_vec());
                open_leaf(key, leaf, aad, true)?;
                Decision::Comment {
                    aad: remember(aad),
                    original,
                }
            }
        } else if !metadata.rule.encrypts(matched) {
            if metadata.mac_only_encrypted {
                Decision::Skip
            } else {
                Decision::Hash
            }
        } else if leaf.kind == Kind::Str && leaf.bytes.is_empty() {
            // §5: empty strings are never encrypted and add nothing to the MAC.
            Decision::Skip
        } else if !cipher::is_encrypted(&leaf.bytes) {
            return Err(DecryptionError::NotEncrypted {
                path: String::from_utf8_lossy(aad).into_owned(),
            });
        } else {
            Decision::Value {
                aad: remember(aad),
                original: keep.then(|| leaf.bytes.to_vec()),
            }
        };
        decisions.push(decision);
        Ok(())
    });
    let mut leaves = Vec::with_capacity(decisions.len());
    tree::leaves_mut(branches, &mut leaves);
    let mut steps: Vec<Step<'_>> = decisions
        .into_iter()
        .zip(leaves)
        .map(|(decision, leaf)| Step { decision, leaf })
        .collect();
    let values = steps
        .iter()
        .filter(|s| matches!(s.decision, Decision::Value { .. }))
        .count();
    let two = threads::second_thread_pays(max_threads, values, MIN_VALUES_FOR_A_THREAD);
    open_and_hash(key, &aads, &mut steps, hasher, two)?;
    walked?;
    if let Some(stash) = stash {
        for step in &mut steps {
            if let Decision::Value { aad, original } | Decision::Comment { aad, original } =
                &mut step.decision
                && let Some(original) = original.take()
            {
                stash.keep(&aads[aad.clone()], step.leaf, original);
            }
        }
    }
    Ok(())
}

/// What a place of the walk needs, in document order.
enum Decision {
    /// Nothing: a plaintext comment, an empty string, a value outside a `mac_only_encrypted` MAC.
    Skip,
    /// Hashed as it is: a value the file's rules leave in plaintext.
    Hash,
    /// Decrypted with the AAD at this range of the walk's AADs, then hashed; `original` is its
    /// ciphertext when a stash wants it.
    Value {
        aad: Range<usize>,
        original: Option<Vec<u8>>,
    },
    /// A comment the walk decrypted (never hashed), kept here for the stash.
    Comment {
        aad: Range<usize>,
        original: Option<Vec<u8>>,
    },
}

/// A leaf or comment with what it needs.
struct Step<'t> {
    decision: Decision,
    leaf: &'t mut Leaf,
}

/// Decrypts the steps' values, then hashes them in order. On two threads, both take chunks of
/// steps in turn until none is left: a worker that a busy machine starts late (or never) leaves
/// its share to this thread instead of making it wait for a fixed half.
fn open_and_hash(
    key: &DataKey,
    aads: &[u8],
    steps: &mut [Step<'_>],
    hasher: &mut Sha512,
    two_threads: bool,
) -> Result<(), DecryptionError> {
    if two_threads {
        let chunks = Mutex::new(steps.chunks_mut(STEPS_PER_CHUNK).enumerate());
        // Each thread's first failure, with its chunk's place in the document.
        let take_chunks = || loop {
            let next = chunks.lock().unwrap_or_else(PoisonError::into_inner).next();
            let (index, chunk) = next?;
            if let Err(error) = open_values(key, aads, chunk) {
                return Some((index, error));
            }
        };
        let (mine, theirs) = threads::side_by_side(take_chunks, take_chunks);
        let Some(theirs) = theirs else {
            // The worker's chunk may hold an earlier failure; this thread's is reported if any.
            return Err(mine.map_or(DecryptionError::WorkerPanicked, |(_, error)| error));
        };
        // In document order: the failure in the earlier chunk.
        if let Some((_, error)) = mine.into_iter().chain(theirs).min_by_key(|(i, _)| *i) {
            return Err(error);
        }
    } else {
        open_values(key, aads, steps)?;
    }
    hash(hasher, steps);
    Ok(())
}

/// Decrypts the values among `steps` in order, stopping at the first that fails.
fn open_values(key: &DataKey, aads: &[u8], steps: &mut [Step<'_>]) -> Result<(), DecryptionError> {
    for step in steps {
        if let Decision::Value { aad, .. } = &step.decision {
            open_leaf(key, step.leaf, &aads[aad.clone()], false)?;
        }
    }
    Ok(())
}

/// Feeds the MAC every value among `steps` that it covers, in order.
fn hash(hasher: &mut Sha512, steps: &[Step<'_>]) {
    for step in steps {
        if let Decision::Hash | Decision::Value { .. } = step.decision {
            hasher.update(&step.leaf.bytes);
        }
    }
}

/// Decrypts one value (or, with `comment`, one comment) in place at the place `aad` names.
fn open_leaf(
    key: &DataKey,
    leaf: &mut Leaf,
    aad: &[u8],
    comment: bool,
) -> Result<(), DecryptionError> {
    let path = || String::from_utf8_lossy(aad).into_owned();
    let kind = key
        .decrypt_in_place(&mut leaf.bytes, aad)
        .map_err(|e| match e {
            ValueError::Syntax(reason) => DecryptionError::BadValue {
                path: path(),
                reason,
            },
            ValueError::Authentication => DecryptionError::ValueAuthentication { path: path() },
        })?;
    if (kind == Kind::Comment) != comment {
        let reason = if comment {
            "a comment holds a value"
        } else {
            "a value has the type of a comment"
        };
        return Err(DecryptionError::BadValue {
            path: path(),
            reason,
        });
    }
    leaf.kind = kind;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::sops::{Format, Identities, keys, open_on_threads, parse_encrypted, stores};

    /// The 2000-value file sops 3.11 wrote (`benches/data/`), as lines.
    fn large_file() -> Vec<String> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/large.enc.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    /// The lines holding encrypted values (not comments), in document order.
    fn value_lines(lines: &[String]) -> Vec<usize> {
        let lines: Vec<usize> = (0..lines.len())
            .filter(|&i| {
                let line = lines[i].trim_start();
                !line.starts_with('#') && line.contains("ENC[") && !line.contains("type:comment")
            })
            .collect();
        assert!(lines.len() > 4 * MIN_VALUES_FOR_A_THREAD, "too few values");
        lines
    }

    /// The file opened on `threads` threads: its documents as YAML, or the error's message.
    fn open_lines(lines: &[String], threads: usize) -> Result<Vec<u8>, DecryptionError> {
        let key_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sops/key.txt");
        let identities =
            Identities::from_text(&std::fs::read_to_string(key_file).unwrap(), "key.txt").unwrap();
        let text = lines.join("\n") + "\n";
        let (branches, metadata) = parse_encrypted(text.as_bytes(), Format::Yaml).unwrap();
        let data_key = keys::data_key(&metadata, &identities).unwrap();
        let opened = open_on_threads(branches, metadata, data_key, None, threads)?;
        Ok(stores::emit(&opened.branches, Format::Yaml)
            .unwrap()
            .to_vec())
    }

    /// The error of the file opened on one thread, after checking that two threads give the same.
    fn same_error_on_one_and_two_threads(lines: &[String]) -> DecryptionError {
        let one = open_lines(lines, 1).expect_err("one thread: an error");
        let two = open_lines(lines, 2).expect_err("two threads: an error");
        assert_eq!(one.to_string(), two.to_string());
        one
    }

    /// Changes the first base64 character of the value's data: still base64, no longer authentic.
    fn tamper(lines: &mut [String], line: usize) {
        let at = lines[line].find("data:").unwrap() + "data:".len();
        let replacement = if lines[line].as_bytes()[at] == b'A' {
            "B"
        } else {
            "A"
        };
        lines[line].replace_range(at..at + 1, replacement);
    }

    /// Replaces the value by plaintext, which the file's rules forbid.
    fn make_plaintext(lines: &mut [String], line: usize) {
        let at = lines[line].find("ENC[").unwrap();
        lines[line].replace_range(at.., "plaintext");
    }

    fn path_of(error: &DecryptionError) -> &str {
        match error {
            DecryptionError::ValueAuthentication { path }
            | DecryptionError::NotEncrypted { path } => path,
            other => panic!("unexpected error: {other}"),
        }
    }

    #[test]
    fn two_threads_open_the_same_document_as_one() {
        let lines = large_file();
        let one = open_lines(&lines, 1).unwrap();
        let two = open_lines(&lines, 2).unwrap();
        assert!(one == two, "the documents differ");
        let plain =
            std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data/large.yaml"))
                .unwrap();
        let (plain_yaml, ours) = (
            stores::emit(
                &stores::parse_plain(&plain, Format::Yaml).unwrap(),
                Format::Yaml,
            )
            .unwrap(),
            two,
        );
        assert!(
            plain_yaml.as_slice() == ours.as_slice(),
            "not the cleartext"
        );
    }

    #[test]
    fn a_tampered_value_is_reported_alike_in_either_half() {
        let lines = large_file();
        let values = value_lines(&lines);
        let (early, late) = (values[values.len() / 10], values[values.len() * 9 / 10]);
        let mut errors = Vec::new();
        for line in [early, late] {
            let mut tampered = lines.clone();
            tamper(&mut tampered, line);
            let error = same_error_on_one_and_two_threads(&tampered);
            assert!(matches!(error, DecryptionError::ValueAuthentication { .. }));
            errors.push(path_of(&error).to_owned());
        }
        assert_ne!(errors[0], errors[1]);
        let mut both = lines.clone();
        tamper(&mut both, early);
        tamper(&mut both, late);
        let error = same_error_on_one_and_two_threads(&both);
        assert_eq!(path_of(&error), errors[0], "the first in document order");
    }

    #[test]
    fn the_first_failure_in_document_order_wins_whatever_its_kind() {
        let lines = large_file();
        let values = value_lines(&lines);
        let (early, late) = (values[values.len() / 10], values[values.len() * 9 / 10]);
        // A plaintext value stops the walk; a tampered value before it is still found first.
        let mut tampered_first = lines.clone();
        tamper(&mut tampered_first, early);
        make_plaintext(&mut tampered_first, late);
        let error = same_error_on_one_and_two_threads(&tampered_first);
        assert!(matches!(error, DecryptionError::ValueAuthentication { .. }));
        let mut plaintext_first = lines.clone();
        make_plaintext(&mut plaintext_first, early);
        tamper(&mut plaintext_first, late);
        let error = same_error_on_one_and_two_threads(&plaintext_first);
        assert!(matches!(error, DecryptionError::NotEncrypted { .. }));
    }

    #[test]
    fn a_removed_value_is_a_mac_mismatch_on_two_threads_too() {
        let mut lines = large_file();
        let values = value_lines(&lines);
        let line = values[values.len() / 2];
        assert!(
            lines[line]
                .trim_start()
                .starts_with(|c: char| c.is_alphanumeric())
        );
        lines.remove(line);
        let error = same_error_on_one_and_two_threads(&lines);
        assert!(matches!(error, DecryptionError::MacMismatch));
    }
}
