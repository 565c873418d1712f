//! `SOPS_AGE_KEY_CMD`: a command that prints age identities, run as sops runs it.
//!
//! As in sops, the variable is split into words by POSIX shell rules (quotes and backslashes, no
//! expansion, no pipes: `shlex`, as sops's google/shlex) and run directly, never through a shell,
//! with `SOPS_AGE_RECIPIENT` set to the recipient whose stanza is being opened (sops 3.12+), stdin
//! from `/dev/null` and stderr passed through. Unlike sops, each run is bounded: it is killed
//! after [`TIMEOUT_ENV`] seconds (default [`DEFAULT_TIMEOUT`]), even if a process it started keeps
//! its output open, and it may print at most [`MAX_OUTPUT_BYTES`] (a key file is a few hundred
//! bytes). The output is a key: it is kept in a wiped-on-drop buffer and never quoted in a message.

use std::fmt;
use std::io;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::bounded_read::{self, ReadError};

/// The variable that holds the command, as sops names it.
pub(crate) const COMMAND_ENV: &str = "SOPS_AGE_KEY_CMD";

/// The variable, in seconds (a decimal such as `0.5` is allowed), that bounds each run.
pub(crate) const TIMEOUT_ENV: &str = "SECRET_CASCADE_KEY_CMD_TIMEOUT";

/// How long a run may take when [`TIMEOUT_ENV`] is not set.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most a run may print.
pub(crate) const MAX_OUTPUT_BYTES: u64 = 1 << 20;

/// How often a finished command's exit is polled for; short against any sensible timeout.
const POLL: Duration = Duration::from_millis(10);

/// `SOPS_AGE_KEY_CMD`, split into words, with the time each run may take. No `Debug`: the words
/// may carry a passphrase or a token.
pub(crate) struct KeyCommand {
    program: String,
    args: Vec<String>,
    timeout: Duration,
}

/// Why `SOPS_AGE_KEY_CMD` is unusable or gave no identities. Messages never quote the command (it
/// may carry a passphrase) nor its output (a key); an I/O failure is kept as the source.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KeyCommandError {
    /// The variable is not valid UTF-8.
    NotUtf8,
    /// The variable cannot be split into words (an unclosed quote, a trailing backslash).
    Unsplittable,
    /// The variable holds no word.
    NoProgram,
    /// `SECRET_CASCADE_KEY_CMD_TIMEOUT` is not a positive number of seconds.
    BadTimeout,
    /// The command could not be started.
    Start(Arc<io::Error>),
    /// The child gave no output pipe.
    NoOutputPipe,
    /// The thread that reads the output could not be started.
    ReadThread(Arc<io::Error>),
    /// Reading the output failed.
    Output(ReadError),
    /// The command printed more than its limit (1 MiB).
    TooMuchOutput,
    /// The command did not finish in time and was killed.
    TimedOut {
        /// The time it had.
        timeout: Duration,
    },
    /// Waiting for the command failed.
    Wait(Arc<io::Error>),
    /// What the command printed is not UTF-8.
    OutputNotUtf8,
}

impl fmt::Display for KeyCommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !matches!(self, Self::BadTimeout) {
            write!(f, "{COMMAND_ENV} ")?;
        }
        match self {
            Self::NotUtf8 => f.write_str("is not valid UTF-8"),
            Self::Unsplittable => f.write_str(
                "cannot be split into words (an unclosed quote or a trailing backslash); it is \
                 run as a program and arguments, not by a shell",
            ),
            Self::NoProgram => f.write_str("has no program to run"),
            Self::BadTimeout => write!(f, "{TIMEOUT_ENV} must be a positive number of seconds"),
            Self::Start(e) => write!(f, "could not be started: {e}"),
            Self::NoOutputPipe => f.write_str("gave no output pipe"),
            Self::ReadThread(e) => write!(f, "could not be read: {e}"),
            Self::Output(e) => write!(f, "output could not be read: {e}"),
            Self::TooMuchOutput => write!(
                f,
                "printed more than {MAX_OUTPUT_BYTES} bytes and was stopped; it must print an \
                 age key file"
            ),
            Self::TimedOut { timeout } => write!(
                f,
                "did not finish within {} s and was killed; set {TIMEOUT_ENV} (seconds) to allow \
                 longer",
                timeout.as_secs_f64()
            ),
            Self::Wait(e) => write!(f, "could not be waited for: {e}"),
            Self::OutputNotUtf8 => f.write_str("printed invalid UTF-8"),
        }
    }
}

