//! The real modelmesh-lite 0.1.1 (`$MODELMESH_PYTHON`, from `scripts/install-modelmesh`): its
//! `EncryptedFileSecretStore` writes files from a list of secrets and reads files back into one,
//! secrets passed through stdin and stdout as JSON (never argv).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How a store is opened: ModelMesh's `passphrase` or `encryption_key`.
#[derive(Clone, Copy, Debug)]
pub enum Credential<'a> {
    Passphrase(&'a str),
    Key(&'a str),
}

/// `$MODELMESH_PYTHON`, checked once to import modelmesh-lite 0.1.1 with real AES-GCM.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let path = std::env::var_os("MODELMESH_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                panic!(
                    "MODELMESH_PYTHON is not set: this test needs the real modelmesh-lite 0.1.1. \
                     Run `export MODELMESH_PYTHON=$(scripts/install-modelmesh)` first \
                     (scripts/test does this)."
                )
            });
        let output = Command::new(&path)
            .args(["-c", CHECK])
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "MODELMESH_PYTHON={} does not run: {e}. Reinstall it with \
                     scripts/install-modelmesh.",
                    path.display()
                )
            });
        assert!(
            output.status.success(),
            "MODELMESH_PYTHON={} has no modelmesh-lite 0.1.1 with `cryptography`: {}. Reinstall \
             it with scripts/install-modelmesh.",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        path
    })
}

/// modelmesh writes `secrets` (in this order) to a new store at `file` and saves it.
pub fn write(file: &Path, credential: Credential<'_>, secrets: &[(String, String)]) {
    run(file, credential, "write", Some(secrets));
}

/// What modelmesh reads from `file`: every secret, in the file's order.
pub fn read(file: &Path, credential: Credential<'_>) -> Vec<(String, String)> {
    run(file, credential, "read", None)
}

/// The seconds modelmesh takes to open `file` (construction: PBKDF2 and decryption), the best of
/// `rounds`, measured inside Python with `time.perf_counter`.
pub fn open_seconds(file: &Path, credential: Credential<'_>, rounds: usize) -> Duration {
    let started = Instant::now();
    let out = call(file, credential, &format!("time:{rounds}"), None);
    let seconds: f64 = String::from_utf8(out).unwrap().trim().parse().unwrap();
    assert!(started.elapsed().as_secs_f64() >= seconds);
    Duration::from_secs_f64(seconds)
}

fn run(
    file: &Path,
    credential: Credential<'_>,
    operation: &str,
    secrets: Option<&[(String, String)]>,
) -> Vec<(String, String)> {
    let out = call(file, credential, operation, secrets);
    serde_json::from_slice(&out).expect("modelmesh's secrets as a JSON list of pairs")
}

fn call(
    file: &Path,
    credential: Credential<'_>,
    operation: &str,
    secrets: Option<&[(String, String)]>,
) -> Vec<u8> {
    let (passphrase, key) = match credential {
        Credential::Passphrase(p) => (p, ""),
        Credential::Key(k) => ("", k),
    };
    let request = serde_json::json!({
        "operation": operation,
        "file_path": file,
        "passphrase": passphrase,
        "encryption_key": key,
        "secrets": secrets.unwrap_or_default(),
    });
    let mut child = Command::new(python())
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("modelmesh's python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "modelmesh {operation} of {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

const CHECK: &str = "
from importlib.metadata import version
from modelmesh.connectors.secret_stores.encrypted_file_store import EncryptedFileSecretStore
assert version('modelmesh-lite') == '0.1.1', version('modelmesh-lite')
assert EncryptedFileSecretStore(None).crypto_available, 'cryptography is missing'
";

/// Reads `{operation, file_path, passphrase, encryption_key, secrets}` from stdin. `write`: a new
/// store gets `secrets` by `set` in order, then `save`. `read`: prints the store's secrets as a
/// list of pairs, in the order the file holds them. `time:N`: prints the best of N openings.
const SCRIPT: &str = r#"
import json, sys, time
from modelmesh.connectors.secret_stores.encrypted_file_store import (
    EncryptedFileSecretStore, EncryptedFileSecretStoreConfig)
request = json.load(sys.stdin)
config = lambda: EncryptedFileSecretStoreConfig(
    file_path=request["file_path"], passphrase=request["passphrase"],
    encryption_key=request["encryption_key"])
operation = request["operation"]
if operation == "write":
    store = EncryptedFileSecretStore(config())
    for name, value in request["secrets"]:
        store.set(name, value)
    store.save()
    print("[]")
elif operation == "read":
    store = EncryptedFileSecretStore(config())
    print(json.dumps([[name, store.get(name)] for name in store._secrets_data]))
elif operation.startswith("time:"):
    best = None
    for _ in range(int(operation[5:])):
        started = time.perf_counter()
        store = EncryptedFileSecretStore(config())
        elapsed = time.perf_counter() - started
        assert store.list(), "the store opened empty: wrong credential?"
        best = elapsed if best is None else min(best, elapsed)
    print(best)
"#;
