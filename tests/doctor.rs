//! `secret-cascade doctor`: real config files, real SOPS files decrypted with real keys, file
//! modes, exit codes and both output formats; and no value in any of it.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use support::{Sandbox, run};

const RECIPIENT: &str = "age17qg6tvlhy6l2al555r5a3vzlz0773f8hewax38d8fhphjc6kvy2qdd0hrg";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sops")
        .join(name)
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A sandbox with an env layer (prefix `DOCTOR`) and a sops layer reading `secrets.enc.yaml`, a
/// copy of `secrets`, with `keys.txt`, a copy of `key`; both files mode 0600.
struct Setup {
    sandbox: Sandbox,
    config: PathBuf,
    secrets: PathBuf,
    keys: PathBuf,
}

impl Setup {
    fn new(secrets: &str, key: &str) -> Self {
        let sandbox = Sandbox::new();
        let secrets_path = sandbox.path().join("secrets.enc.yaml");
        let keys = sandbox.path().join("keys.txt");
        std::fs::copy(fixture(secrets), &secrets_path).unwrap();
        std::fs::copy(fixture(key), &keys).unwrap();
        chmod(&secrets_path, 0o600);
        chmod(&keys, 0o600);
        let config = sandbox.write(
            "secret-cascade.yml",
            "name: doctortest\nproviders:\n  - kind: env\n    prefix: DOCTOR\n  - kind: sops\n    path: secrets.enc.yaml\n    age_key_file: keys.txt\n",
        );
        chmod(&config, 0o600);
        Self {
            sandbox,
            config,
            secrets: secrets_path,
            keys,
        }
    }

    /// `doctor --config FILE` with `DOCTOR__API__TOKEN` set and no age identity but `keys.txt`.
    fn doctor(&self) -> Command {
        let mut cmd = isolated(&self.sandbox);
        cmd.args(["doctor", "--config"])
            .arg(&self.config)
            .env("DOCTOR__API__TOKEN", "env-value-9f2c");
        cmd
    }
}

/// The sandbox's CLI without any age identity from the machine running the tests.
fn isolated(sandbox: &Sandbox) -> Command {
    let mut cmd = sandbox.cli();
    for variable in ["SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD"] {
        cmd.env_remove(variable);
    }
    cmd
}

fn json(cmd: &mut Command) -> (i32, serde_json::Value) {
    let (code, stdout, stderr) = run(cmd.arg("--json"));
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (code, value)
}

/// Every check of the layer labelled `label` as (status, subject, message).
fn checks(report: &serde_json::Value, label: &str) -> Vec<(String, String, String)> {
    let layer = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|layer| layer["label"] == label)
        .unwrap_or_else(|| panic!("no layer {label} in {report}"));
    layer["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| {
            let text = |key: &str| check[key].as_str().unwrap().to_owned();
            (text("status"), text("subject"), text("message"))
        })
        .collect()
}

fn sops_label(setup: &Setup) -> String {
    format!("sops:{}", setup.secrets.display())
}

/// The sops layer's check about `subject`.
fn sops_check(setup: &Setup, report: &serde_json::Value, subject: &str) -> (String, String) {
    checks(report, &sops_label(setup))
        .into_iter()
        .find(|(_, s, _)| s == subject)
        .map(|(status, _, message)| (status, message))
        .unwrap_or_else(|| panic!("no `{subject}` check in {report}"))
}

