//! Every kind of age key sops 3.11 uses, with real tools both ways: post-quantum keys
//! (`age1pq1...`, Go age's own test key), SSH keys made by the real `ssh-keygen` (ed25519 and
//! RSA, unencrypted and passphrase-protected), passphrase-protected identity files, and key files
//! that mix kinds or hold lines this build cannot use.
//!
//! Files the real sops 3.11 (`$SOPS_BIN`) writes are decrypted by ours, and files ours writes are
//! decrypted by sops. Passphrases are typed on a real terminal: the run happens under `script`
//! (util-linux), which gives it a pseudo-terminal fed from our stdin; "no terminal" is a run under
//! `setsid`, which has no controlling terminal. Without sops, `ssh-keygen`, `script` or `setsid`
//! the tests fail: nothing is skipped. C2SP's post-quantum test vectors run as unit tests
//! (`sops::age_pq`).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use secret_cascade::sops::Identities;
use support::{Sandbox, sops_bin};

const PLAIN: &str = "database:\n    password: hunter2\n";
/// Go age's post-quantum test key (fixtures/age/README.md).
const PQ_KEY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/age/go-age-hybrid-key.txt"
);
/// A classic key of the sops fixtures, and a file sops wrote to it.
const CLASSIC_KEY_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sops/key.txt");
const CLASSIC_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sops/enc/simple.yaml");

/// The age variables through which either tool could find a key, all cleared for each run.
const KEY_VARIABLES: [&str; 6] = [
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "SOPS_AGE_RECIPIENTS",
    "SOPS_CONFIG",
];

/// What a run printed and how it ended.
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A tool run in the sandbox with only the given age variables; `$HOME` is the sandbox's `home`.
fn command(sandbox: &Sandbox, program: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(sandbox.path())
        .env("HOME", sandbox.path().join("home"))
        .env("XDG_CONFIG_HOME", sandbox.path().join("xdg"))
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .env_remove("SECRET_CASCADE_CONFIG")
        .env_remove("SECRET_CASCADE_LOG");
    for name in KEY_VARIABLES {
        cmd.env_remove(name);
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd
}

fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_secret-cascade"))
}

fn run(mut cmd: Command) -> Outcome {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} does not run: {e}"));
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ok(cmd: Command) -> String {
    let line = format!("{cmd:?}");
    let outcome = run(cmd);
    assert_eq!(outcome.code, 0, "{line} failed: {}", outcome.stderr);
    outcome.stdout
}

/// `cmd` run on a pseudo-terminal (`script`), `typed` written to it, for prompts; killed after
/// 60 s (coreutils' `timeout`) so that a prompt nobody answers fails the test instead of hanging.
/// `script` runs the line with `$SHELL`, pinned to /bin/sh here (dash, as on CI): dash forks `timeout`, which then
/// needs `--foreground` to stay in the terminal's foreground process group (in a group of its
/// own, reading the terminal stops the command with SIGTTIN until it is killed).
fn on_terminal(cmd: Command, typed: &str) -> Outcome {
    let line = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| shlex::try_quote(a.to_str().unwrap()).unwrap().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = Command::new("script");
    script.args([
        "-qec",
        &format!("timeout --foreground 60 {line}"),
        "/dev/null",
    ]);
    script.current_dir(cmd.get_current_dir().unwrap());
    script.env("SHELL", "/bin/sh");
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => script.env(name, value),
            None => script.env_remove(name),
        };
    }
    let mut child = script
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`script` (util-linux's bsdutils) runs; scripts/test installs it");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(typed.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).replace('\r', ""),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A key pair from the real `ssh-keygen`: (private key path, public key line).
fn ssh_keygen(sandbox: &Sandbox, name: &str, kind: &str, passphrase: &str) -> (PathBuf, String) {
    let path = sandbox.path().join(name);
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).unwrap();
    }
    let mut cmd = Command::new("ssh-keygen");
    cmd.args([
        "-q",
        "-t",
        kind,
        "-N",
        passphrase,
        "-C",
        "test@example",
        "-f",
    ])
    .arg(&path);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    let status = cmd
        .status()
        .expect("ssh-keygen (openssh-client) runs; scripts/test installs it");
    assert!(status.success(), "ssh-keygen failed");
    let public = std::fs::read_to_string(path.with_extension("pub"))
        .or_else(|_| std::fs::read_to_string(format!("{}.pub", path.display())))
        .unwrap();
    (path, public.trim().to_owned())
}

