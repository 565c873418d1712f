//! The user's GnuPG, asked as sops asks it (sops v3.11.0 `pgp/keysource.go`) when a `pgp` entry's
//! key is not among the key files loaded natively.
//!
//! The program is `SOPS_GPG_EXEC` if set (one program path or name, not split into words, as in
//! sops), else `gpg` found on `PATH`; a missing `gpg` only means GnuPG is not a source. It runs
//! directly (no shell) with the environment as it is, so `GNUPGHOME` (else `~/.gnupg`) chooses the
//! keyring and gpg-agent asks for a passphrase with its pinentry, as for sops; like sops we pass
//! no `--homedir` and no `--no-default-keyring`. Unlike sops, each run is bounded: `--batch` (gpg
//! itself never prompts on the terminal), killed after [`TIMEOUT_ENV`] seconds (default
//! [`DEFAULT_TIMEOUT`]), and its output capped. gpg's stderr is summarized in messages; its stdout
//! (a data key) never is.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::bounded_read::ReadError;
use crate::sops::key_command::{read_on_thread, seconds_from_env, stop, wait_until};
use crate::sops::master_key::{KeyFailure, Payload};

/// The variable that names the gpg program, as sops names it.
pub(crate) const EXEC_ENV: &str = "SOPS_GPG_EXEC";

/// The variable, in seconds, that bounds each gpg run (it may wait for a passphrase).
pub(crate) const TIMEOUT_ENV: &str = "SECRET_CASCADE_GPG_TIMEOUT";

/// How long a gpg run may take when [`TIMEOUT_ENV`] is not set.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The most `gpg --decrypt` may print: a data key is 32 bytes, a Shamir share 33.
const MAX_PAYLOAD_BYTES: u64 = 1024;
/// The most `gpg --export` or `gpg --encrypt` may print.
const MAX_KEY_BYTES: u64 = 1 << 20;
/// The most of gpg's stderr that is read.
const MAX_STDERR_BYTES: u64 = 64 << 10;
/// The most of gpg's stderr quoted in a message.
const MAX_SUMMARY_CHARS: usize = 400;

/// A gpg program to run.
pub(crate) struct GnuPg {
    program: OsString,
    timeout: Duration,
}

/// What one run printed and how it ended.
struct Output {
    status: ExitStatus,
    stdout: Zeroizing<Vec<u8>>,
    stderr: String,
}

impl GnuPg {
    /// The program `SOPS_GPG_EXEC` names, else `gpg` if it is on `PATH`; `Ok(None)` when neither.
    pub(crate) fn find() -> Result<Option<Self>, KeyFailure> {
        let timeout = seconds_from_env(TIMEOUT_ENV, DEFAULT_TIMEOUT).ok_or_else(|| {
            KeyFailure(format!(
                "{TIMEOUT_ENV} must be a positive number of seconds"
            ))
        })?;
        let program = match std::env::var_os(EXEC_ENV).filter(|v| !v.is_empty()) {
            Some(program) => program,
            None => match on_path("gpg") {
                Some(path) => path.into_os_string(),
                None => return Ok(None),
            },
        };
        Ok(Some(Self { program, timeout }))
    }

    /// `gpg --decrypt` of an armored message: the payload, or `Ok(None)` when GnuPG has none of
    /// the secret keys the message is encrypted to.
    pub(crate) fn decrypt(&self, enc: &str) -> Result<Option<Payload>, KeyFailure> {
        let output = self.run(
            &["--batch", "--status-fd", "2", "--decrypt"],
            enc.as_bytes(),
            MAX_PAYLOAD_BYTES,
        )?;
        if !output.status.success() {
            let status = |word: &str| {
                let prefix = format!("[GNUPG:] {word} ");
                output
                    .stderr
                    .lines()
                    .filter(|l| l.starts_with(&prefix))
                    .count()
            };
            let (encrypted_to, missing) = (status("ENC_TO"), status("NO_SECKEY"));
            if encrypted_to > 0 && missing >= encrypted_to {
                return Ok(None);
            }
            return Err(self.failed("--decrypt", &output));
        }
        if output.stdout.is_empty() {
            // As sops: an older gpg drops packets it does not know (an AEAD message) and
            // succeeds with nothing.
            return Err(KeyFailure(format!(
                "{} --decrypt succeeded but printed nothing (is this gpg too old for the \
                 message?)",
                self.name()
            )));
        }
        Ok(Some(output.stdout))
    }

