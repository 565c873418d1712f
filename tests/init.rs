//! `secret-cascade init`: a fresh age identity, a `.sops.yaml` for it and a starter config, written
//! all at once or not at all, and usable as written by the real sops 3.11 and by `get`.
//!
//! The end-to-end test needs `$SOPS_BIN` (`export SOPS_BIN=$(scripts/install-sops)`; `scripts/test`
//! sets it) and panics without it: it is never skipped.

mod support;

use std::path::Path;
use std::process::Command as StdCommand;
use std::str::FromStr;

use secret_cascade::init::{self, InitError};
use support::{Sandbox, run, sops_bin};

const FILES: [&str; 3] = ["age-key.txt", ".sops.yaml", "secret-cascade.yml"];
/// Every environment variable through which sops or secret-cascade could find another age key.
const AGE_KEY_VARIABLES: [&str; 5] = [
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "SOPS_AGE_RECIPIENTS",
];

#[test]
fn init_creates_the_key_file_the_sops_rule_and_the_config() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("project");
    let (code, stdout, stderr) = run(sandbox.cli().arg("init").arg("--dir").arg(&dir));
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(stderr, "");

    let key_text = read(&dir.join("age-key.txt"));
    let lines: Vec<&str> = key_text.lines().collect();
    assert_eq!(lines.len(), 3, "age-key.txt has three lines");
    assert!(
        is_rfc3339_utc(
            lines[0]
                .strip_prefix("# created: ")
                .expect("created comment")
        ),
        "first line: {:?}",
        lines[0]
    );
    let recipient = lines[1]
        .strip_prefix("# public key: ")
        .expect("public key comment");
    let identity = age::x25519::Identity::from_str(lines[2]).expect("the last line is an identity");
    assert_eq!(identity.to_public().to_string(), recipient);

    assert_eq!(
        read(&dir.join(".sops.yaml")),
        format!(
            "# sops creation rules, written by `secret-cascade init`.\n\
             creation_rules:\n  \
               - path_regex: \\.(ya?ml|json|env|ini)$\n    \
                 age: {recipient}\n"
        )
    );
    let config = read(&dir.join("secret-cascade.yml"));
    for line in [
        "  - kind: env\n    prefix: APP\n",
        "  - kind: sops\n    path: secrets.enc.yaml\n    age_key_file: age-key.txt\n",
    ] {
        assert!(config.contains(line), "config lacks {line:?}:\n{config}");
    }

    for name in FILES {
        assert!(
            stdout.contains(&dir.join(name).display().to_string()),
            "stdout does not name {name}:\n{stdout}"
        );
    }
    assert!(stdout.contains(recipient), "stdout lacks the recipient");
    assert!(stdout.contains("secret-cascade encrypt secrets.yaml --output secrets.enc.yaml"));
    assert!(stdout.contains("secret-cascade get database.password"));
    assert!(stdout.contains(".gitignore") && stdout.contains("Back it up"));
}

