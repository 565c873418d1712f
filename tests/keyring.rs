//! `kind: keyring` and `secret-cascade keyring` against the real thing: gnome-keyring's Secret
//! Service on a private D-Bus session, the kernel's keyutils, and Python's `keyring` (the way kstlib
//! writes entries). Nothing here is mocked and nothing is skipped: a missing component fails the
//! test with what to install.
//!
//! # How the daemons start
//!
//! Every test that needs a Secret Service starts its own with [`SecretService::start`]
//! (`tests/support/secret_service.rs`), which runs the project's `scripts/with-secret-service` (a
//! private `dbus-daemon` with no service activation, and `gnome-keyring-daemon --unlock` on it,
//! keyring files in a temporary folder) around a command that prints `$DBUS_SESSION_BUS_ADDRESS`
//! and then waits for EOF on its stdin. The test keeps that stdin: dropping the guard closes it,
//! the script kills and reaps both daemons, and the guard reaps the script. If the test process
//! dies instead (a panic that aborts, SIGKILL), the pipe closes all the same and the script still
//! cleans up: no static guard, no daemon left behind. Each test so has its own keyring, and no
//! test can reach the user's real one (every command gets the test bus's address, and
//! `XDG_RUNTIME_DIR` inside its sandbox).
//!
//! So `cargo test --test keyring` needs no wrapper, only the programs: Debian `dbus`,
//! `gnome-keyring` and `keyutils` (`scripts/test` installs them), and for the interop tests the
//! Python in `$KEYRING_PYTHON` with `keyring`, `secretstorage` and `jeepney`
//! (`export KEYRING_PYTHON=$(scripts/install-python-keyring)`; `scripts/test` does it).
//!
//! keyutils needs a session keyring of the process's own (a container's processes often have
//! none, and keyutils then answers "access denied"): the keyutils test runs its whole
//! set/get/delete sequence in one `keyctl session - sh -c '...'`. The keyutils store also links
//! entries into the user's *persistent* keyring, shared by every session of the user, so names
//! there are unique per run and deleted at the end.
//!
//! # What is covered
//!
//! * The Secret Service round trip through the CLI (`keyring set|get|delete`, exit codes 0, 1,
//!   4) and through a config's `kind: keyring` layer; keyutils likewise.
//! * Interop with Python's `keyring` under kstlib's naming (service `kstlib`, user
//!   `mail:smtp.password`), both ways, deletes both ways.
//! * Absence: no bus at all, a bus without a Secret Service, a peer that accepts the connection
//!   and never answers, a locked collection, and a locked collection whose unlock prompt never
//!   completes. Each makes the layer *unavailable*, quickly (every command runs under a
//!   [`WATCHDOG`] that kills it and fails the test, so a hang is a failure, not a stuck run), and
//!   the chain goes on to the next layer or the default.
//! * A locked collection (locked through the Secret Service API): reading or writing an entry
//!   asks gnome-keyring to unlock it, which needs a prompt; on this bus there is no prompter, so
//!   the prompt is dismissed at once (`SS error: prompt dismissed`) and the layer is unavailable.
//!   With a prompter that never answers (a desktop nobody is at), the keyring timeout cuts the
//!   call. A name the locked collection does not hold is a plain miss (no unlock is needed to
//!   search).
//! * Unusable entries (not UTF-8, two entries for one name) are errors, exit 3.
//! * `doctor`: ok when the daemon answers, FAIL and exit 1 when not.
//! * No value in the stderr of any command here, failing or not, `-vv` logs included.
//!
//! `tests/keyring_reconnect.rs` covers a provider in a long-running process whose Secret Service
//! restarts.

mod support;

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use assert_cmd::Command;
use support::Sandbox;
use support::secret_service::{Reaped, SecretService, WATCHDOG, first_line};

/// Distinctive enough that finding it in any output but a `get`'s stdout means it leaked.
const VALUE: &str = "kr-s3cr3t-8c21f3-pässwörd";
/// Another value, for the layer after the keyring.
const ENV_VALUE: &str = "env-s3cr3t-41d0b7";
/// The keyring timeout where the test is that a call which never answers is cut short: well
/// under the watchdog.
const SHORT_TIMEOUT_MS: &str = "300";
/// The keyring timeout where a quick answer is expected (a connection refused, a dismissed prompt,
/// a healthy daemon): generous, so that a loaded machine (a debug build spends ~0.1 s of CPU on
/// the Secret Service session's key exchange) never turns it into a timeout.
const LONG_TIMEOUT_MS: &str = "10000";
/// secret-cascade's exit codes.
const EXIT_MISSING: i32 = 1;
const EXIT_UNUSABLE: i32 = 3;
const EXIT_UNAVAILABLE: i32 = 4;

// =============================================================================================
// Daemons and processes

