//! A private freedesktop Secret Service per test, started by the project's
//! `scripts/with-secret-service`: its own `dbus-daemon` (no service activation) and
//! `gnome-keyring-daemon --unlock` on it, keyring files in a temporary folder.
//!
//! The script runs a command that prints `$DBUS_SESSION_BUS_ADDRESS` and then waits for EOF on
//! its stdin, which the test holds. Dropping the [`SecretService`] closes that stdin: the script
//! kills and reaps both daemons, and the guard reaps the script. If the test process dies instead
//! (an abort, SIGKILL), the pipe closes all the same and the script still cleans up, so no
//! daemon outlives the test binary and no static guard is needed.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any one process of the keyring tests may run before it is killed and the test fails.
pub const WATCHDOG: Duration = Duration::from_secs(20);

/// The project's script that starts a private Secret Service.
pub const WITH_SECRET_SERVICE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/with-secret-service");

/// A private Secret Service (or a bare bus) for one test, stopped and reaped on drop.
pub struct SecretService {
    script: Child,
    /// The held end of the script's stdin: closing it ends the session.
    stdin: Option<ChildStdin>,
    /// The bus's address, `unix:path=...,guid=...`.
    pub address: String,
}

impl SecretService {
    /// A D-Bus session with gnome-keyring on it, login collection unlocked and empty.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A D-Bus session where nobody owns `org.freedesktop.secrets` (and nothing is activated).
    pub fn bus_only() -> Self {
        Self::start_with(&["--no-secret-service"])
    }

    fn start_with(options: &[&str]) -> Self {
        let mut script = Command::new(WITH_SECRET_SERVICE)
            .args(options)
            .args([
                "--",
                "sh",
                "-c",
                "printf '%s\\n' \"$DBUS_SESSION_BUS_ADDRESS\"; exec cat >/dev/null",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {WITH_SECRET_SERVICE}: {e}"));
        let stdin = script.stdin.take();
        let line = first_line(script.stdout.take().unwrap());
        match line {
            Some(address) if address.starts_with("unix:path=") => Self {
                script,
                stdin,
                address,
            },
            other => {
                drop(stdin);
                let _ = script.kill();
                let status = script.wait().unwrap();
                let mut stderr = String::new();
                let _ = script.stderr.take().unwrap().read_to_string(&mut stderr);
                panic!(
                    "scripts/with-secret-service did not start a Secret Service ({status}; \
                     printed {other:?}). It needs Debian `dbus` and `gnome-keyring` \
                     (scripts/test installs them). Its stderr:\n{stderr}"
                );
            }
        }
    }

    /// The bus's unix socket.
    pub fn socket(&self) -> PathBuf {
        let path = self.address.trim_start_matches("unix:path=");
        PathBuf::from(path.split(',').next().unwrap())
    }

    /// Locks the login collection through the Secret Service API (what a screen lock does), and
    /// checks that it says it is locked.
    pub fn lock(&self) {
        let (ok, output) = self.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/collection/login",
        ]);
        assert!(ok, "Lock failed: {output}");
        let (ok, output) = self.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets/aliases/default",
            "org.freedesktop.DBus.Properties.Get",
            "string:org.freedesktop.Secret.Collection",
            "string:Locked",
        ]);
        assert!(
            ok && output.contains("boolean true"),
            "the login collection is not locked: {output}"
        );
    }

    /// `dbus-send --print-reply` on this bus: (success, stdout and stderr).
    fn dbus_send(&self, args: &[&str]) -> (bool, String) {
        let output = assert_cmd::Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args(["--print-reply", "--reply-timeout=5000"])
            .args(args)
            .timeout(WATCHDOG)
            .output()
            .unwrap_or_else(|e| panic!("cannot run dbus-send (Debian `dbus`): {e}"));
        (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if wait_bounded(&mut self.script, Duration::from_secs(10)).is_none() {
            let _ = self.script.kill();
            let _ = self.script.wait();
            if !std::thread::panicking() {
                panic!("scripts/with-secret-service did not stop within 10 s of its stdin closing");
            }
        }
    }
}

/// The first line `reader` prints, waiting at most [`WATCHDOG`]; `None` at EOF or timeout.
pub fn first_line(reader: impl Read + Send + 'static) -> Option<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = BufReader::new(reader).read_line(&mut line);
        let _ = sender.send(
            read.ok()
                .filter(|&n| n > 0)
                .map(|_| line.trim_end().to_owned()),
        );
    });
    receiver.recv_timeout(WATCHDOG).ok().flatten()
}

/// Waits for `child` at most `limit`; `None` if it is still running.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills and reaps a child on drop.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