#[test]
fn a_healthy_chain_exits_0_and_lists_the_recipient() {
    let setup = Setup::new("enc/simple.yaml", "key.txt");
    let (code, stdout, stderr) = run(&mut setup.doctor());
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(stderr, "");
    assert!(stdout.contains(RECIPIENT), "{stdout}");
    assert!(
        stdout.contains("ok    variables  1 variable starts with DOCTOR__"),
        "{stdout}"
    );
    let opens = format!(
        "ok    decryption  opens with an identity from {}; MAC verified",
        setup.keys.display()
    );
    assert!(stdout.contains(&opens), "{stdout}");
    assert!(stdout.trim_end().ends_with("checks ok"), "{stdout}");

    let (code, report) = json(&mut setup.doctor());
    assert_eq!(code, 0);
    assert_eq!(report["ok"], true);
    assert_eq!(report["config"], setup.config.display().to_string());
    let labels: Vec<&str> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layer["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["config", "env", sops_label(&setup).as_str()]);
    let subjects: Vec<String> = checks(&report, &sops_label(&setup))
        .into_iter()
        .map(|(status, subject, _)| {
            assert_eq!(status, "ok", "{report}");
            subject
        })
        .collect();
    assert_eq!(
        subjects,
        ["file", "key file", "decryption", "recipients", "freshness"]
    );
    assert_eq!(
        sops_check(&setup, &report, "recipients"),
        ("ok".to_owned(), RECIPIENT.to_owned())
    );
    // The sandbox is on a local file system: watched.
    assert_eq!(
        sops_check(&setup, &report, "freshness").1,
        "watched with inotify: a lookup checks the file only after a change"
    );
}

#[test]
fn a_missing_sops_file_fails_naming_it() {
    let setup = Setup::new("enc/simple.yaml", "key.txt");
    std::fs::remove_file(&setup.secrets).unwrap();
    let (code, stdout, _) = run(&mut setup.doctor());
    assert_eq!(code, 1);
    let expected = format!("FAIL  file      {} does not exist", setup.secrets.display());
    assert!(stdout.contains(&expected), "{stdout}");
    let (code, report) = json(&mut setup.doctor());
    assert_eq!((code, &report["ok"]), (1, &serde_json::json!(false)));
}

#[test]
fn a_key_that_does_not_open_the_file_fails_and_still_lists_the_recipients() {
    let setup = Setup::new("enc/simple.yaml", "key2.txt");
    let (code, report) = json(&mut setup.doctor());
    assert_eq!(code, 1);
    let (status, message) = sops_check(&setup, &report, "decryption");
    assert_eq!(status, "fail");
    assert!(message.starts_with("no identity matched"), "{message}");
    assert!(
        message.contains(&setup.keys.display().to_string()),
        "{message}"
    );
    assert_eq!(
        sops_check(&setup, &report, "recipients"),
        ("ok".to_owned(), RECIPIENT.to_owned())
    );
}

#[test]
fn a_tampered_value_fails_authentication() {
    let setup = Setup::new("enc/simple.yaml", "key.txt");
    let text = std::fs::read_to_string(&setup.secrets).unwrap();
    let tampered = text.replacen("data:pseNwMg=", "data:qseNwMg=", 1);
    assert_ne!(
        text, tampered,
        "the fixture changed; pick another ciphertext"
    );
    std::fs::write(&setup.secrets, tampered).unwrap();
    let (code, stdout, _) = run(&mut setup.doctor());
    assert_eq!(code, 1);
    assert!(
        stdout.contains(
            "FAIL  decryption  value at `hello:` failed authentication: the file was modified"
        ),
        "{stdout}"
    );
}

#[test]
fn a_tampered_mac_is_a_mac_failure() {
    let setup = Setup::new("enc/simple.yaml", "key.txt");
    let text = std::fs::read_to_string(&setup.secrets).unwrap();
    let tampered = text.replacen(
        "mac: ENC[AES256_GCM,data:Ff",
        "mac: ENC[AES256_GCM,data:Gf",
        1,
    );
    assert_ne!(
        text, tampered,
        "the fixture changed; pick another ciphertext"
    );
    std::fs::write(&setup.secrets, tampered).unwrap();
    let (code, report) = json(&mut setup.doctor());
    assert_eq!(code, 1);
    let (status, message) = sops_check(&setup, &report, "decryption");
    assert_eq!(status, "fail");
    assert!(
        message.starts_with("the MAC failed authentication"),
        "{message}"
    );
}

#[test]
fn a_key_file_readable_by_others_is_a_warning_an_encrypted_file_is_not() {
    let setup = Setup::new("enc/simple.yaml", "key.txt");
    chmod(&setup.secrets, 0o644);
    chmod(&setup.keys, 0o640);
    let (code, stdout, _) = run(&mut setup.doctor());
    assert_eq!(code, 0, "a warning alone does not fail: {stdout}");
    let (code, _, _) = run(setup.doctor().arg("--strict"));
    assert_eq!(code, 1, "--strict: a warning fails");
    let file = format!("ok    file        {}, mode 0644", setup.secrets.display());
    let key = format!(
        "warn  key file    mode 0640 gives group or others access; run chmod 600 {}",
        setup.keys.display()
    );
    assert!(
        stdout.contains(&file),
        "ciphertext is meant to be shared: {stdout}"
    );
    assert!(stdout.contains(&key), "{stdout}");
    // Loose modes do not stop decryption.
    assert!(stdout.contains("ok    decryption"), "{stdout}");
    assert!(stdout.contains("0 failed, 1 warned"), "{stdout}");
}

#[test]
fn an_encrypted_file_others_can_write_is_a_warning() {
    let setup = Setup::new("enc/simple.yaml", "key.txt");
    chmod(&setup.secrets, 0o664);
    let (code, stdout, _) = run(setup.doctor().arg("--strict"));
    assert_eq!(code, 1, "--strict: a warning fails: {stdout}");
    let file = format!(
        "warn  file        mode 0664 lets group or others replace it with a file of their own \
         encrypted to your public key; run chmod go-w {}",
        setup.secrets.display()
    );
    assert!(stdout.contains(&file), "{stdout}");
}

#[test]
fn a_config_others_can_write_is_a_warning() {
    let setup = Setup::new("enc/simple.yaml", "key.txt");
    chmod(&setup.config, 0o666);
    let (code, report) = json(&mut setup.doctor());
    assert_eq!(code, 0, "a warning alone does not fail");
    assert_eq!(report["ok"], false, "but the report is not all ok");
    let config = checks(&report, "config");
    let (status, _, message) = &config[1];
    assert_eq!(status, "warn");
    assert!(
        message.ends_with(&format!("run chmod go-w {}", setup.config.display())),
        "{message}"
    );
}

#[test]
fn a_missing_age_key_file_fails_naming_it() {
    let setup = Setup::new("enc/simple.yaml", "key.txt");
    std::fs::remove_file(&setup.keys).unwrap();
    let (code, report) = json(&mut setup.doctor());
    assert_eq!(code, 1);
    let (status, message) = sops_check(&setup, &report, "key file");
    assert_eq!(status, "fail");
    assert_eq!(
        message,
        format!("age_key_file {} does not exist", setup.keys.display())
    );
    // Nothing is decrypted, but the file itself still tells whom it is for.
    assert_eq!(
        sops_check(&setup, &report, "recipients"),
        ("ok".to_owned(), RECIPIENT.to_owned())
    );
}

#[test]
fn an_invalid_config_is_a_failed_check_with_exit_1() {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "secret-cascade.yml",
        "providers:\n  - kind: env\n  - kind: nosuch\n    address: x\n",
    );
    let (code, stdout, stderr) = run(isolated(&sandbox).args(["doctor"]));
    assert_eq!(code, 1, "stderr: {stderr}");
    let expected = format!(
        "FAIL  file  invalid config {}, line 3, at `providers[1].kind`: unknown provider kind `nosuch`",
        config.display()
    );
    assert!(stdout.contains(&expected), "{stdout}");

    let (code, report) = json(isolated(&sandbox).args(["doctor"]));
    assert_eq!(code, 1);
    assert_eq!(report["ok"], false);
    assert_eq!(report["config"], config.display().to_string());
    assert_eq!(report["layers"].as_array().unwrap().len(), 1);
}