/// Commands on a test's own bus.
trait OnBus {
    /// `secret-cascade` on this bus.
    fn cli(&self, sandbox: &Sandbox) -> Command;
    /// Python on this bus.
    fn python(&self, sandbox: &Sandbox, code: &str, args: &[&str]) -> Command;
}

impl OnBus for SecretService {
    fn cli(&self, sandbox: &Sandbox) -> Command {
        cli(sandbox, &self.address)
    }

    fn python(&self, sandbox: &Sandbox, code: &str, args: &[&str]) -> Command {
        python(sandbox, &self.address, code, args)
    }
}

/// `secret-cascade` in the sandbox, talking to the bus at `bus` (any fallback bus it could
/// find, `$XDG_RUNTIME_DIR/bus`, is inside the sandbox and does not exist), under the watchdog.
fn cli(sandbox: &Sandbox, bus: &str) -> Command {
    let mut cmd = sandbox.cli();
    cmd.env("DBUS_SESSION_BUS_ADDRESS", bus)
        .env("XDG_RUNTIME_DIR", sandbox.path().join("run"))
        .timeout(WATCHDOG);
    cmd
}

/// Runs the command and returns (exit code, stdout, stderr); a command the watchdog had to kill
/// fails the test.
fn run(cmd: &mut Command) -> (i32, String, String) {
    let started = Instant::now();
    let output = cmd.output().expect("the command starts");
    let Some(code) = output.status.code() else {
        panic!(
            "the command was killed ({}) after {:.1?}: it did not finish within the {WATCHDOG:?} \
             watchdog, so a keyring call hung. stderr: {}",
            output.status,
            started.elapsed(),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    (
        code,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A name no other test or run uses (the keyutils persistent keyring is shared per user).
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn assert_no_value(what: &str, text: &str) {
    for value in [VALUE, ENV_VALUE] {
        assert!(!text.contains(value), "{what} contains a value: {text}");
    }
}

/// A config: a keyring layer (`options` are its extra YAML lines), then an env layer with prefix
/// `KRTEST`.
fn chain_config(sandbox: &Sandbox, options: &str) -> PathBuf {
    sandbox.write(
        "secret-cascade.yml",
        &format!(
            "name: keyringtest\nproviders:\n  - kind: keyring\n    service: kstlib\n{options}  \
             - kind: env\n    prefix: KRTEST\n"
        ),
    )
}

/// `get --config CONFIG --scope mail smtp.password --json [extra]`.
fn get_json(mut cmd: Command, config: &Path, extra: &[&str]) -> (i32, String, String) {
    cmd.args([
        "get",
        "smtp.password",
        "--scope",
        "mail",
        "--json",
        "--config",
    ])
    .arg(config)
    .args(extra);
    run(&mut cmd)
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

// =============================================================================================
// Python's keyring

/// `$KEYRING_PYTHON`, checked once to import keyring, secretstorage and jeepney.
fn python_bin() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let path = std::env::var_os("KEYRING_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                panic!(
                    "KEYRING_PYTHON is not set: the interop tests need Python's keyring. Run \
                     `export KEYRING_PYTHON=$(scripts/install-python-keyring)` first (scripts/test \
                     does this)."
                )
            });
        let output = StdCommand::new(&path)
            .args(["-c", "import keyring, secretstorage, jeepney"])
            .output()
            .unwrap_or_else(|e| panic!("KEYRING_PYTHON={} does not run: {e}", path.display()));
        assert!(
            output.status.success(),
            "KEYRING_PYTHON={} cannot import keyring, secretstorage and jeepney: {}. Reinstall \
             with scripts/install-python-keyring.",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        path
    })
}

/// Python running `code` with `args` on the bus at `bus`, its keyring forced to the Secret
/// Service backend, its config and data folders in the sandbox, the value in `$KR_VALUE`.
fn python(sandbox: &Sandbox, bus: &str, code: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(python_bin());
    cmd.arg("-c")
        .arg(code)
        .args(args)
        .current_dir(sandbox.path())
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .env("HOME", sandbox.path().join("home"))
        .env("XDG_CONFIG_HOME", sandbox.path().join("xdg"))
        .env("XDG_DATA_HOME", sandbox.path().join("data"))
        .env("XDG_RUNTIME_DIR", sandbox.path().join("run"))
        .env(
            "PYTHON_KEYRING_BACKEND",
            "keyring.backends.SecretService.Keyring",
        )
        .env("KR_VALUE", VALUE)
        .timeout(WATCHDOG);
    cmd
}

/// Runs Python and expects it to succeed; returns its stdout.
fn run_python(mut cmd: Command) -> String {
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 0, "python failed: {stdout}{stderr}");
    stdout
}

