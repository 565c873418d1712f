//! `secret-cascade exec`: secrets resolved first, then the command runs in this process's place
//! with them in its environment, its stdio, its signals and its exit status.

mod support;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use support::{Sandbox, run};

/// Distinctive enough that finding it in any output means it leaked.
const VALUE: &str = "s3cr3t-value-5e7a91";

/// A sandbox with `secret-cascade.yml` reading `APP__*` variables.
fn setup() -> (Sandbox, PathBuf) {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "secret-cascade.yml",
        "name: exectest\nproviders:\n  - kind: env\n    prefix: APP\n",
    );
    (sandbox, config)
}

/// `secret-cascade exec --config CONFIG ARGS...` with `APP__DB__PASSWORD` set to [`VALUE`].
fn exec(sandbox: &Sandbox, config: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = sandbox.cli();
    cmd.arg("exec")
        .arg("--config")
        .arg(config)
        .args(args)
        .env("APP__DB__PASSWORD", VALUE);
    cmd
}

fn assert_no_value(what: &str, text: &str) {
    assert!(!text.contains(VALUE), "{what} contains the value: {text}");
}

/// The same run as [`exec`] with std's `Command`, for tests that need the live process.
fn spawn_exec(sandbox: &Sandbox, config: &Path, args: &[&str]) -> Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_secret-cascade"))
        .current_dir(sandbox.path())
        .env_remove("SECRET_CASCADE_CONFIG")
        .env_remove("SECRET_CASCADE_LOG")
        .env("HOME", sandbox.path().join("home"))
        .env("XDG_CONFIG_HOME", sandbox.path().join("xdg"))
        .env("APP__DB__PASSWORD", VALUE)
        .arg("exec")
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

fn wait_for_file(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the command exited ({status}) before creating {}",
                path.display()
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "timed out after 10 s waiting for the command to create {}",
                path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn send_sigterm(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -TERM {} failed", child.id());
}

fn wait_with_timeout(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command did not exit within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_command_sees_the_variable() {
    let (sandbox, config) = setup();
    let (code, stdout, stderr) = run(&mut exec(
        &sandbox,
        &config,
        &[
            "--env",
            "PGPASS=db.password",
            "--",
            "sh",
            "-c",
            "printf %s \"$PGPASS\"",
        ],
    ));
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, VALUE, ""));
}

#[test]
fn variables_are_added_to_the_inherited_environment() {
    let (sandbox, config) = setup();
    let (code, stdout, _) = run(exec(
        &sandbox,
        &config,
        &[
            "--env",
            "A=db.password",
            "--env",
            "REPLACED=db.password",
            "--",
            "sh",
            "-c",
            "printf '%s|%s|%s' \"$A\" \"$INHERITED\" \"$REPLACED\"",
        ],
    )
    .env("INHERITED", "kept")
    .env("REPLACED", "old"));
    assert_eq!(code, 0);
    assert_eq!(stdout, format!("{VALUE}|kept|{VALUE}"));
}

#[test]
fn scope_and_config_discovery_are_those_of_get() {
    let (sandbox, _config) = setup();
    let (code, stdout, _) = run(sandbox
        .cli()
        .args([
            "exec",
            "--scope",
            "db",
            "--env",
            "P=password",
            "--",
            "sh",
            "-c",
            "printf %s \"$P\"",
        ])
        .env("APP__DB__PASSWORD", VALUE));
    assert_eq!((code, stdout.as_str()), (0, VALUE));
}

/// The fixture key file's path.
fn fixture_key_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sops/key.txt")
}

/// A sandbox with the nested fixture as `secrets.enc.yaml` and a config reading it; `options` are
/// more lines of the sops layer (such as its `age_key_file`).
fn sops_setup(options: &str) -> (Sandbox, PathBuf) {
    let sandbox = Sandbox::new();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sops/enc/nested.yaml"),
        sandbox.path().join("secrets.enc.yaml"),
    )
    .unwrap();
    let config = sandbox.write(
        "secret-cascade.yml",
        &format!("providers:\n  - kind: sops\n    path: secrets.enc.yaml\n{options}"),
    );
    (sandbox, config)
}

