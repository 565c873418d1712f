//! Nothing hangs, nothing exhausts memory: a FIFO or a device named as a SOPS file or key file,
//! and a `SOPS_AGE_KEY_CMD` that never ends, prints without end or expects sops's environment.
//!
//! Every case runs the CLI under an address-space limit and a watchdog
//! ([`support::run_bounded`]): a hang fails the test at the watchdog, an unbounded read at the
//! memory limit.

mod support;

use std::path::{Path, PathBuf};

use support::{Sandbox, run_bounded};

/// The recipients of the fixture keys: key.txt's, then key2.txt's.
const RECIPIENT_1: &str = "age17qg6tvlhy6l2al555r5a3vzlz0773f8hewax38d8fhphjc6kvy2qdd0hrg";
const RECIPIENT_2: &str = "age1m6g39qkv4639v75k95evvu9lh474yfld2hxddkdgtxv2dp3mwyjqqtcm4z";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sops")
        .join(name)
}

/// A config with one SOPS layer reading `path` (and `age_key_file` if given).
fn config(sandbox: &Sandbox, path: &Path, key_file: Option<&Path>) -> PathBuf {
    let mut text = format!("providers:\n  - kind: sops\n    path: {}\n", path.display());
    if let Some(key_file) = key_file {
        text.push_str(&format!("    age_key_file: {}\n", key_file.display()));
    }
    sandbox.write("secret-cascade.yml", &text)
}

/// `get token` from a copy of tworecip.yaml (encrypted to both fixture keys), with the key
/// command `command` and no other identity.
fn get_with_key_command(sandbox: &Sandbox, command: &str) -> support::Bounded {
    let file = sandbox.path().join("s.yaml");
    std::fs::copy(fixture("enc/tworecip.yaml"), &file).unwrap();
    config(sandbox, &file, None);
    run_bounded(
        sandbox
            .bounded_cli()
            .args(["get", "token"])
            .env("SOPS_AGE_KEY_CMD", command),
    )
}

#[test]
fn a_fifo_as_the_sops_file_is_refused_without_waiting() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.fifo("secrets.yaml");
    config(&sandbox, &fifo, Some(&fixture("key.txt")));
    let outcome = run_bounded(sandbox.bounded_cli().args(["get", "token"]));
    outcome.assert_refused(3, "it is a FIFO, not a regular file");
    assert!(outcome.stderr.contains(&fifo.display().to_string()));

    let outcome = run_bounded(
        sandbox
            .bounded_cli()
            .arg("decrypt")
            .arg(&fifo)
            .env("SOPS_AGE_KEY_FILE", fixture("key.txt")),
    );
    outcome.assert_refused(2, "it is a FIFO, not a regular file");
    assert!(outcome.stderr.contains(&fifo.display().to_string()));
}

#[test]
fn a_fifo_as_the_age_key_file_is_refused_without_waiting() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.fifo("keys.txt");
    config(&sandbox, &fixture("enc/simple.yaml"), Some(&fifo));
    let outcome = run_bounded(sandbox.bounded_cli().args(["get", "hello"]));
    let message = format!(
        "cannot read the age key file {}: it is a FIFO, not a regular file",
        fifo.display()
    );
    outcome.assert_refused(3, &message);

    let outcome = run_bounded(
        sandbox
            .bounded_cli()
            .arg("decrypt")
            .arg(fixture("enc/simple.yaml"))
            .env("SOPS_AGE_KEY_FILE", &fifo),
    );
    outcome.assert_refused(3, &message);
}

#[test]
fn a_fifo_as_the_config_file_is_refused_without_waiting() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.fifo("config.yml");
    let outcome = run_bounded(
        sandbox
            .bounded_cli()
            .args(["get", "token", "--config"])
            .arg(&fifo),
    );
    outcome.assert_refused(
        2,
        &format!(
            "invalid config {}: cannot read the file: it is a FIFO, not a regular file",
            fifo.display()
        ),
    );
}

#[test]
fn dev_zero_as_the_sops_file_is_refused_before_reading() {
    let sandbox = Sandbox::new();
    let zero = Path::new("/dev/zero");
    config(&sandbox, zero, Some(&fixture("key.txt")));
    let outcome = run_bounded(sandbox.bounded_cli().args(["get", "token"]));
    outcome.assert_refused(3, "it is a character device, not a regular file");
    assert!(outcome.stderr.contains("/dev/zero"));

    let outcome = run_bounded(
        sandbox
            .bounded_cli()
            .args(["decrypt", "/dev/zero"])
            .env("SOPS_AGE_KEY_FILE", fixture("key.txt")),
    );
    outcome.assert_refused(2, "it is a character device, not a regular file");
}

#[test]
fn dev_zero_as_the_age_key_file_is_refused_before_reading() {
    let sandbox = Sandbox::new();
    let message =
        "cannot read the age key file /dev/zero: it is a character device, not a regular file";
    config(
        &sandbox,
        &fixture("enc/simple.yaml"),
        Some(Path::new("/dev/zero")),
    );
    run_bounded(sandbox.bounded_cli().args(["get", "hello"])).assert_refused(3, message);

    let outcome = run_bounded(
        sandbox
            .bounded_cli()
            .arg("decrypt")
            .arg(fixture("enc/simple.yaml"))
            .env("SOPS_AGE_KEY_FILE", "/dev/zero"),
    );
    outcome.assert_refused(3, message);
}