const PY_SET: &str = "import os, sys, keyring
keyring.set_password(sys.argv[1], sys.argv[2], os.environ['KR_VALUE'])
print(type(keyring.get_keyring()).__module__)";
const PY_GET: &str = "import sys, keyring
value = keyring.get_password(sys.argv[1], sys.argv[2])
print('None' if value is None else 'value:' + value)";
const PY_DELETE: &str = "import sys, keyring
keyring.delete_password(sys.argv[1], sys.argv[2])";
/// Stores raw bytes (argv[3], with `\xff` prepended) under service/username attributes,
/// `argv[4]` times, without replacing: what a foreign or broken writer could leave.
const PY_RAW_ITEMS: &str = "import sys, secretstorage
connection = secretstorage.dbus_init()
collection = secretstorage.get_default_collection(connection)
for _ in range(int(sys.argv[4])):
    collection.create_item('raw', {'service': sys.argv[1], 'username': sys.argv[2]},
                           b'\\xff' + sys.argv[3].encode(), replace=False)";
/// Owns `org.gnome.keyring.SystemPrompter` and never answers: an unlock prompt that waits for a
/// user who never comes. Prints `ready` once the name is its own.
const PY_HANGING_PROMPTER: &str = "from jeepney.io.blocking import open_dbus_connection
from jeepney.bus_messages import message_bus
connection = open_dbus_connection(bus='SESSION')
reply = connection.send_and_get_reply(message_bus.RequestName('org.gnome.keyring.SystemPrompter'))
assert reply.body == (1,), reply.body
print('ready', flush=True)
while True:
    connection.receive()";

// =============================================================================================
// Secret Service: the round trip and the exit codes

#[test]
fn set_get_delete_through_the_secret_service_with_exit_codes_0_1() {
    let service = SecretService::start();
    let sandbox = Sandbox::new();
    let entry = ["--service", "kstlib", "--scope", "mail", "smtp.password"];

    let (code, stdout, stderr) = run(service.cli(&sandbox).args(["keyring", "get"]).args(entry));
    assert_eq!(code, EXIT_MISSING, "get before set: {stdout}{stderr}");
    assert!(
        stderr.contains("no entry for service `kstlib`, user `mail:smtp.password`"),
        "{stderr}"
    );

    let (code, stdout, stderr) = run(service
        .cli(&sandbox)
        .args(["keyring", "set"])
        .args(entry)
        .write_stdin(format!("{VALUE}\n")));
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));

    let (code, stdout, stderr) = run(service.cli(&sandbox).args(["keyring", "get"]).args(entry));
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, &*format!("{VALUE}\n"), "")
    );

    let (code, stdout, stderr) = run(service
        .cli(&sandbox)
        .args(["keyring", "get", "--json"])
        .args(entry));
    assert_eq!(code, 0, "{stderr}");
    let record = json(&stdout);
    assert_eq!(record["source"], "keyring");
    assert_eq!(record["value"], VALUE);
    assert_eq!(record["name"], "mail.smtp.password");
    assert_eq!(record["metadata"]["service"], "kstlib");
    assert_eq!(record["metadata"]["user"], "mail:smtp.password");

    // Another scope is another entry.
    let (code, _, stderr) =
        run(service
            .cli(&sandbox)
            .args(["keyring", "get", "--service", "kstlib", "smtp.password"]));
    assert_eq!(code, EXIT_MISSING, "{stderr}");
    assert!(stderr.contains("user `default:smtp.password`"), "{stderr}");

    let (code, stdout, stderr) = run(service
        .cli(&sandbox)
        .args(["keyring", "delete"])
        .args(entry));
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));

    let (code, _, stderr) = run(service.cli(&sandbox).args(["keyring", "get"]).args(entry));
    assert_eq!(code, EXIT_MISSING, "get after delete: {stderr}");
    assert_no_value("get after delete", &stderr);

    let (code, _, stderr) = run(service
        .cli(&sandbox)
        .args(["keyring", "delete"])
        .args(entry));
    assert_eq!(code, EXIT_MISSING, "a second delete: {stderr}");
    assert!(
        stderr.contains("no keyring entry for user `mail:smtp.password`"),
        "{stderr}"
    );
}