#[test]
fn a_sops_value_reaches_the_command() {
    let (sandbox, config) = sops_setup(&format!(
        "    age_key_file: {}\n",
        fixture_key_file().display()
    ));
    let (code, stdout, _) = run(&mut exec(
        &sandbox,
        &config,
        &[
            "--env",
            "P=database.password",
            "--",
            "sh",
            "-c",
            "printf %s \"$P\"",
        ],
    ));
    assert_eq!((code, stdout.as_str()), (0, "s3cr3t"));

    let file = sandbox.path().join("secrets.enc.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("key_unencrypted: visible", "key_unencrypted: changed"),
    )
    .unwrap();
    let (code, _, stderr) = run(&mut exec(
        &sandbox,
        &config,
        &[
            "--env",
            "P=database.password",
            "--",
            "sh",
            "-c",
            "touch ran",
        ],
    ));
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("MAC mismatch"), "{stderr}");
    assert!(!sandbox.path().join("ran").exists(), "the command ran");
}

/// `exec` with the age key itself in `SOPS_AGE_KEY`: what CMD sees of the database password and
/// of `SOPS_AGE_KEY`, and the key.
fn key_seen_by_the_command(extra: &[&str]) -> (String, String) {
    let (sandbox, config) = sops_setup("");
    let key = std::fs::read_to_string(fixture_key_file())
        .unwrap()
        .lines()
        .find(|line| line.starts_with("AGE-SECRET-KEY-"))
        .expect("the fixture key file holds a key")
        .to_owned();
    let mut args = extra.to_vec();
    args.extend([
        "--env",
        "P=database.password",
        "--",
        "sh",
        "-c",
        "printf '%s|%s' \"$P\" \"${SOPS_AGE_KEY-unset}\"",
    ]);
    let (code, stdout, stderr) = run(exec(&sandbox, &config, &args).env("SOPS_AGE_KEY", &key));
    assert_eq!(code, 0, "{stderr}");
    (stdout, key)
}

#[test]
fn the_command_does_not_get_the_age_key() {
    let (seen, _) = key_seen_by_the_command(&[]);
    assert_eq!(seen, "s3cr3t|unset");
}

#[test]
fn keep_key_env_passes_the_age_key_on() {
    let (seen, key) = key_seen_by_the_command(&["--keep-key-env"]);
    assert_eq!(seen, format!("s3cr3t|{key}"));
}

#[test]
fn the_exit_code_is_the_commands() {
    let (sandbox, config) = setup();
    for (script, expected) in [("exit 0", 0), ("exit 7", 7), ("exit 255", 255)] {
        let (code, _, _) = run(&mut exec(&sandbox, &config, &["--", "sh", "-c", script]));
        assert_eq!(code, expected, "{script}");
    }
}

#[test]
fn the_value_is_not_in_the_command_line() {
    let (sandbox, config) = setup();
    let (code, stdout, _) = run(&mut exec(
        &sandbox,
        &config,
        &[
            "--env",
            "P=db.password",
            "--",
            "sh",
            "-c",
            "cat /proc/$$/cmdline",
        ],
    ));
    assert_eq!(code, 0);
    assert!(stdout.contains("/proc/$$/cmdline"), "read: {stdout:?}");
    assert_no_value("the command line", &stdout);
}

#[test]
fn a_missing_name_fails_before_the_command_runs() {
    let (sandbox, config) = setup();
    let (code, stdout, stderr) = run(&mut exec(
        &sandbox,
        &config,
        &[
            "--env",
            "P=db.password",
            "--env",
            "Q=db.absent",
            "--",
            "sh",
            "-c",
            "touch ran",
        ],
    ));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("`db.absent` not found"), "{stderr}");
    assert!(stderr.contains("APP__DB__ABSENT is not set"), "{stderr}");
    assert!(stderr.contains("Q=db.absent"), "{stderr}");
    assert_no_value("stderr", &stderr);
    assert!(!sandbox.path().join("ran").exists(), "the command ran");
}

#[test]
fn a_bad_config_fails_before_the_command_runs() {
    let (sandbox, _) = setup();
    let config = sandbox.write("bad.yml", "providers:\n  - kind: nosuch\n");
    let (code, _, stderr) = run(&mut exec(
        &sandbox,
        &config,
        &["--env", "P=db.password", "--", "sh", "-c", "touch ran"],
    ));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("bad.yml"), "{stderr}");
    assert!(!sandbox.path().join("ran").exists(), "the command ran");
}

#[test]
fn bad_or_repeated_variables_are_usage_errors() {
    let (sandbox, config) = setup();
    for env in [
        &["1X=a"][..],
        &["A-B=a"],
        &["=a"],
        &["A"],
        &["A B=a"],
        &["P=db.password", "P=db.password"],
    ] {
        let mut args = Vec::new();
        for binding in env {
            args.extend(["--env", binding]);
        }
        args.extend(["--", "sh", "-c", "touch ran"]);
        let (code, _, stderr) = run(&mut exec(&sandbox, &config, &args));
        assert_eq!(code, 2, "{env:?}: {stderr}");
        assert!(stderr.contains(env[0]), "{env:?} not named in {stderr}");
        assert!(
            !sandbox.path().join("ran").exists(),
            "{env:?}: the command ran"
        );
    }
}

