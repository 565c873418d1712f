//! Helpers shared by the integration tests: isolated CLI runs and temporary config files.
#![allow(dead_code)] // each test file uses its own subset

pub mod gnupg;
pub mod interop;
pub mod modelmesh;
pub mod moto;
pub mod openbao;
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

    /// A resolver from `secret-cascade.yml` written here with one layer of `kind`, its options
    /// given as YAML lines indented by four spaces (`"    path: a.env\n"`).
    pub fn one_layer(
        &self,
        kind: &str,
        options: &str,
    ) -> Result<secret_cascade::Resolver, secret_cascade::Error> {
        let config = self.write(
            "secret-cascade.yml",
            &format!("providers:\n  - kind: {kind}\n{options}"),
        );
        secret_cascade::Resolver::from_config_file(config)
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

/// How a bounded run of the CLI ended.
pub struct Bounded {
    /// The exit code; `None` if a signal ended the process (an abort on allocation failure).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Bounded {
    /// Fails the test unless the CLI exited with `code`, printed `message` on stderr, and did not
    /// panic or abort.
    pub fn assert_refused(&self, code: i32, message: &str) {
        assert_eq!(self.code, Some(code), "stderr: {}", self.stderr);
        assert!(self.stderr.contains(message), "{}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert!(
            !self.stderr.contains("memory allocation"),
            "{}",
            self.stderr
        );
    }
}

impl Sandbox {
    /// The CLI under `prlimit --as=MEMORY_LIMIT` (util-linux), with the same clean environment as
    /// [`Sandbox::cli`]; run it with [`run_bounded`].
    pub fn bounded_cli(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new("prlimit");
        cmd.arg(format!("--as={MEMORY_LIMIT}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_secret-cascade"))
            .current_dir(self.path())
            .env_remove("SECRET_CASCADE_CONFIG")
            .env_remove("SECRET_CASCADE_LOG")
            .env_remove("SECRET_CASCADE_KEY_CMD_TIMEOUT")
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_KEY_FILE")
            .env_remove("SOPS_AGE_KEY_CMD")
            .env_remove("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
            .env("HOME", self.path().join("home"))
            .env("XDG_CONFIG_HOME", self.path().join("xdg"));
        cmd
    }

    /// Makes a FIFO at `name` inside the sandbox (`mkfifo`, coreutils) and returns its path.
    pub fn fifo(&self, name: &str) -> PathBuf {
        let path = self.path().join(name);
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap_or_else(|e| panic!("mkfifo (coreutils) is needed for this test: {e}"));
        assert!(status.success(), "mkfifo {} failed", path.display());
        path
    }
}

/// The address-space limit of a bounded run: ample for any lookup here (one takes under 64 MiB),
/// far below what an unbounded read of `/dev/zero` or of 1 GiB of output would need.
pub const MEMORY_LIMIT: u64 = 256 << 20;

/// Runs `cmd` (from [`Sandbox::bounded_cli`]) with stdin closed, killing it and failing the test
/// if it is still running after [`secret_service::WATCHDOG`]. Output goes to files, not pipes, so that a process
/// it left behind holding them cannot stall the test.
pub fn run_bounded(cmd: &mut std::process::Command) -> Bounded {
    let outputs = tempfile::tempdir().expect("temp dir");
    let stdout_path = outputs.path().join("stdout");
    let stderr_path = outputs.path().join("stderr");
    let file = |path: &Path| std::fs::File::create(path).expect("output file");
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(file(&stdout_path))
        .stderr(file(&stderr_path))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run prlimit (util-linux is needed): {e}"));
    let watchdog = secret_service::WATCHDOG;
    let Some(status) = secret_service::wait_bounded(&mut child, watchdog) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "the CLI was still running after {} s: it hangs; stderr: {}",
            watchdog.as_secs(),
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
    };
    let read = |path: &Path| String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    Bounded {
        code: status.code(),
        stdout: read(&stdout_path),
        stderr: read(&stderr_path),
    }
}

/// Runs `f` with every `tracing` event down to TRACE written to a buffer, and returns what was
/// logged: for tests that logs name layers and never values.
pub fn capture_logs(f: impl FnOnce()) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = captured.0.lock().unwrap().clone();
    String::from_utf8(bytes).expect("logs are UTF-8")
}

/// A `tracing` writer that appends to a shared buffer.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