impl std::error::Error for KeyCommandError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Start(e) | Self::ReadThread(e) | Self::Wait(e) => Some(&**e),
            Self::Output(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a run gave no identities.
#[derive(Debug)]
pub(crate) enum CommandFailure {
    /// It ran and exited unsuccessfully. It may still hold the key of another recipient, so the
    /// other stanzas are tried.
    Exited(ExitStatus),
    /// It could not be run, did not finish in time or printed too much. Running it again for
    /// another recipient would fail the same way, so this ends the search.
    Broken(KeyCommandError),
}

impl KeyCommand {
    /// The command in `SOPS_AGE_KEY_CMD` with the timeout from [`TIMEOUT_ENV`]; `Ok(None)` when
    /// the variable is unset or empty.
    pub(crate) fn from_env() -> Result<Option<Self>, KeyCommandError> {
        let Some(text) = std::env::var_os(COMMAND_ENV).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let text = text.into_string().map_err(|_| KeyCommandError::NotUtf8)?;
        // The command itself is not quoted back: it may carry a passphrase or a token.
        let mut words = shlex::split(&text)
            .ok_or(KeyCommandError::Unsplittable)?
            .into_iter();
        let program = words.next().ok_or(KeyCommandError::NoProgram)?;
        Ok(Some(Self {
            program,
            args: words.collect(),
            timeout: timeout_from_env()?,
        }))
    }

    /// Runs the command for `recipient` and returns what it printed.
    pub(crate) fn run(&self, recipient: &str) -> Result<Zeroizing<Vec<u8>>, CommandFailure> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .env("SOPS_AGE_RECIPIENT", recipient)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| CommandFailure::Broken(KeyCommandError::Start(Arc::new(e))))?;
        let deadline = Instant::now() + self.timeout;
        let output = match self.read_output(&mut child) {
            Ok(output) => output,
            Err(reason) => {
                stop(&mut child);
                return Err(CommandFailure::Broken(reason));
            }
        };
        // The output ended; the command may still be running until the deadline.
        match wait_until(&mut child, deadline) {
            Ok(Some(status)) if status.success() => Ok(output),
            Ok(Some(status)) => Err(CommandFailure::Exited(status)),
            Ok(None) => {
                stop(&mut child);
                Err(CommandFailure::Broken(self.timed_out()))
            }
            Err(e) => {
                stop(&mut child);
                Err(CommandFailure::Broken(KeyCommandError::Wait(Arc::new(e))))
            }
        }
    }

    /// Reads the child's stdout to its end, on a thread so that the wait can be bounded. Such a
    /// thread is left behind at the deadline; it ends when the pipe closes, holding nothing but
    /// the pipe and a buffer that is wiped when it is dropped.
    fn read_output(&self, child: &mut Child) -> Result<Zeroizing<Vec<u8>>, KeyCommandError> {
        let stdout = child.stdout.take().ok_or(KeyCommandError::NoOutputPipe)?;
        let receiver = read_on_thread(stdout, "sops-age-key-cmd", MAX_OUTPUT_BYTES)
            .map_err(|e| KeyCommandError::ReadThread(Arc::new(e)))?;
        match receiver.recv_timeout(self.timeout) {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(ReadError::TooLarge { .. })) => Err(KeyCommandError::TooMuchOutput),
            Ok(Err(e)) => Err(KeyCommandError::Output(e)),
            Err(_) => Err(self.timed_out()),
        }
    }

    fn timed_out(&self) -> KeyCommandError {
        KeyCommandError::TimedOut {
            timeout: self.timeout,
        }
    }
}

/// Reads `reader` to its end (at most `limit` bytes) on a thread named `name`, so that the wait
/// for it can be bounded: a process a command started may hold a pipe open long after the
/// command itself exited. If the receiver is dropped first, the output is wiped on drop.
pub(crate) fn read_on_thread(
    reader: impl io::Read + Send + 'static,
    name: &str,
    limit: u64,
) -> io::Result<mpsc::Receiver<Result<Zeroizing<Vec<u8>>, ReadError>>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = sender.send(bounded_read::stream(reader, 0, limit));
        })?;
    Ok(receiver)
}

fn timeout_from_env() -> Result<Duration, KeyCommandError> {
    seconds_from_env(TIMEOUT_ENV, DEFAULT_TIMEOUT).ok_or(KeyCommandError::BadTimeout)
}

/// The positive number of seconds (a decimal such as `0.5` is allowed) in `variable`, `default`
/// when it is unset or empty; `None` when it is set to anything else.
pub(crate) fn seconds_from_env(variable: &str, default: Duration) -> Option<Duration> {
    let Some(text) = std::env::var_os(variable).filter(|v| !v.is_empty()) else {
        return Some(default);
    };
    text.to_str()
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|seconds| *seconds > 0.0)
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
}

/// The child's exit status, or `None` if it is still running at `deadline`.
pub(crate) fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(POLL.min(deadline - now));
    }
}

/// Kills and reaps the child. Errors are ignored: it may have exited already, and the failure
/// being reported is the one that matters.
pub(crate) fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_command_that_cannot_start_keeps_the_io_error_as_its_source() {
        let command = KeyCommand {
            program: "/nonexistent/secret-cascade-key-command".into(),
            args: Vec::new(),
            timeout: Duration::from_secs(5),
        };
        let Err(CommandFailure::Broken(error)) = command.run("age1recipient") else {
            panic!("a missing program cannot run");
        };
        assert!(
            error
                .to_string()
                .starts_with("SOPS_AGE_KEY_CMD could not be started: "),
            "{error}"
        );
        let source = error.source().and_then(|e| e.downcast_ref::<io::Error>());
        assert_eq!(source.map(io::Error::kind), Some(io::ErrorKind::NotFound));
        // The command's words are never quoted back: they may carry a passphrase.
        assert!(!error.to_string().contains("secret-cascade-key-command"));
    }
}