#[test]
fn the_chain_asks_the_keyring_first_and_goes_on_to_env_on_a_miss() {
    let service = SecretService::start();
    let sandbox = Sandbox::new();
    let config = chain_config(&sandbox, "");

    // A miss in the keyring: env answers.
    let mut cmd = service.cli(&sandbox);
    cmd.env("KRTEST__MAIL__SMTP__PASSWORD", ENV_VALUE);
    let (code, stdout, stderr) = get_json(cmd, &config, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout)["source"], "env");
    assert_eq!(json(&stdout)["value"], ENV_VALUE);

    // `keyring set --config` writes where the config's layer reads.
    let (code, _, stderr) = run(service
        .cli(&sandbox)
        .args([
            "keyring",
            "set",
            "smtp.password",
            "--scope",
            "mail",
            "--config",
        ])
        .arg(&config)
        .write_stdin(VALUE));
    assert_eq!(code, 0, "{stderr}");

    // The keyring has it: the keyring answers first, though env has it too.
    let mut cmd = service.cli(&sandbox);
    cmd.env("KRTEST__MAIL__SMTP__PASSWORD", ENV_VALUE);
    let (code, stdout, stderr) = get_json(cmd, &config, &["--default", "unused"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let record = json(&stdout);
    assert_eq!(record["source"], "keyring");
    assert_eq!(record["value"], VALUE);
    assert_eq!(record["metadata"]["user"], "mail:smtp.password");

    // `keyring get --config` reads the same entry.
    let (code, stdout, stderr) = run(service
        .cli(&sandbox)
        .args([
            "keyring",
            "get",
            "smtp.password",
            "--scope",
            "mail",
            "--config",
        ])
        .arg(&config));
    assert_eq!((code, stdout.trim_end(), stderr.as_str()), (0, VALUE, ""));
}

// =============================================================================================
// Python's keyring, kstlib's naming

#[test]
fn what_python_keyring_writes_under_kstlib_naming_we_read_and_python_deletes_we_miss() {
    let service = SecretService::start();
    let sandbox = Sandbox::new();
    let config = chain_config(&sandbox, "");

    let backend = run_python(service.python(&sandbox, PY_SET, &["kstlib", "mail:smtp.password"]));
    assert_eq!(
        backend.trim(),
        "keyring.backends.SecretService",
        "Python must write to the Secret Service"
    );

    let (code, stdout, stderr) = get_json(service.cli(&sandbox), &config, &[]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let record = json(&stdout);
    assert_eq!(record["source"], "keyring");
    assert_eq!(record["value"], VALUE);

    let (code, stdout, _) = run(service.cli(&sandbox).args([
        "keyring",
        "get",
        "--service",
        "kstlib",
        "--scope",
        "mail",
        "smtp.password",
    ]));
    assert_eq!((code, stdout.trim_end()), (0, VALUE));

    // Our set replaces Python's entry (one entry, not two).
    let (code, _, stderr) = run(service
        .cli(&sandbox)
        .args([
            "keyring",
            "set",
            "--service",
            "kstlib",
            "--scope",
            "mail",
            "smtp.password",
        ])
        .write_stdin("replaced-by-us"));
    assert_eq!(code, 0, "{stderr}");
    let got = run_python(service.python(&sandbox, PY_GET, &["kstlib", "mail:smtp.password"]));
    assert_eq!(got.trim_end(), "value:replaced-by-us");

    run_python(service.python(&sandbox, PY_DELETE, &["kstlib", "mail:smtp.password"]));
    let mut cmd = service.cli(&sandbox);
    cmd.env("KRTEST__MAIL__SMTP__PASSWORD", ENV_VALUE);
    let (code, stdout, stderr) = get_json(cmd, &config, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout)["source"], "env", "deleted by Python: a miss");
    let (code, _, stderr) = run(service.cli(&sandbox).args([
        "keyring",
        "get",
        "--service",
        "kstlib",
        "--scope",
        "mail",
        "smtp.password",
    ]));
    assert_eq!(code, EXIT_MISSING, "{stderr}");
}

#[test]
fn what_we_write_python_keyring_reads_and_we_delete_python_gets_none() {
    let service = SecretService::start();
    let sandbox = Sandbox::new();

    let (code, _, stderr) = run(service
        .cli(&sandbox)
        .args([
            "keyring",
            "set",
            "--service",
            "kstlib",
            "--scope",
            "mail",
            "smtp.password",
        ])
        .write_stdin(format!("{VALUE}\n")));
    assert_eq!(code, 0, "{stderr}");
    let got = run_python(service.python(&sandbox, PY_GET, &["kstlib", "mail:smtp.password"]));
    assert_eq!(
        got.trim_end(),
        format!("value:{VALUE}"),
        "the trailing newline is not stored"
    );

    // Unscoped: user `default:NAME`.
    let (code, _, stderr) = run(service
        .cli(&sandbox)
        .args(["keyring", "set", "--service", "kstlib", "api.token"])
        .write_stdin(VALUE));
    assert_eq!(code, 0, "{stderr}");
    let got = run_python(service.python(&sandbox, PY_GET, &["kstlib", "default:api.token"]));
    assert_eq!(got.trim_end(), format!("value:{VALUE}"));

    let (code, _, stderr) = run(service.cli(&sandbox).args([
        "keyring",
        "delete",
        "--service",
        "kstlib",
        "--scope",
        "mail",
        "smtp.password",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let got = run_python(service.python(&sandbox, PY_GET, &["kstlib", "mail:smtp.password"]));
    assert_eq!(got.trim_end(), "None");
    // The other entry is still there.
    let got = run_python(service.python(&sandbox, PY_GET, &["kstlib", "default:api.token"]));
    assert_eq!(got.trim_end(), format!("value:{VALUE}"));
}

#[test]
fn an_empty_value_written_by_python_is_a_hit() {
    let service = SecretService::start();
    let sandbox = Sandbox::new();
    let config = chain_config(&sandbox, "");
    let mut set = service.python(&sandbox, PY_SET, &["kstlib", "mail:smtp.password"]);
    set.env("KR_VALUE", "");
    run_python(set);
    let mut cmd = service.cli(&sandbox);
    cmd.env("KRTEST__MAIL__SMTP__PASSWORD", ENV_VALUE);
    let (code, stdout, stderr) = get_json(cmd, &config, &[]);
    assert_eq!(code, 0, "{stderr}");
    let record = json(&stdout);
    assert_eq!(
        (record["source"].as_str(), record["value"].as_str()),
        (Some("keyring"), Some(""))
    );
}

// =============================================================================================
// Unusable entries: errors, exit 3, the chain stops

#[test]
fn an_entry_that_is_not_utf8_or_two_entries_for_one_name_are_errors_without_the_value() {
    let service = SecretService::start();
    let sandbox = Sandbox::new();
    let config = chain_config(&sandbox, "");
    run_python(service.python(
        &sandbox,
        PY_RAW_ITEMS,
        &["kstlib", "mail:smtp.password", VALUE, "1"],
    ));
    run_python(service.python(
        &sandbox,
        PY_RAW_ITEMS,
        &["kstlib", "default:twice", VALUE, "2"],
    ));

    for (name, scope, expected) in [
        ("smtp.password", "mail", "not UTF-8"),
        ("twice", "default", "2 entries match"),
    ] {
        // The env layer after the keyring has the name: an unusable entry is not papered over.
        let mut cmd = service.cli(&sandbox);
        cmd.args([
            "-vv",
            "get",
            name,
            "--scope",
            scope,
            "--default",
            "d",
            "--config",
        ])
        .arg(&config)
        .env("KRTEST__MAIL__SMTP__PASSWORD", ENV_VALUE)
        .env("KRTEST__DEFAULT__TWICE", ENV_VALUE);
        let (code, stdout, stderr) = run(&mut cmd);
        assert_eq!(code, EXIT_UNUSABLE, "{name}: {stdout}{stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert_eq!(stdout, "", "{name}");
        assert_no_value(name, &stderr);

        let (code, _, stderr) = run(service.cli(&sandbox).args([
            "keyring",
            "get",
            "--service",
            "kstlib",
            "--scope",
            scope,
            name,
        ]));
        assert_eq!(code, EXIT_UNUSABLE, "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert_no_value(name, &stderr);
    }
}

// =============================================================================================
// keyutils

#[test]
fn keyutils_set_get_delete_in_one_session_keyring() {
    let sandbox = Sandbox::new();
    let service = unique("secret-cascade-test");
    let config = sandbox.write(
        "keyutils.yml",
        &format!("providers:\n  - kind: keyring\n    backend: keyutils\n    service: {service}\n"),
    );
    // One shell, one fresh session keyring (`keyctl session -`) for every step; each step's
    // stdout, stderr and exit code go to files named after it.
    let steps = r#"
set -u
step() { n=$1; shift; "$@" >"$n.out" 2>"$n.err"; echo $? >"$n.code"; }
kr() { "$BIN" keyring "$@" --backend keyutils --service "$SERVICE"; }
keyctl show @s >session.out 2>&1
step get-before kr get token --scope app
printf '%s\n' "$KR_VALUE" | step set kr set token --scope app
step get kr get token --scope app
step get-json kr get token --scope app --json
step get-config "$BIN" get token --scope app --json --config "$CONFIG"
step delete kr delete token --scope app
step get-after kr get token --scope app
step delete-again kr delete token --scope app
"#;
    let mut cmd = Command::new("keyctl");
    cmd.args(["session", "-", "sh", "-c", steps])
        .current_dir(sandbox.path())
        .env("BIN", env!("CARGO_BIN_EXE_secret-cascade"))
        .env("SERVICE", &service)
        .env("CONFIG", &config)
        .env("KR_VALUE", VALUE)
        .env("HOME", sandbox.path().join("home"))
        .env("XDG_CONFIG_HOME", sandbox.path().join("xdg"))
        .env_remove("SECRET_CASCADE_CONFIG")
        .env_remove("SECRET_CASCADE_LOG")
        .timeout(WATCHDOG);
    let output = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run keyctl: {e}. Install Debian `keyutils` (scripts/test does).")
    });
    assert!(
        output.status.success(),
        "keyctl session failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let read = |name: &str| {
        std::fs::read_to_string(sandbox.path().join(name))
            .unwrap_or_else(|e| panic!("step output {name}: {e}"))
    };
    let step = |name: &str| -> (i32, String, String) {
        let code = read(&format!("{name}.code")).trim().parse().unwrap();
        let (stdout, stderr) = (read(&format!("{name}.out")), read(&format!("{name}.err")));
        assert_no_value(&format!("{name} stderr"), &stderr);
        (code, stdout, stderr)
    };
    let session = read("session.out");
    assert!(
        session.contains("keyring: _ses"),
        "not a fresh session keyring: {session}"
    );

    let (code, _, stderr) = step("get-before");
    assert_eq!(code, EXIT_MISSING, "{stderr}");
    let (code, _, stderr) = step("set");
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = step("get");
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, &*format!("{VALUE}\n"), "")
    );
    let (code, stdout, stderr) = step("get-json");
    assert_eq!(code, 0, "{stderr}");
    let record = json(&stdout);
    assert_eq!(record["source"], "keyring");
    assert_eq!(record["value"], VALUE);
    assert_eq!(record["metadata"]["user"], "app:token");
    assert_eq!(record["metadata"]["service"], service.as_str());
    let (code, stdout, stderr) = step("get-config");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout)["source"], "keyring");
    assert_eq!(json(&stdout)["value"], VALUE);
    let (code, _, stderr) = step("delete");
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = step("get-after");
    assert_eq!(code, EXIT_MISSING, "{stderr}");
    let (code, _, stderr) = step("delete-again");
    assert_eq!(code, EXIT_MISSING, "{stderr}");
}

