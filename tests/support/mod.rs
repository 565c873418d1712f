//! Helpers shared by the integration tests: isolated CLI runs and temporary config files.
#![allow(dead_code)] // each test file uses its own subset

pub mod plaintext_scan;
pub mod secret_service;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use assert_cmd::Command;
use tempfile::TempDir;

/// A temporary folder that is also the CLI's working directory, `$HOME` and `$XDG_CONFIG_HOME`
/// parent, so no config from the machine leaks into a test.
pub struct Sandbox {
    pub dir: TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `bytes` to `name` inside the sandbox and returns the full path.
    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Writes `text` to `name` inside the sandbox and returns the full path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The built `secret-cascade` binary, run inside the sandbox with a clean config environment.
    pub fn cli(&self) -> Command {
        let mut cmd = Command::cargo_bin("secret-cascade").expect("binary built");
        cmd.current_dir(self.path())
            .env_remove("SECRET_CASCADE_CONFIG")
            .env_remove("SECRET_CASCADE_LOG")
            .env("HOME", self.path().join("home"))
            .env("XDG_CONFIG_HOME", self.path().join("xdg"));
        cmd
    }
}

/// Runs the command and returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let output = cmd.output().expect("the binary runs");
    (
        output.status.code().expect("exited normally"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Like [`run`], but keeps stdout as bytes: `decrypt` may print binary data that is not UTF-8.
pub fn run_bytes(cmd: &mut Command) -> (i32, Vec<u8>, String) {
    let output = cmd.output().expect("the binary runs");
    (
        output.status.code().expect("exited normally"),
        output.stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `$SOPS_BIN`, checked once to be a runnable sops 3.11.
pub fn sops_bin() -> &'static Path {
    static SOPS: OnceLock<PathBuf> = OnceLock::new();
    SOPS.get_or_init(|| {
        let path = std::env::var_os("SOPS_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                panic!(
                    "SOPS_BIN is not set: this test needs the real sops 3.11. \
                 Run `export SOPS_BIN=$(scripts/install-sops)` first (scripts/test does this)."
                )
            });
        let output = std::process::Command::new(&path)
            .arg("--version")
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .output()
            .unwrap_or_else(|error| {
                panic!(
                    "SOPS_BIN={} does not run: {error}. Reinstall it with scripts/install-sops.",
                    path.display()
                )
            });
        let version = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && version.starts_with("sops 3.11."),
            "SOPS_BIN={} is not a working sops 3.11: `--version` exited with {} and printed \
             {version:?} {:?}",
            path.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        path
    })
}

/// Runs `job` over `items` on a few threads; each call of a tool is a process, so threads mostly wait.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(2, 8);
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else { break };
                    let result = job(item);
                    results.lock().unwrap().push((index, result));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}