fn pq_recipient() -> String {
    let text = std::fs::read_to_string(PQ_KEY_FILE).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned()
}

fn sops_encrypt(sandbox: &Sandbox, recipient: &str, env: &[(&str, &str)]) -> PathBuf {
    sandbox.write("plain.yaml", PLAIN);
    let mut cmd = command(sandbox, sops_bin(), env);
    cmd.args(["encrypt", "--age", recipient, "plain.yaml"]);
    sandbox.write("by-sops.enc.yaml", &ok(cmd))
}

fn our_encrypt(sandbox: &Sandbox, recipient: &str) -> PathBuf {
    sandbox.write("plain.yaml", PLAIN);
    let mut cmd = command(sandbox, ours(), &[]);
    cmd.args(["encrypt", "plain.yaml", "--age", recipient]);
    sandbox.write("by-ours.enc.yaml", &ok(cmd))
}

/// Our `decrypt` of `file` that must fail with exit `code` and a message holding each of
/// `mentions`; returns the message.
fn refused(
    sandbox: &Sandbox,
    file: &Path,
    env: &[(&str, &str)],
    code: i32,
    mentions: &[&str],
) -> String {
    let mut cmd = command(sandbox, ours(), env);
    cmd.arg("decrypt").arg(file);
    let outcome = run(cmd);
    assert_eq!(outcome.code, code, "{}", outcome.stderr);
    for mention in mentions {
        assert!(
            outcome.stderr.contains(mention),
            "no {mention:?} in: {}",
            outcome.stderr
        );
    }
    outcome.stderr
}

fn decrypt(sandbox: &Sandbox, program: &Path, file: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = command(sandbox, program, env);
    cmd.arg("decrypt").arg(file);
    ok(cmd)
}

#[test]
fn post_quantum_files_open_both_ways_with_sops() {
    let sandbox = Sandbox::new();
    let recipient = pq_recipient();
    let keys = [("SOPS_AGE_KEY_FILE", PQ_KEY_FILE)];
    let by_sops = sops_encrypt(&sandbox, &recipient, &[]);
    assert!(
        std::fs::read_to_string(&by_sops)
            .unwrap()
            .contains(&recipient)
    );
    assert_eq!(decrypt(&sandbox, ours(), &by_sops, &keys), PLAIN);
    let by_ours = our_encrypt(&sandbox, &recipient);
    let written = std::fs::read_to_string(&by_ours).unwrap();
    assert!(
        written.contains(&format!("recipient: {recipient}")),
        "{written}"
    );
    assert_eq!(decrypt(&sandbox, sops_bin(), &by_ours, &keys), PLAIN);
    assert_eq!(decrypt(&sandbox, ours(), &by_ours, &keys), PLAIN);
}