// =============================================================================================
// Absence: unavailable, quickly, and the chain goes on

/// Runs the absence checks against a keyring layer that cannot answer on `bus`, with the keyring
/// timeout `timeout_ms`: `reason` is a part of the unavailable reason every command must name.
fn assert_unavailable_and_the_chain_goes_on(
    sandbox: &Sandbox,
    bus: &str,
    timeout_ms: &str,
    reason: &str,
) {
    let config = chain_config(sandbox, &format!("    timeout_ms: {timeout_ms}\n"));

    // `keyring get`: exit 4 with the reason.
    let (code, stdout, stderr) = run(cli(sandbox, bus).args([
        "keyring",
        "get",
        "--service",
        "kstlib",
        "--scope",
        "mail",
        "smtp.password",
        "--timeout-ms",
        timeout_ms,
    ]));
    assert_eq!(code, EXIT_UNAVAILABLE, "keyring get: {stdout}{stderr}");
    assert!(
        stderr.contains("keyring:secret-service (unavailable: ") && stderr.contains(reason),
        "keyring get: {stderr}"
    );

    // `keyring set`: exit 4, and the value it was given is not echoed.
    let (code, _, stderr) = run(cli(sandbox, bus)
        .args([
            "-vv",
            "keyring",
            "set",
            "--service",
            "kstlib",
            "smtp.password",
        ])
        .args(["--timeout-ms", timeout_ms])
        .write_stdin(VALUE));
    assert_eq!(code, EXIT_UNAVAILABLE, "keyring set: {stderr}");
    assert!(stderr.contains("is unavailable"), "keyring set: {stderr}");
    assert_no_value("keyring set -vv", &stderr);

    // The env layer after it answers.
    let mut cmd = cli(sandbox, bus);
    cmd.env("KRTEST__MAIL__SMTP__PASSWORD", ENV_VALUE);
    let (code, stdout, stderr) = get_json(cmd, &config, &[]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(json(&stdout)["source"], "env");
    assert_eq!(json(&stdout)["value"], ENV_VALUE);

    // Nobody has it: the default answers.
    let (code, stdout, stderr) = get_json(cli(sandbox, bus), &config, &["--default", VALUE]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(json(&stdout)["source"], "default");
    assert_eq!(json(&stdout)["value"], VALUE);

    // No default: not found (1), naming the keyring layer's reason and the env variable.
    let (code, stdout, stderr) = get_json(cli(sandbox, bus), &config, &["-vv"]);
    assert_eq!(code, EXIT_MISSING, "{stdout}{stderr}");
    assert!(
        stderr.contains("keyring:secret-service (unavailable: ") && stderr.contains(reason),
        "{stderr}"
    );
    assert!(stderr.contains("KRTEST__MAIL__SMTP__PASSWORD"), "{stderr}");
}

/// `doctor --config` with a config whose only layer is the keyring, with the keyring timeout
/// `timeout_ms`: (exit code, the keyring's `backend` line, the whole output).
fn doctor(sandbox: &Sandbox, bus: &str, timeout_ms: &str) -> (i32, String, String) {
    let config = sandbox.write(
        "doctor.yml",
        &format!(
            "providers:\n  - kind: keyring\n    service: kstlib\n    timeout_ms: {timeout_ms}\n"
        ),
    );
    let (code, stdout, stderr) = run(cli(sandbox, bus).args(["doctor", "--config"]).arg(&config));
    let line = stdout
        .lines()
        .find(|line| line.contains("backend"))
        .unwrap_or_else(|| panic!("no backend line: {stdout}{stderr}"))
        .trim()
        .to_owned();
    (code, line, format!("{stdout}{stderr}"))
}

/// `doctor` with a keyring layer that cannot answer on `bus`: a FAIL line for it, exit 1.
fn assert_doctor_fails(sandbox: &Sandbox, bus: &str, timeout_ms: &str) {
    let (code, line, output) = doctor(sandbox, bus, timeout_ms);
    assert_eq!(code, 1, "doctor: {output}");
    assert!(
        line.starts_with("FAIL") && line.contains("secret-service is unavailable"),
        "{output}"
    );
}

#[test]
fn no_bus_at_all_is_unavailable() {
    let sandbox = Sandbox::new();
    assert_unavailable_and_the_chain_goes_on(
        &sandbox,
        "unix:path=/nonexistent/bus",
        LONG_TIMEOUT_MS,
        "Failed to connect to address `unix:path=/nonexistent/bus`",
    );
    assert_doctor_fails(&sandbox, "unix:path=/nonexistent/bus", LONG_TIMEOUT_MS);
}

#[test]
fn no_session_bus_address_is_unavailable() {
    // Without DBUS_SESSION_BUS_ADDRESS the client tries $XDG_RUNTIME_DIR/bus: none in the sandbox.
    let sandbox = Sandbox::new();
    let mut cmd = cli(&sandbox, "unused");
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS").args([
        "keyring",
        "get",
        "x",
        "--timeout-ms",
        LONG_TIMEOUT_MS,
    ]);
    let (code, _, stderr) = run(&mut cmd);
    assert_eq!(code, EXIT_UNAVAILABLE, "{stderr}");
    assert!(stderr.contains("(unavailable: "), "{stderr}");
}