#[cfg(unix)]
#[test]
fn key_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let sandbox = Sandbox::new();
    let (code, _, stderr) = run(sandbox.cli().arg("init"));
    assert_eq!(code, 0, "{stderr}");
    let mode = std::fs::metadata(sandbox.path().join("age-key.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
}

#[test]
fn init_writes_into_the_current_directory_by_default() {
    let sandbox = Sandbox::new();
    let (code, _, stderr) = run(sandbox.cli().arg("init"));
    assert_eq!(code, 0, "{stderr}");
    for name in FILES {
        assert!(sandbox.path().join(name).is_file(), "{name} missing");
    }
}

#[test]
fn init_creates_a_missing_folder_and_its_parents() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("a/b/c");
    let (code, _, stderr) = run(sandbox.cli().args(["init", "--dir", "a/b/c"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(names_in(&dir), sorted(&FILES));
}

#[test]
fn init_refuses_when_any_of_its_files_exists() {
    for existing in FILES {
        let sandbox = Sandbox::new();
        let path = sandbox.write(existing, "keep me\n");
        let (code, stdout, stderr) = run(sandbox.cli().arg("init"));
        assert_eq!(code, 2, "with {existing}: stdout {stdout}\nstderr {stderr}");
        assert!(
            stderr.contains(existing) && stderr.contains("refusing to overwrite"),
            "with {existing}: {stderr}"
        );
        assert_eq!(read(&path), "keep me\n", "{existing} was changed");
        assert_eq!(
            names_in(sandbox.path()),
            [existing],
            "with {existing}, other files were created"
        );
    }
}

#[cfg(unix)]
#[test]
fn init_refuses_a_dangling_symlink_in_place_of_a_file() {
    let sandbox = Sandbox::new();
    std::os::unix::fs::symlink(
        sandbox.path().join("nowhere"),
        sandbox.path().join(".sops.yaml"),
    )
    .unwrap();
    let (code, _, stderr) = run(sandbox.cli().arg("init"));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(names_in(sandbox.path()), [".sops.yaml"]);
    assert!(!sandbox.path().join("nowhere").exists());
}

#[test]
fn init_error_names_every_existing_file() {
    let sandbox = Sandbox::new();
    sandbox.write("age-key.txt", "old key\n");
    sandbox.write("secret-cascade.yml", "old config\n");
    match init::init(sandbox.path()) {
        Err(InitError::Exists { paths }) => assert_eq!(
            paths,
            [
                sandbox.path().join("age-key.txt"),
                sandbox.path().join("secret-cascade.yml")
            ]
        ),
        other => panic!("expected InitError::Exists, got {other:?}"),
    }
    assert_eq!(
        names_in(sandbox.path()),
        ["age-key.txt", "secret-cascade.yml"]
    );
}

#[test]
fn init_fails_with_exit_1_when_the_folder_cannot_be_created() {
    let sandbox = Sandbox::new();
    sandbox.write("plain-file", "not a folder\n");
    let (code, _, stderr) = run(sandbox.cli().args(["init", "--dir", "plain-file/sub"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("plain-file"), "{stderr}");
    assert_eq!(names_in(sandbox.path()), ["plain-file"]);
}

#[test]
fn init_never_prints_the_secret_key() {
    let sandbox = Sandbox::new();
    let (code, stdout, stderr) = run(sandbox.cli().args(["-vv", "init"]));
    assert_eq!(code, 0, "{stderr}");
    let key_text = read(&sandbox.path().join("age-key.txt"));
    let secret = key_text.lines().last().unwrap().to_ascii_uppercase();
    assert!(secret.starts_with("AGE-SECRET-KEY-1"));
    // Upper-cased: bech32 text is the same key in either case.
    for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        let text = text.to_ascii_uppercase();
        assert!(
            !text.contains("AGE-SECRET-KEY"),
            "{stream} has a secret key"
        );
        assert!(!text.contains(&secret[16..]), "{stream} has the key's data");
    }
}

#[test]
fn starter_config_loads_and_its_env_layer_answers_first() {
    let sandbox = Sandbox::new();
    let (code, _, stderr) = run(sandbox.cli().args(["init", "--dir", "project"]));
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run(sandbox
        .cli()
        .args(["get", "database.password", "--json", "--config"])
        .arg(sandbox.path().join("project/secret-cascade.yml"))
        .env("APP__DATABASE__PASSWORD", "from-env"));
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (&json["value"], &json["source"]),
        (&"from-env".into(), &"env".into())
    );
}

#[test]
fn real_sops_encrypts_with_the_created_rule_and_get_decrypts_with_the_created_key() {
    let sops = sops_bin();
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("project");
    let (code, _, stderr) = run(sandbox.cli().arg("init").arg("--dir").arg(&dir));
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(dir.join("secrets.yaml"), "database:\n  password: s3cr3t\n").unwrap();

    // sops matches `path_regex` against the file name it is given, the plaintext's, and finds
    // `.sops.yaml` by walking up from its working directory.
    let output = sops_command(&sandbox, sops)
        .current_dir(&dir)
        .args(["encrypt", "--output", "secrets.enc.yaml", "secrets.yaml"])
        .output()
        .expect("sops runs");
    assert!(
        output.status.success(),
        "sops encrypt failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let encrypted = read(&dir.join("secrets.enc.yaml"));
    assert!(!encrypted.contains("s3cr3t"), "not encrypted:\n{encrypted}");
    let recipient = read(&dir.join("age-key.txt"))
        .lines()
        .nth(1)
        .unwrap()
        .trim_start_matches("# public key: ")
        .to_owned();
    assert!(
        encrypted.contains(&recipient),
        "not encrypted to the new recipient:\n{encrypted}"
    );

    // From another folder: the config's relative paths are taken from its own folder.
    let mut get = sandbox.cli();
    for variable in AGE_KEY_VARIABLES {
        get.env_remove(variable);
    }
    let (code, stdout, stderr) = run(get
        .args(["get", "database.password", "--config"])
        .arg(dir.join("secret-cascade.yml"))
        .env_remove("APP__DATABASE__PASSWORD"));
    assert_eq!((code, stdout.as_str()), (0, "s3cr3t\n"), "stderr: {stderr}");

    let output = sops_command(&sandbox, sops)
        .env("SOPS_AGE_KEY_FILE", dir.join("age-key.txt"))
        .arg("decrypt")
        .arg(dir.join("secrets.enc.yaml"))
        .output()
        .expect("sops runs");
    assert!(
        output.status.success(),
        "sops decrypt failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "database:\n    password: s3cr3t\n"
    );
}

/// sops with no network check and no age key but the ones a test gives it.
fn sops_command(sandbox: &Sandbox, sops: &Path) -> StdCommand {
    let mut command = StdCommand::new(sops);
    command
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .env("HOME", sandbox.path().join("home"))
        .env("XDG_CONFIG_HOME", sandbox.path().join("xdg"));
    for variable in AGE_KEY_VARIABLES {
        command.env_remove(variable);
    }
    command
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    names.sort();
    names
}

/// `2026-11-22T19:30:00Z`: digits where digits go, `Z` at the end.
fn is_rfc3339_utc(text: &str) -> bool {
    text.len() == 20
        && text.bytes().enumerate().all(|(index, byte)| match index {
            4 | 7 => byte == b'-',
            10 => byte == b'T',
            13 | 16 => byte == b':',
            19 => byte == b'Z',
            _ => byte.is_ascii_digit(),
        })
}

/// Runs `init`, then every "Next:" step exactly as printed (in a shell, `secret-cascade` on PATH
/// being the built binary), with no age key reachable but the one `init` wrote: the steps use
/// the config's `age_key_file`, as a new user would expect.
#[test]
fn the_next_steps_init_prints_work_as_typed() {
    let sandbox = Sandbox::new();
    let (code, stdout, stderr) = run(sandbox.cli().args(["init", "--dir", "project"]));
    assert_eq!(code, 0, "{stderr}");
    let next = stdout
        .split_once("Next:\n")
        .expect("init prints its next steps")
        .1;
    let bin = assert_cmd::cargo::cargo_bin("secret-cascade");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let editor = sandbox.write(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/password: .*/password: edited/' \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let project = sandbox.path().join("project");
    let shell = |line: &str| {
        let mut cmd = StdCommand::new("sh");
        cmd.arg("-c")
            .arg(line)
            .current_dir(&project)
            .env("PATH", &path)
            .env("HOME", sandbox.path().join("home"))
            .env("XDG_CONFIG_HOME", sandbox.path().join("xdg"))
            .env("EDITOR", &editor)
            .env_remove("VISUAL")
            .env_remove("SECRET_CASCADE_CONFIG");
        for variable in AGE_KEY_VARIABLES {
            cmd.env_remove(variable);
        }
        let output = cmd.output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let steps: Vec<&str> = next.lines().collect();
    let step = |n: usize| {
        let prefix = format!("  {n}. ");
        steps
            .iter()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no step {n} in {next}"))
            .split("     (")
            .next()
            .unwrap()
            .trim()
            .to_owned()
    };
    // 1: the example, as printed under it.
    let example: String = steps
        .iter()
        .skip_while(|l| !l.starts_with("  1. "))
        .skip(1)
        .take_while(|l| l.starts_with("       "))
        .map(|l| format!("{}\n", &l[7..]))
        .collect();
    std::fs::write(project.join("secrets.yaml"), &example).unwrap();
    for (n, expected) in [
        (2, None),
        (3, Some("s3cr3t\n")),
        (4, None),
        (5, None),
        (6, None),
    ] {
        let line = step(n);
        let (code, stdout, stderr) = shell(&line);
        assert_eq!(code, 0, "step {n} `{line}`: {stdout}{stderr}");
        if let Some(expected) = expected {
            assert_eq!(stdout, expected, "step {n} `{line}`");
        }
        if n == 6 {
            assert!(
                stdout.trim_end().ends_with("checks ok") && stdout.contains("\nall "),
                "a fresh setup is green: {stdout}"
            );
        }
    }
    let (_, stdout, _) = shell("secret-cascade get database.password");
    assert_eq!(stdout, "edited\n", "set, then edit, changed it");
    let (code, _, stderr) = shell("secret-cascade doctor --strict");
    assert_eq!(code, 0, "{stderr}");
}