    /// `gpg --export` of the public key `fingerprint` (binary, without third-party
    /// signatures); `Ok(None)` when GnuPG does not have it.
    pub(crate) fn export(&self, fingerprint: &str) -> Result<Option<Vec<u8>>, KeyFailure> {
        let output = self.run(
            &[
                "--batch",
                "--export",
                "--export-options",
                "export-minimal",
                "--",
                fingerprint,
            ],
            b"",
            MAX_KEY_BYTES,
        )?;
        if output.stdout.is_empty() {
            return Ok(None);
        }
        if !output.status.success() {
            return Err(self.failed("--export", &output));
        }
        Ok(Some(output.stdout.to_vec()))
    }

    /// `gpg --encrypt` of `payload` to `fingerprint` with sops's arguments: the armored message,
    /// trimmed as sops trims it.
    pub(crate) fn encrypt(&self, payload: &[u8], fingerprint: &str) -> Result<String, KeyFailure> {
        let short = short_fingerprint(fingerprint);
        let output = self.run(
            &[
                "--batch",
                "--no-default-recipient",
                "--yes",
                "--encrypt",
                "-a",
                "-r",
                fingerprint,
                "--trusted-key",
                short,
                "--no-encrypt-to",
            ],
            payload,
            MAX_KEY_BYTES,
        )?;
        if !output.status.success() {
            return Err(self.failed("--encrypt", &output));
        }
        let text = std::str::from_utf8(&output.stdout)
            .map_err(|_| KeyFailure(format!("{} --encrypt printed non-UTF-8", self.name())))?;
        Ok(text.trim().to_owned())
    }

    /// Runs gpg with `args`, `input` on its stdin, reading at most `limit` bytes of its stdout.
    fn run(&self, args: &[&str], input: &[u8], limit: u64) -> Result<Output, KeyFailure> {
        let name = self.name();
        let mut child = Command::new(&self.program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| KeyFailure(format!("{name} could not be started: {e}")))?;
        let deadline = Instant::now() + self.timeout;
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(mut stdin), Some(stdout), Some(stderr)) = pipes else {
            stop(&mut child);
            return Err(KeyFailure(format!("{name} gave no pipes")));
        };
        let thread_failed = |e: std::io::Error| KeyFailure(format!("{name}: no thread: {e}"));
        let stdout = read_on_thread(stdout, "gpg-stdout", limit).map_err(thread_failed)?;
        let stderr =
            read_on_thread(stderr, "gpg-stderr", MAX_STDERR_BYTES).map_err(thread_failed)?;
        let input = Zeroizing::new(input.to_vec());
        // On a thread: a pipe may hold less than the input, and gpg may write before it reads.
        std::thread::Builder::new()
            .name("gpg-stdin".into())
            .spawn(move || {
                // A gpg that exits without reading its input is reported by its exit status.
                let _ = stdin.write_all(&input);
            })
            .map_err(thread_failed)?;
        let status = match wait_until(&mut child, deadline) {
            Ok(Some(status)) => status,
            Ok(None) => {
                stop(&mut child);
                return Err(KeyFailure(format!(
                    "{name} did not finish within {} s and was killed; set {TIMEOUT_ENV} \
                     (seconds) to allow longer",
                    self.timeout.as_secs_f64()
                )));
            }
            Err(e) => {
                stop(&mut child);
                return Err(KeyFailure(format!("{name} could not be waited for: {e}")));
            }
        };
        let collect = |receiver: Receiver<Result<Zeroizing<Vec<u8>>, ReadError>>, what: &str| {
            let left = deadline.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(left) {
                Ok(Ok(bytes)) => Ok(bytes),
                Ok(Err(ReadError::TooLarge { limit, .. })) => Err(KeyFailure(format!(
                    "{name} printed more than {limit} bytes on {what}"
                ))),
                Ok(Err(e)) => Err(KeyFailure(format!(
                    "{name}'s {what} could not be read: {e}"
                ))),
                Err(_) => Err(KeyFailure(format!(
                    "{name}'s {what} was not closed in time"
                ))),
            }
        };
        let stdout = collect(stdout, "stdout")?;
        let stderr = String::from_utf8_lossy(&collect(stderr, "stderr")?).into_owned();
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// A failed run: its status and what gpg said (status lines left out).
    fn failed(&self, action: &str, output: &Output) -> KeyFailure {
        KeyFailure(format!(
            "{} {action} failed ({}): {}",
            self.name(),
            output.status,
            summary(&output.stderr)
        ))
    }