#[test]
fn a_bus_without_a_secret_service_is_unavailable() {
    let bus = SecretService::bus_only();
    let sandbox = Sandbox::new();
    assert_unavailable_and_the_chain_goes_on(
        &sandbox,
        &bus.address,
        LONG_TIMEOUT_MS,
        "org.freedesktop.secrets was not provided by any .service files",
    );
    assert_doctor_fails(&sandbox, &bus.address, LONG_TIMEOUT_MS);
}

#[test]
fn a_peer_that_never_answers_is_unavailable_after_the_timeout() {
    let sandbox = Sandbox::new();
    let socket = sandbox.path().join("silent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    // Accepts every connection and holds it open without ever writing a byte (not even the
    // D-Bus authentication answer). The thread lives until the test binary exits.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for connection in listener.incoming() {
            held.push(connection);
        }
    });
    let bus = format!("unix:path={}", socket.display());
    assert_unavailable_and_the_chain_goes_on(
        &sandbox,
        &bus,
        SHORT_TIMEOUT_MS,
        &format!("the keyring did not answer within {SHORT_TIMEOUT_MS} ms"),
    );
    assert_doctor_fails(&sandbox, &bus, SHORT_TIMEOUT_MS);
}

/// Stores [`VALUE`] as kstlib's `mail:smtp.password`, then locks the collection.
fn store_value_then_lock(service: &SecretService, sandbox: &Sandbox) {
    let (code, _, stderr) = run(service
        .cli(sandbox)
        .args([
            "keyring",
            "set",
            "--service",
            "kstlib",
            "--scope",
            "mail",
            "smtp.password",
        ])
        .write_stdin(VALUE));
    assert_eq!(code, 0, "{stderr}");
    service.lock();
}