#[test]
fn without_a_config_only_the_environment_is_checked_and_that_warns() {
    let sandbox = Sandbox::new();
    let (code, report) = json(isolated(&sandbox).args(["doctor", "--strict"]));
    assert_eq!(code, 1);
    assert_eq!(report["config"], serde_json::Value::Null);
    let config = checks(&report, "config");
    assert_eq!(config[0].0, "warn");
    assert!(
        config[0].2.contains("only the environment is consulted"),
        "{}",
        config[0].2
    );
    let env = checks(&report, "env");
    assert_eq!(env[0].0, "ok");
    assert!(
        env[0]
            .2
            .starts_with("no prefix: every variable is consulted")
    );
}

#[test]
fn the_config_is_discovered_as_get_finds_it() {
    let setup = Setup::new("enc/simple.yaml", "key.txt");
    let elsewhere = setup.sandbox.write(
        "elsewhere.yml",
        "providers:\n  - kind: env\n    prefix: DOCTOR\n",
    );
    chmod(&elsewhere, 0o600);
    let discovered = |cmd: &mut Command| json(cmd).1["config"].clone();
    let doctor = || {
        let mut cmd = isolated(&setup.sandbox);
        cmd.arg("doctor");
        cmd
    };
    // ./secret-cascade.yml in the working directory...
    assert_eq!(
        discovered(&mut doctor()),
        setup.config.display().to_string()
    );
    // ...loses to SECRET_CASCADE_CONFIG...
    assert_eq!(
        discovered(doctor().env("SECRET_CASCADE_CONFIG", &elsewhere)),
        elsewhere.display().to_string()
    );
    // ...which loses to --config.
    assert_eq!(
        discovered(
            doctor()
                .env("SECRET_CASCADE_CONFIG", &elsewhere)
                .arg("--config")
                .arg(&setup.config)
        ),
        setup.config.display().to_string()
    );
}

#[test]
fn no_value_appears_in_any_output() {
    // nested.yaml's values are distinctive; `visible` is stored in the clear under
    // `api.key_unencrypted`, and the env layer's value is set in the child's environment.
    let values = [
        "s3cr3t",
        "tok-123",
        "admin",
        "alpha",
        "héllo",
        "line one",
        "visible",
        "env-value-9f2c",
    ];
    let healthy = Setup::new("enc/nested.yaml", "key.txt");
    let wrong_key = Setup::new("enc/nested.yaml", "key2.txt");
    let tampered = Setup::new("enc/nested.yaml", "key.txt");
    let text = std::fs::read_to_string(&tampered.secrets).unwrap();
    std::fs::write(
        &tampered.secrets,
        text.replacen(
            "password: ENC[AES256_GCM,data:j",
            "password: ENC[AES256_GCM,data:k",
            1,
        ),
    )
    .unwrap();
    for (case, setup) in [
        ("healthy", &healthy),
        ("wrong key", &wrong_key),
        ("tampered", &tampered),
    ] {
        for json_flag in [false, true] {
            let mut cmd = setup.doctor();
            if json_flag {
                cmd.arg("--json");
            }
            let (code, stdout, stderr) = run(cmd.arg("-vv"));
            assert_eq!(code, i32::from(case != "healthy"), "{case}: {stdout}");
            for value in values {
                assert!(
                    !stdout.contains(value) && !stderr.contains(value),
                    "{case}: `{value}` leaked:\n{stdout}\n{stderr}"
                );
            }
        }
    }
}
