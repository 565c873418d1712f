//! The `secret-cascade` binary: output formats, exit codes, help and config discovery.

mod support;

use std::io::Write;
use std::process::Stdio;

use support::{Sandbox, run};

fn sandbox_with_config() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write(
        "secret-cascade.yml",
        "name: clitest\nproviders:\n  - kind: env\n    prefix: CLITEST\n",
    );
    sandbox
}

#[test]
fn get_prints_the_value_and_a_newline() {
    let sandbox = sandbox_with_config();
    let (code, stdout, stderr) = run(sandbox
        .cli()
        .args(["get", "mail.smtp.password"])
        .env("CLITEST__MAIL__SMTP__PASSWORD", "p@ss word"));
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "p@ss word\n", "")
    );
}

#[test]
fn get_json_has_name_source_value_and_metadata() {
    let sandbox = sandbox_with_config();
    let (code, stdout, _) = run(sandbox
        .cli()
        .args(["get", "smtp.password", "--scope", "mail", "--json"])
        .env("CLITEST__MAIL__SMTP__PASSWORD", "p\"w\n"));
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "name": "mail.smtp.password",
            "source": "env",
            "value": "p\"w\n",
            "metadata": {"variable": "CLITEST__MAIL__SMTP__PASSWORD"},
        })
    );
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["name", "source", "value", "metadata"]);
}

#[test]
fn get_uses_the_default_and_says_so() {
    let sandbox = sandbox_with_config();
    let (code, stdout, _) =
        run(sandbox
            .cli()
            .args(["get", "absent", "--default", "dflt", "--json"]));
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["source"], "default");
    assert_eq!(json["value"], "dflt");
    let (_, stdout, _) = run(sandbox.cli().args(["get", "absent", "--default", ""]));
    assert_eq!(stdout, "\n");
}