#[test]
fn a_key_file_mixing_kinds_and_bad_lines_opens_classic_and_post_quantum_files() {
    let sandbox = Sandbox::new();
    let pq = std::fs::read_to_string(PQ_KEY_FILE).unwrap();
    let classic = std::fs::read_to_string(CLASSIC_KEY_FILE).unwrap();
    let mixed =
        format!("{pq}\nAGE-SECRET-KEY-1NOTAKEYNOTAKEY\nAGE-PLUGIN-NOSUCHPLUGIN-1QQQQQQ\n{classic}");
    let keys = sandbox.write("mixed.txt", &mixed);
    let keys = keys.to_str().unwrap();
    let env = [("SOPS_AGE_KEY_FILE", keys), ("SECRET_CASCADE_LOG", "debug")];
    let mut cmd = command(&sandbox, ours(), &env);
    cmd.arg("decrypt").arg(CLASSIC_FILE);
    let outcome = run(cmd);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(outcome.stdout.contains("hello"), "{}", outcome.stdout);
    // The skipped lines are named by source and number, never quoted.
    let line_of = |needle: &str| 1 + mixed.lines().position(|l| l.contains(needle)).unwrap();
    for needle in ["NOTAKEY", "NOSUCHPLUGIN"] {
        assert!(
            outcome
                .stderr
                .contains(&format!("line={}", line_of(needle))),
            "no debug log for line {}: {}",
            line_of(needle),
            outcome.stderr
        );
    }
    for secret in [&pq, &classic].into_iter().flat_map(|t| t.lines()) {
        if !secret.starts_with('#') && !secret.is_empty() {
            assert!(
                !outcome.stderr.contains(secret),
                "a key logged: {}",
                outcome.stderr
            );
        }
    }
    assert!(!outcome.stderr.contains("NOTAKEY") && !outcome.stderr.contains("NOSUCHPLUGIN"));
    let by_sops = sops_encrypt(&sandbox, &pq_recipient(), &[]);
    assert_eq!(
        decrypt(&sandbox, ours(), &by_sops, &[("SOPS_AGE_KEY_FILE", keys)]),
        PLAIN
    );
}

#[test]
fn recipients_lists_the_public_keys_of_every_kind_loaded() {
    let pq = std::fs::read_to_string(PQ_KEY_FILE).unwrap();
    let classic = std::fs::read_to_string(CLASSIC_KEY_FILE).unwrap();
    let identities = Identities::from_text(&format!("{pq}\nnonsense\n{classic}"), "test").unwrap();
    assert_eq!(
        identities.recipients(),
        [
            pq_recipient(),
            "age17qg6tvlhy6l2al555r5a3vzlz0773f8hewax38d8fhphjc6kvy2qdd0hrg".to_owned()
        ]
    );
}

#[test]
fn nothing_usable_still_names_the_sources_tried() {
    let sandbox = Sandbox::new();
    let keys = sandbox.write("junk.txt", "AGE-SECRET-KEY-1NOTAKEY\nhello\n");
    let keys = keys.to_str().unwrap();
    let env = [("SOPS_AGE_KEY_FILE", keys)];
    let message = refused(&sandbox, Path::new(CLASSIC_FILE), &env, 3, &[keys]);
    assert!(!message.contains("NOTAKEY"), "{message}");
}

#[test]
fn ssh_keys_from_ssh_keygen_open_both_ways_with_sops() {
    for kind in ["ed25519", "rsa"] {
        let sandbox = Sandbox::new();
        let (private, public) = ssh_keygen(&sandbox, &format!("keys/id_{kind}"), kind, "");
        let env = [("SOPS_AGE_SSH_PRIVATE_KEY_FILE", private.to_str().unwrap())];
        let by_sops = sops_encrypt(&sandbox, &public, &[]);
        assert_eq!(decrypt(&sandbox, ours(), &by_sops, &env), PLAIN, "{kind}");
        let by_ours = our_encrypt(&sandbox, &public);
        assert_eq!(
            decrypt(&sandbox, sops_bin(), &by_ours, &env),
            PLAIN,
            "{kind}"
        );
    }
}

#[test]
fn the_default_ssh_keys_are_found_in_home() {
    for kind in ["ed25519", "rsa"] {
        let sandbox = Sandbox::new();
        let (_, public) = ssh_keygen(&sandbox, &format!("home/.ssh/id_{kind}"), kind, "");
        let by_sops = sops_encrypt(&sandbox, &public, &[]);
        assert_eq!(decrypt(&sandbox, ours(), &by_sops, &[]), PLAIN, "{kind}");
        assert_eq!(
            decrypt(&sandbox, sops_bin(), &by_sops, &[]),
            PLAIN,
            "{kind}"
        );
    }
}