#[test]
fn the_key_command_is_split_into_words_and_run_without_a_shell() {
    let sandbox = Sandbox::new();
    // A file literally named `$HOME`: a shell would expand the word instead of reading it.
    let key = std::fs::read(fixture("key.txt")).unwrap();
    sandbox.write_bytes("$HOME", &key);
    let outcome = get_with_key_command(&sandbox, "cat $HOME");
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "tok-123\n");

    // A pipe is two words for `cat`, which finds no file named `|`: no shell joins the commands.
    sandbox.write_bytes("key.txt", &key);
    let outcome = get_with_key_command(&sandbox, "cat key.txt | grep AGE-SECRET-KEY");
    outcome.assert_refused(
        3,
        &format!("failed: SOPS_AGE_KEY_CMD: exit status: 1 for {RECIPIENT_1}; SOPS_AGE_KEY_CMD: exit status: 1 for"),
    );
    assert!(outcome.stdout.is_empty());
    assert!(
        !outcome.stderr.contains("AGE-SECRET-KEY-1"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_key_command_that_never_ends_is_killed_at_the_timeout() {
    let sandbox = Sandbox::new();
    let outcome = run_bounded(
        sandbox
            .bounded_cli()
            .args(["decrypt"])
            .arg(fixture("enc/simple.yaml"))
            .env("SOPS_AGE_KEY_CMD", "sleep 300")
            .env("SECRET_CASCADE_KEY_CMD_TIMEOUT", "1"),
    );
    outcome.assert_refused(
        3,
        "SOPS_AGE_KEY_CMD did not finish within 1 s and was killed; set \
         SECRET_CASCADE_KEY_CMD_TIMEOUT (seconds) to allow longer",
    );
    // The command exits at once but leaves a process holding its output open.
    let outcome = run_bounded(
        sandbox
            .bounded_cli()
            .args(["decrypt"])
            .arg(fixture("enc/simple.yaml"))
            .env("SOPS_AGE_KEY_CMD", "sh -c 'sleep 60 &'")
            .env("SECRET_CASCADE_KEY_CMD_TIMEOUT", "1"),
    );
    outcome.assert_refused(3, "SOPS_AGE_KEY_CMD did not finish within 1 s");
}

#[test]
fn a_key_command_is_not_run_when_the_other_identities_open_the_file() {
    let sandbox = Sandbox::new();
    let outcome = run_bounded(
        sandbox
            .bounded_cli()
            .args(["decrypt", "--extract", "[\"hello\"]"])
            .arg(fixture("enc/simple.yaml"))
            .env("SOPS_AGE_KEY_FILE", fixture("key.txt"))
            .env("SOPS_AGE_KEY_CMD", "sleep 300"),
    );
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "world");
}

#[test]
fn a_key_command_printing_a_gibibyte_is_refused_at_the_cap() {
    let sandbox = Sandbox::new();
    let outcome = get_with_key_command(&sandbox, "head -c 1073741824 /dev/zero");
    outcome.assert_refused(
        3,
        "SOPS_AGE_KEY_CMD printed more than 1048576 bytes and was stopped",
    );
}

#[test]
fn the_key_command_sees_the_recipient_in_sops_age_recipient() {
    let sandbox = Sandbox::new();
    // Prints key2.txt's identity only when asked for key2.txt's recipient, like a lookup by
    // recipient in a password store; the file's first stanza is key.txt's recipient.
    let script = sandbox.write(
        "key-for-recipient",
        &format!(
            "#!/bin/sh\n[ \"$SOPS_AGE_RECIPIENT\" = {RECIPIENT_2} ] || exit 1\nexec cat '{}'\n",
            fixture("key2.txt").display()
        ),
    );
    make_executable(&script);
    let outcome = get_with_key_command(&sandbox, &script.display().to_string());
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "tok-123\n");
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A YAML alias bomb of few nodes: one anchored 8 MiB scalar referenced 400 times expands to
/// 3.2 GB of copies. It is refused by the bytes it expands to (exit 3), within the memory limit,
/// before any key or MAC is needed; it used to abort the process ("memory allocation failed").
#[test]
fn an_alias_expanding_to_gigabytes_is_refused_within_the_memory_limit() {
    let sandbox = Sandbox::new();
    let mut text = String::with_capacity(9 << 20);
    text.push_str("big: &big \"");
    text.extend(std::iter::repeat_n('x', 8 << 20));
    text.push_str("\"\ncopies:\n");
    for _ in 0..400 {
        text.push_str("    - *big\n");
    }
    let file = sandbox.write("bomb.yaml", &text);
    drop(text);
    let message = "expands to more than";
    let outcome = run_bounded(
        sandbox
            .bounded_cli()
            .arg("decrypt")
            .arg(&file)
            .env("SOPS_AGE_KEY_FILE", fixture("key.txt")),
    );
    outcome.assert_refused(3, message);
    config(&sandbox, &file, Some(&fixture("key.txt")));
    run_bounded(sandbox.bounded_cli().args(["get", "big"])).assert_refused(3, message);
}