#[test]
fn get_reads_the_default_from_stdin_and_keeps_it_out_of_the_command_line() {
    let default = "dflt-from-stdin-8c41f";
    let sandbox = sandbox_with_config();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_secret-cascade"))
        .current_dir(sandbox.path())
        .env_remove("SECRET_CASCADE_CONFIG")
        .env("HOME", sandbox.path().join("home"))
        .env("XDG_CONFIG_HOME", sandbox.path().join("xdg"))
        .args(["get", "absent", "--default-from-stdin", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the child has exec'd (until then /proc shows this test's command line), it waits for
    // stdin: its command line is final and must not hold the value.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let cmdline = loop {
        let bytes = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
        let cmdline = String::from_utf8_lossy(&bytes).into_owned();
        if cmdline.contains("--default-from-stdin") {
            break cmdline;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the child never showed its command line: {cmdline:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert!(!cmdline.contains(default), "{cmdline:?}");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{default}\n").as_bytes()).unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["source"], "default");
    assert_eq!(json["value"], default, "one trailing newline is removed");
}

#[test]
fn a_found_value_wins_over_the_default_from_stdin() {
    let sandbox = sandbox_with_config();
    let (code, stdout, _) = run(sandbox
        .cli()
        .args(["get", "present", "--default-from-stdin"])
        .env("CLITEST__PRESENT", "found")
        .write_stdin("unused\n"));
    assert_eq!((code, stdout.as_str()), (0, "found\n"));
}

#[test]
fn default_and_default_from_stdin_are_exclusive() {
    let sandbox = sandbox_with_config();
    let (code, _, stderr) = run(sandbox
        .cli()
        .args(["get", "absent", "--default", "x", "--default-from-stdin"])
        .write_stdin("y"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn an_empty_variable_prints_an_empty_line() {
    let sandbox = sandbox_with_config();
    let (code, stdout, _) = run(sandbox
        .cli()
        .args(["get", "blank", "--default", "no"])
        .env("CLITEST__BLANK", ""));
    assert_eq!((code, stdout.as_str()), (0, "\n"));
}

#[test]
fn not_found_is_exit_1_naming_every_layer() {
    let sandbox = sandbox_with_config();
    let (code, stdout, stderr) = run(sandbox.cli().args(["get", "db.password"]));
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert_eq!(
        stderr,
        "secret-cascade: secret `db.password` not found by resolver `clitest`; tried: \
         env (CLITEST__DB__PASSWORD is not set); no default given\n"
    );
}

#[test]
fn usage_errors_are_exit_2() {
    let sandbox = sandbox_with_config();
    for args in [&["get"][..], &["nosuch"], &["get", "a", "--bogus"], &[]] {
        let (code, _, stderr) = run(sandbox.cli().args(args));
        assert_eq!(code, 2, "{args:?}: {stderr}");
    }
    let (code, _, stderr) = run(sandbox.cli().args(["get", "a..b"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid secret request"), "{stderr}");
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let sandbox = Sandbox::new();
    // The top-level help and every command's are snapshots in tests/cmd/help.md.
    for args in [&["get", "--help"][..], &["help", "get"]] {
        let (code, stdout, _) = run(sandbox.cli().args(args));
        assert_eq!(code, 0);
        for needle in [
            "Examples:",
            "secret-cascade get mail.smtp.password",
            "Exit codes:",
            "2  usage or config error",
        ] {
            assert!(
                stdout.contains(needle),
                "{args:?}: {needle} missing from {stdout}"
            );
        }
    }
}

#[test]
fn config_discovery_order() {
    let sandbox = Sandbox::new();
    let env_config = sandbox.write(
        "elsewhere/by-env.yml",
        "providers:\n  - kind: env\n    prefix: BYENV\n",
    );
    sandbox.write(
        "xdg/secret-cascade/config.yml",
        "providers:\n  - kind: env\n    prefix: BYXDG\n",
    );
    let vars = [
        ("BYENV__K", "by-env"),
        ("LOCAL__K", "local"),
        ("BYXDG__K", "by-xdg"),
        ("K", "no-config"),
    ];
    let get = |sandbox: &Sandbox| {
        let mut cmd = sandbox.cli();
        cmd.args(["get", "k"]).envs(vars);
        run(&mut cmd).1
    };
    assert_eq!(get(&sandbox), "by-xdg\n", "XDG config when nothing else");
    sandbox.write(
        "secret-cascade.yml",
        "providers:\n  - kind: env\n    prefix: LOCAL\n",
    );
    assert_eq!(get(&sandbox), "local\n", "./secret-cascade.yml before XDG");
    let mut cmd = sandbox.cli();
    cmd.args(["get", "k"])
        .envs(vars)
        .env("SECRET_CASCADE_CONFIG", &env_config);
    assert_eq!(run(&mut cmd).1, "by-env\n", "SECRET_CASCADE_CONFIG first");
    let mut cmd = sandbox.cli();
    cmd.args(["get", "k", "--config"])
        .arg(&env_config)
        .envs(vars);
    assert_eq!(run(&mut cmd).1, "by-env\n", "--config first");

    let bare = Sandbox::new();
    assert_eq!(
        get(&bare),
        "no-config\n",
        "no config at all: env without prefix"
    );
}

#[test]
fn home_dot_config_is_used_without_xdg_config_home() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "home/.config/secret-cascade/config.yml",
        "providers:\n  - kind: env\n    prefix: BYHOME\n",
    );
    let mut cmd = sandbox.cli();
    cmd.args(["get", "k"])
        .env_remove("XDG_CONFIG_HOME")
        .env("BYHOME__K", "by-home");
    assert_eq!(run(&mut cmd).1, "by-home\n");
}

#[test]
fn without_a_config_a_miss_says_where_a_config_was_looked_for() {
    let sandbox = Sandbox::new();
    let (code, _, stderr) = run(sandbox.cli().args(["get", "database.password"]));
    assert_eq!(code, 1, "{stderr}");
    let local = sandbox.path().join("secret-cascade.yml");
    let user = sandbox.path().join("xdg/secret-cascade/config.yml");
    assert!(
        stderr.contains(&format!(
            "no config file was found (searched {}, {}; kstlib's: ",
            local.display(),
            user.display()
        )) && stderr.contains(&format!(
            "{}), so only",
            local.with_file_name("kstlib.conf.yml").display()
        )),
        "{stderr}"
    );
    let (_, _, logged) = run(sandbox.cli().args(["-v", "get", "database.password"]));
    assert!(logged.contains("no config file found"), "{logged}");
    // With a config, no such note.
    sandbox.write("secret-cascade.yml", "providers:\n  - kind: env\n");
    let (code, _, stderr) = run(sandbox.cli().args(["get", "database.password"]));
    assert_eq!(code, 1);
    assert!(!stderr.contains("no config file"), "{stderr}");
}