#[test]
fn a_locked_collection_is_unavailable_and_the_chain_goes_on() {
    let service = SecretService::start();
    let sandbox = Sandbox::new();
    store_value_then_lock(&service, &sandbox);
    // No prompter on the bus: gnome-keyring dismisses the unlock prompt at once.
    assert_unavailable_and_the_chain_goes_on(
        &sandbox,
        &service.address,
        LONG_TIMEOUT_MS,
        "prompt dismissed",
    );
    // A name the collection does not hold is a plain miss: gnome-keyring searches a locked
    // collection's attributes without unlocking it.
    let (code, _, stderr) =
        run(service
            .cli(&sandbox)
            .args(["keyring", "get", "--service", "kstlib", "absent.name"]));
    assert_eq!(code, EXIT_MISSING, "{stderr}");
    let (code, _, stderr) = run(service.cli(&sandbox).args([
        "keyring",
        "delete",
        "--service",
        "kstlib",
        "absent.name",
    ]));
    assert_eq!(code, EXIT_MISSING, "{stderr}");
}

#[test]
fn doctor_does_not_call_a_locked_collection_ok() {
    let service = SecretService::start();
    let sandbox = Sandbox::new();
    store_value_then_lock(&service, &sandbox);
    let (code, line, output) = doctor(&sandbox, &service.address, LONG_TIMEOUT_MS);
    assert!(
        code == 1 && !line.starts_with("ok") && line.contains("locked"),
        "doctor must warn or fail, naming the lock: {output}"
    );
}