#[test]
fn a_command_is_required_and_no_variable_is() {
    let (sandbox, config) = setup();
    for args in [
        &["--env", "P=db.password"][..],
        &["--env", "P=db.password", "--"],
    ] {
        let (code, _, stderr) = run(&mut exec(&sandbox, &config, args));
        assert_eq!(code, 2, "{args:?}: {stderr}");
    }
    let (code, _, stderr) = run(&mut exec(&sandbox, &config, &["sh", "-c", "touch ran"]));
    assert_eq!(code, 2, "CMD without `--`: {stderr}");
    assert!(!sandbox.path().join("ran").exists(), "the command ran");

    let (code, stdout, _) = run(&mut exec(&sandbox, &config, &["--", "echo", "plain"]));
    assert_eq!((code, stdout.as_str()), (0, "plain\n"));
}

#[test]
fn a_command_that_is_not_found_is_127() {
    let (sandbox, config) = setup();
    for program in ["no-such-command-3f9a", "./no-such-file"] {
        let (code, stdout, stderr) = run(&mut exec(
            &sandbox,
            &config,
            &["--env", "P=db.password", "--", program, "arg"],
        ));
        assert_eq!(code, 127, "{program}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains(program), "{program} not named in {stderr}");
        assert_no_value("stderr", &stderr);
    }
}

#[test]
fn a_command_that_cannot_run_is_126() {
    let (sandbox, config) = setup();
    let script = sandbox.write("not-executable.sh", "#!/bin/sh\ntouch ran\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    for program in ["./not-executable.sh", "./home-is-a-directory"] {
        std::fs::create_dir_all(sandbox.path().join("home-is-a-directory")).unwrap();
        let (code, _, stderr) = run(&mut exec(
            &sandbox,
            &config,
            &["--env", "P=db.password", "--", program],
        ));
        assert_eq!(code, 126, "{program}: {stderr}");
        assert!(stderr.contains(program), "{program} not named in {stderr}");
        assert_no_value("stderr", &stderr);
    }
    assert!(!sandbox.path().join("ran").exists(), "the script ran");
}

#[test]
fn stdin_and_stdout_pass_through() {
    let (sandbox, config) = setup();
    let (code, stdout, _) = run(exec(&sandbox, &config, &["--", "cat"]).write_stdin("hello\n"));
    assert_eq!((code, stdout.as_str()), (0, "hello\n"));
    let (code, stdout, stderr) = run(&mut exec(
        &sandbox,
        &config,
        &["--", "sh", "-c", "echo to-stderr >&2"],
    ));
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "", "to-stderr\n")
    );
}

#[test]
fn the_command_takes_over_this_process() {
    let (sandbox, config) = setup();
    let mut child = spawn_exec(&sandbox, &config, &["--", "sh", "-c", "echo $$"]);
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(stdout.trim(), child.id().to_string());
}

#[test]
fn sigterm_reaches_the_command_and_its_exit_code_is_ours() {
    let (sandbox, config) = setup();
    let mut child = spawn_exec(
        &sandbox,
        &config,
        &[
            "--env",
            "P=db.password",
            "--",
            "sh",
            "-c",
            "trap 'exit 42' TERM; touch ready; while :; do sleep 0.05; done",
        ],
    );
    wait_for_file(&sandbox.path().join("ready"), &mut child);
    send_sigterm(&child);
    let status = wait_with_timeout(&mut child);
    assert_eq!(status.code(), Some(42), "{status}");
}

#[test]
fn death_by_sigterm_is_our_status() {
    let (sandbox, config) = setup();
    let mut child = spawn_exec(
        &sandbox,
        &config,
        &[
            "--",
            "sh",
            "-c",
            "touch ready; while :; do sleep 0.05; done",
        ],
    );
    wait_for_file(&sandbox.path().join("ready"), &mut child);
    send_sigterm(&child);
    let status = wait_with_timeout(&mut child);
    assert_eq!(status.signal(), Some(15), "{status}");
}

#[test]
fn the_command_starts_with_sigpipe_at_its_default() {
    let (sandbox, config) = setup();
    let (code, stdout, _) = run(&mut exec(
        &sandbox,
        &config,
        &["--", "grep", "^SigIgn:", "/proc/self/status"],
    ));
    assert_eq!(code, 0);
    let mask = u64::from_str_radix(stdout.trim_start_matches("SigIgn:").trim(), 16)
        .unwrap_or_else(|e| panic!("{stdout:?}: {e}"));
    let sigpipe = 13;
    assert_eq!(
        mask & (1 << (sigpipe - 1)),
        0,
        "SIGPIPE is ignored: {stdout}"
    );
}