#[test]
fn an_unusable_ssh_key_named_by_the_variable_is_a_clear_error() {
    let sandbox = Sandbox::new();
    let key = sandbox.write("not-a-key", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n");
    let key = key.to_str().unwrap();
    let env = [("SOPS_AGE_SSH_PRIVATE_KEY_FILE", key)];
    let mentions = ["SOPS_AGE_SSH_PRIVATE_KEY_FILE", key];
    refused(&sandbox, Path::new(CLASSIC_FILE), &env, 3, &mentions);
}

#[test]
fn an_encrypted_ssh_key_asks_its_passphrase_on_the_terminal() {
    let sandbox = Sandbox::new();
    let (private, public) = ssh_keygen(&sandbox, "keys/id_ed25519", "ed25519", "correct horse");
    let by_sops = sops_encrypt(&sandbox, &public, &[]);
    let env = [("SOPS_AGE_SSH_PRIVATE_KEY_FILE", private.to_str().unwrap())];
    let mut cmd = command(&sandbox, ours(), &env);
    cmd.arg("decrypt").arg(&by_sops);
    let outcome = on_terminal(cmd, "correct horse\n");
    assert_eq!(outcome.code, 0, "{}{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome.stdout.contains("Enter passphrase for"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.ends_with(PLAIN), "{}", outcome.stdout);
    // A file for another key does not ask.
    let classic = [
        ("SOPS_AGE_SSH_PRIVATE_KEY_FILE", private.to_str().unwrap()),
        ("SOPS_AGE_KEY_FILE", CLASSIC_KEY_FILE),
    ];
    let mut cmd = command(&sandbox, ours(), &classic);
    cmd.arg("decrypt").arg(CLASSIC_FILE);
    let outcome = on_terminal(cmd, "");
    assert_eq!(outcome.code, 0, "{}{}", outcome.stdout, outcome.stderr);
    assert!(!outcome.stdout.contains("passphrase"), "{}", outcome.stdout);
    // Without a terminal, a file that another key opens still opens...
    let both = format!(
        "{public},{}",
        "age17qg6tvlhy6l2al555r5a3vzlz0773f8hewax38d8fhphjc6kvy2qdd0hrg"
    );
    let for_both = sops_encrypt(&sandbox, &both, &[]);
    let mut cmd = command(&sandbox, Path::new("setsid"), &classic);
    cmd.arg("-w").arg(ours()).arg("decrypt").arg(&for_both);
    assert_eq!(ok(cmd), PLAIN);
    // ... and one only it opens is a clear error that names the key file.
    let mut cmd = command(&sandbox, Path::new("setsid"), &env);
    cmd.args(["-w"]).arg(ours()).arg("decrypt").arg(&by_sops);
    let outcome = run(cmd);
    assert_eq!(outcome.code, 3, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("no terminal")
            && outcome.stderr.contains(private.to_str().unwrap()),
        "{}",
        outcome.stderr
    );
}

/// An identity file encrypted to a passphrase, as `age -p` writes it (armored).
fn passphrase_protected(identities: &str, passphrase: &str) -> Vec<u8> {
    use std::io::Write;
    let encryptor = age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from(
        passphrase.to_owned(),
    ));
    let armor =
        age::armor::ArmoredWriter::wrap_output(Vec::new(), age::armor::Format::AsciiArmor).unwrap();
    let mut writer = encryptor.wrap_output(armor).unwrap();
    writer.write_all(identities.as_bytes()).unwrap();
    writer.finish().unwrap().finish().unwrap()
}

#[test]
fn a_passphrase_protected_identity_file_opens_on_the_terminal_like_sops() {
    let sandbox = Sandbox::new();
    let pq = std::fs::read_to_string(PQ_KEY_FILE).unwrap();
    let keys = sandbox.write_bytes("keys.age", &passphrase_protected(&pq, "open sesame"));
    // sops asks a running gpg-agent (its pinentry) before the terminal: an empty GnuPG home of
    // the sandbox has none.
    let gnupg = sandbox.path().join("gnupg");
    std::fs::create_dir(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let env = [
        ("SOPS_AGE_KEY_FILE", keys.to_str().unwrap()),
        ("GNUPGHOME", gnupg.to_str().unwrap()),
    ];
    let by_sops = sops_encrypt(&sandbox, &pq_recipient(), &[]);
    for program in [ours(), sops_bin()] {
        let mut cmd = command(&sandbox, program, &env);
        cmd.arg("decrypt").arg(&by_sops);
        let outcome = on_terminal(cmd, "open sesame\n");
        assert_eq!(
            outcome.code, 0,
            "{program:?}: {}{}",
            outcome.stdout, outcome.stderr
        );
        assert!(
            outcome.stdout.ends_with(PLAIN),
            "{program:?}: {}",
            outcome.stdout
        );
    }
    // A wrong passphrase is said to be one.
    let mut cmd = command(&sandbox, ours(), &env);
    cmd.arg("decrypt").arg(&by_sops);
    let outcome = on_terminal(cmd, "wrong\n");
    assert_eq!(outcome.code, 3, "{}", outcome.stdout);
    assert!(
        outcome.stdout.contains("incorrect passphrase"),
        "{}",
        outcome.stdout
    );
    // No terminal: a clear error.
    let mut cmd = command(&sandbox, Path::new("setsid"), &env);
    cmd.arg("-w").arg(ours()).arg("decrypt").arg(&by_sops);
    let outcome = run(cmd);
    assert_eq!(outcome.code, 3, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("no terminal"), "{}", outcome.stderr);
}

/// The folder of `age-plugin-sctest` (examples/age-plugin-sctest.rs), built here with the cargo
/// that runs the tests, so the test does not depend on `--all-targets` having built it.
fn plugin_folder() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--example", "age-plugin-sctest"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building examples/age-plugin-sctest.rs failed"
    );
    // target/debug/deps/age_keys-HASH -> target/debug/examples
    let exe = std::env::current_exe().unwrap();
    let folder = exe.parent().unwrap().parent().unwrap().join("examples");
    assert!(
        folder.join("age-plugin-sctest").is_file(),
        "no age-plugin-sctest in {}",
        folder.display()
    );
    folder
}