    /// The program as messages name it.
    fn name(&self) -> String {
        Path::new(&self.program).display().to_string()
    }
}

/// Where GnuPG keys are looked for, for the list of identity sources tried.
pub(crate) fn describe() -> String {
    let home = std::env::var_os("GNUPGHOME")
        .filter(|v| !v.is_empty())
        .map(|home| format!("GNUPGHOME={}", Path::new(&home).display()))
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".gnupg").display().to_string())
        })
        .unwrap_or_else(|| "~/.gnupg".to_owned());
    match GnuPg::find() {
        Ok(Some(gpg)) => format!("GnuPG ({}, {home})", gpg.name()),
        Ok(None) => format!("GnuPG (not used: no gpg on PATH and {EXEC_ENV} is not set)"),
        Err(e) => format!("GnuPG (not used: {e})"),
    }
}

/// gpg's stderr in one line: its lines without the `[GNUPG:]` status lines and the `gpg: `
/// prefix, repeated lines once, cut after [`MAX_SUMMARY_CHARS`].
fn summary(stderr: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in stderr.lines() {
        let line = line.trim();
        let line = line.strip_prefix("gpg: ").unwrap_or(line);
        if line.is_empty() || line.starts_with("[GNUPG:]") || lines.contains(&line) {
            continue;
        }
        lines.push(line);
    }
    if lines.is_empty() {
        return "(nothing on stderr)".to_owned();
    }
    let text = lines.join("; ");
    match text.char_indices().nth(MAX_SUMMARY_CHARS) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

/// The last 16 hex digits of a fingerprint (and the `!` that forces a subkey), as sops passes
/// it to `--trusted-key`.
fn short_fingerprint(fingerprint: &str) -> &str {
    let keep = if fingerprint.ends_with('!') { 17 } else { 16 };
    let start = fingerprint.len().saturating_sub(keep);
    fingerprint.get(start..).unwrap_or(fingerprint)
}

/// The first executable file called `name` in a folder of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|folder| folder.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trusted_key_is_the_last_sixteen_digits_as_sops_shortens_it() {
        let fp = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4";
        assert_eq!(short_fingerprint(fp), "3D16CEE4A27381B4");
        assert_eq!(
            short_fingerprint("71D962851765394F76DB9CFC25294A17CD90507F!"),
            "25294A17CD90507F!"
        );
        assert_eq!(short_fingerprint("ABCD"), "ABCD");
    }

    #[test]
    fn the_summary_leaves_out_status_lines_and_repeats() {
        let stderr = "[GNUPG:] ENC_TO 25294A17CD90507F 1 0\n\
                      gpg: encrypted with rsa2048 key, ID 25294A17CD90507F\n\
                      [GNUPG:] NO_SECKEY 25294A17CD90507F\n\
                      gpg: decryption failed: No secret key\n\
                      gpg: decryption failed: No secret key\n";
        assert_eq!(
            summary(stderr),
            "encrypted with rsa2048 key, ID 25294A17CD90507F; decryption failed: No secret key"
        );
        assert_eq!(summary("[GNUPG:] X\n\n"), "(nothing on stderr)");
        assert!(summary(&"x".repeat(1000)).ends_with("..."));
    }
}