#[test]
fn help_documents_the_takeover_and_exit_codes() {
    let sandbox = Sandbox::new();
    let (code, stdout, _) = run(sandbox.cli().args(["exec", "--help"]));
    assert_eq!(code, 0);
    for needle in [
        "secret-cascade exec --env PGPASSWORD=database.password -- psql -h db",
        "replaces itself with CMD",
        "/proc/PID/environ",
        "126  CMD was found but could not be run",
        "127  CMD was not found",
    ] {
        assert!(stdout.contains(needle), "{needle} missing from {stdout}");
    }
}

/// `fixtures/sops/<name>`.
fn sops_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sops")
        .join(name)
}

#[test]
fn every_top_level_value_of_a_file_as_sops_exec_env() {
    let (sandbox, config) = setup();
    let check = "test \"$DB_USER\" = admin && test \"$DB_PASSWORD\" = s3cr3t && test \"$PORT\" = 5432 \
                 && test \"$MULTI\" = \"$(printf '\"line one\\nline two\"')\" && test \"$APP_TOKEN\" = override";
    let mut cmd = exec(&sandbox, &config, &[]);
    cmd.env("SOPS_AGE_KEY_FILE", sops_fixture("key.txt"))
        .env("APP__TOKEN", "override")
        .arg("--file")
        .arg(sops_fixture("enc/app.env"))
        .args(["--env", "APP_TOKEN=token", "--", "sh", "-c", check]);
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stderr.contains("s3cr3t") && !stdout.contains("s3cr3t"));

    // YAML: scalars are exported, a list is refused naming its key, before CMD runs.
    let mut cmd = exec(&sandbox, &config, &[]);
    cmd.env("SOPS_AGE_KEY_FILE", sops_fixture("key.txt"))
        .arg("--file")
        .arg(sops_fixture("enc/simple.yaml"))
        .args(["--", "sh", "-c", "echo ran"]);
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "CMD never ran: {stdout}");
    assert!(
        stderr.contains("the value of `list` is a map or list"),
        "{stderr}"
    );

    // The same variable from the file and from --env: refused, not silently one of them.
    let mut cmd = exec(&sandbox, &config, &["--env", "DB_USER=db.password"]);
    cmd.env("SOPS_AGE_KEY_FILE", sops_fixture("key.txt"))
        .arg("--file")
        .arg(sops_fixture("enc/app.env"))
        .args(["--", "true"]);
    let (code, _, stderr) = run(&mut cmd);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("DB_USER would be set twice"), "{stderr}");
    assert_no_value("stderr", &stderr);

    // A file the key does not open: exit 3, CMD never runs.
    let mut cmd = exec(&sandbox, &config, &[]);
    cmd.env("SOPS_AGE_KEY_FILE", sops_fixture("key2.txt"))
        .arg("--file")
        .arg(sops_fixture("enc/app.env"))
        .args(["--", "sh", "-c", "echo ran"]);
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!((code, stdout.as_str()), (3, ""), "{stderr}");
}

#[test]
fn every_secret_of_a_layer_that_lists_its_names() {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "secret-cascade.yml",
        "providers:\n  - kind: env\n    prefix: APP\n  - kind: memory\n    secrets:\n      API_KEY: k-123\n      DB_PASSWORD: ${env:DBPW}\n",
    );
    let mut cmd = sandbox.cli();
    cmd.env("DBPW", VALUE)
        .args(["exec", "--config"])
        .arg(&config)
        .args([
            "--all-from-layer",
            "memory",
            "--",
            "sh",
            "-c",
            &format!("test \"$API_KEY\" = k-123 && test \"$DB_PASSWORD\" = {VALUE}"),
        ]);
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 0, "{stdout}{stderr}");

    for (layer, words) in [
        ("env", "cannot list its names"),
        ("nosuch", "no such layer; the config's are `env`, `memory`"),
    ] {
        let mut cmd = sandbox.cli();
        cmd.env("DBPW", VALUE)
            .args(["exec", "--config"])
            .arg(&config)
            .args(["--all-from-layer", layer, "--", "true"]);
        let (code, _, stderr) = run(&mut cmd);
        assert_eq!(code, 2, "{layer}: {stderr}");
        assert!(stderr.contains(words), "{layer}: {stderr}");
    }
}