#[test]
fn plugin_identities_and_recipients_work_both_ways_with_sops() {
    let sandbox = Sandbox::new();
    let folder = plugin_folder();
    let generated = ok({
        let mut cmd = Command::new(folder.join("age-plugin-sctest"));
        cmd.arg("--generate");
        cmd
    });
    let recipient = generated
        .lines()
        .find_map(|l| l.strip_prefix("# recipient: "))
        .unwrap()
        .to_owned();
    assert!(recipient.starts_with("age1sctest1"), "{generated}");
    let keys = sandbox.write("plugin-keys.txt", &generated);
    let path = format!(
        "{}:{}",
        folder.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let with_path = [("PATH", path.as_str())];
    let env = [
        ("PATH", path.as_str()),
        ("SOPS_AGE_KEY_FILE", keys.to_str().unwrap()),
    ];
    let by_sops = sops_encrypt(&sandbox, &recipient, &with_path);
    assert_eq!(decrypt(&sandbox, ours(), &by_sops, &env), PLAIN);
    sandbox.write("plain.yaml", PLAIN);
    let mut cmd = command(&sandbox, ours(), &with_path);
    cmd.args(["encrypt", "plain.yaml", "--age", &recipient]);
    let by_ours = sandbox.write("by-ours.enc.yaml", &ok(cmd));
    assert_eq!(decrypt(&sandbox, sops_bin(), &by_ours, &env), PLAIN);
    assert_eq!(decrypt(&sandbox, ours(), &by_ours, &env), PLAIN);
    // Without the plugin on PATH: the identity line is skipped, the recipient refused clearly.
    let mut cmd = command(&sandbox, ours(), &[("PATH", "/usr/bin:/bin")]);
    cmd.args(["encrypt", "plain.yaml", "--age", &recipient]);
    let outcome = run(cmd);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("no age-plugin-sctest on PATH"),
        "{}",
        outcome.stderr
    );
    let keys = keys.to_str().unwrap();
    let env = [("PATH", "/usr/bin:/bin"), ("SOPS_AGE_KEY_FILE", keys)];
    refused(&sandbox, &by_ours, &env, 3, &[keys]);
}