#[test]
fn a_locked_collection_whose_unlock_prompt_never_completes_is_cut_by_the_timeout() {
    let service = SecretService::start();
    let sandbox = Sandbox::new();
    store_value_then_lock(&service, &sandbox);
    // A system prompter that takes the prompt and never shows or answers it: the unlock waits
    // for a user who never comes, as on a desktop nobody is at.
    let mut prompter = StdCommand::new(python_bin())
        .args(["-c", PY_HANGING_PROMPTER])
        .env("DBUS_SESSION_BUS_ADDRESS", &service.address)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python starts");
    let ready = first_line(prompter.stdout.take().unwrap());
    let _prompter = Reaped(prompter);
    assert_eq!(
        ready.as_deref(),
        Some("ready"),
        "the fake prompter did not start"
    );
    assert_unavailable_and_the_chain_goes_on(
        &sandbox,
        &service.address,
        SHORT_TIMEOUT_MS,
        &format!("the keyring did not answer within {SHORT_TIMEOUT_MS} ms"),
    );
}

// =============================================================================================
// doctor, and logs

#[test]
fn doctor_says_ok_when_the_secret_service_answers() {
    let service = SecretService::start();
    let sandbox = Sandbox::new();
    let (code, line, output) = doctor(&sandbox, &service.address, LONG_TIMEOUT_MS);
    assert_eq!(code, 0, "{output}");
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>().join(" "),
        "ok backend secret-service answers (service `kstlib`; no entries yet)",
        "{output}"
    );
}

#[test]
fn trace_logs_of_a_hit_name_the_layer_never_the_value() {
    let service = SecretService::start();
    let sandbox = Sandbox::new();
    let config = chain_config(&sandbox, "");
    let (code, _, stderr) = run(service
        .cli(&sandbox)
        .args([
            "-vv",
            "keyring",
            "set",
            "--service",
            "kstlib",
            "--scope",
            "mail",
            "smtp.password",
        ])
        .write_stdin(VALUE));
    assert_eq!(code, 0, "{stderr}");
    assert_no_value("keyring set -vv", &stderr);

    let mut cmd = service.cli(&sandbox);
    cmd.env("KRTEST__MAIL__SMTP__PASSWORD", ENV_VALUE);
    let (code, stdout, stderr) = get_json(cmd, &config, &["-vv"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout)["source"], "keyring");
    assert!(
        stderr.contains("keyring:secret-service"),
        "-vv names the layer: {stderr}"
    );
    assert_no_value("get -vv", &stderr);

    let (code, _, stderr) = run(service.cli(&sandbox).args([
        "-vv",
        "keyring",
        "get",
        "--service",
        "kstlib",
        "--scope",
        "mail",
        "smtp.password",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_no_value("keyring get -vv", &stderr);
    let (code, _, stderr) = run(service.cli(&sandbox).args([
        "-vv",
        "keyring",
        "delete",
        "--service",
        "kstlib",
        "--scope",
        "mail",
        "smtp.password",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_no_value("keyring delete -vv", &stderr);
}

/// `kind: modelmesh.keyring.v1`: ModelMesh's keyring store reads `keyring.get_password(service,
/// name)`, the user being the name itself; what Python's keyring writes that way we read, with
/// ModelMesh's option `service_name`.
#[test]
fn modelmesh_keyring_layers_read_what_python_wrote_under_modelmesh_naming() {
    let service = SecretService::start();
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "modelmesh.yml",
        "providers:\n  - kind: modelmesh.keyring.v1\n    service_name: mm-test\n    cache_enabled: false\n",
    );
    run_python(service.python(&sandbox, PY_SET, &["mm-test", "OPENAI_API_KEY"]));
    let (code, stdout, stderr) = run(service
        .cli(&sandbox)
        .args(["get", "OPENAI_API_KEY", "--json", "--config"])
        .arg(&config));
    assert_eq!((code, stderr.as_str()), (0, ""));
    let record = json(&stdout);
    assert_eq!(record["source"], "keyring");
    assert_eq!(record["value"], VALUE);
    // kstlib's naming (`default:OPENAI_API_KEY`) is not what this layer asks for.
    run_python(service.python(&sandbox, PY_DELETE, &["mm-test", "OPENAI_API_KEY"]));
    let (code, _, stderr) = run(service
        .cli(&sandbox)
        .args(["get", "OPENAI_API_KEY", "--config"])
        .arg(&config));
    assert_eq!(code, EXIT_MISSING, "{stderr}");
}
