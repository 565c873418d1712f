//! `secret-cascade edit`: the editor gets the cleartext in a private scratch file, what changed
//! is encrypted back (the real sops reads the result), and the scratch file is wiped and removed
//! whatever happens: no change, invalid cleartext, a failing editor, a signal, a file changed by
//! someone else meanwhile.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::interop::{FIXTURES, Keys, Tool};
use support::{Sandbox, run};

/// A sandbox with `secrets.enc.yaml` (sops's `nested.yaml`) and an editor script whose body is
/// `script` (sh; `$1` is the scratch file). The script first records the scratch file's path and
/// its folder's and its own modes in `seen.txt`.
fn setup(script: &str) -> (Sandbox, PathBuf, PathBuf) {
    let sandbox = Sandbox::new();
    let file = sandbox.write_bytes(
        "secrets.enc.yaml",
        &std::fs::read(Path::new(FIXTURES).join("enc/nested.yaml")).unwrap(),
    );
    let seen = sandbox.path().join("seen.txt");
    let editor = sandbox.write(
        "editor.sh",
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" \"$(stat -c %a \"$(dirname \"$1\")\")\" \"$(stat -c %a \"$1\")\" > {}\n{script}\n",
            seen.display()
        ),
    );
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    (sandbox, file, editor)
}

fn edit(sandbox: &Sandbox, editor: &Path) -> assert_cmd::Command {
    let mut cmd = sandbox.cli();
    cmd.env("SOPS_AGE_KEY_FILE", Keys::One.path())
        .env_remove("VISUAL")
        .env("EDITOR", editor)
        .args(["edit", "secrets.enc.yaml"]);
    cmd
}

/// The scratch path the editor saw, after checking that it was private and is gone.
#[track_caller]
fn scratch_was_private_and_is_gone(sandbox: &Sandbox) -> PathBuf {
    let seen = std::fs::read_to_string(sandbox.path().join("seen.txt")).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    let scratch = PathBuf::from(lines[0]);
    assert_eq!(&lines[1..], ["700", "600"], "folder and file modes: {seen}");
    if Path::new("/dev/shm").is_dir() {
        assert!(
            scratch.starts_with("/dev/shm"),
            "on tmpfs: {}",
            scratch.display()
        );
    }
    assert!(
        scratch.ends_with("secrets.yaml"),
        "named for the editor: {}",
        scratch.display()
    );
    assert!(!scratch.exists(), "the scratch file is removed");
    assert!(!scratch.parent().unwrap().exists(), "and its folder");
    scratch
}

#[test]
fn a_changed_value_is_encrypted_back_and_the_rest_keeps_its_ciphertext() {
    let (sandbox, file, editor) = setup("sed -i 's/password: .*/password: n3w-pa55/' \"$1\"");
    let before = std::fs::read_to_string(&file).unwrap();
    let (code, stdout, stderr) = run(&mut edit(&sandbox, &editor));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.is_empty() && !stderr.contains("n3w-pa55"),
        "{stdout}{stderr}"
    );
    scratch_was_private_and_is_gone(&sandbox);
    let after = std::fs::read_to_string(&file).unwrap();
    let changed: Vec<&str> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.trim_start())
        .collect();
    assert!(
        changed.iter().all(|line| line.starts_with("password:")
            || line.starts_with("lastmodified:")
            || line.starts_with("mac:")),
        "only the password, lastmodified and the MAC change: {changed:?}"
    );
    let sops = Tool::Sops
        .decrypt(&sandbox, Keys::One, &file, &[])
        .expect_ok();
    assert!(String::from_utf8_lossy(&sops.stdout).contains("password: n3w-pa55"));
}

#[test]
fn an_unchanged_file_is_not_rewritten() {
    let (sandbox, file, editor) = setup("true");
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    let bytes = std::fs::read(&file).unwrap();
    let (code, _, stderr) = run(&mut edit(&sandbox, &editor));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("no changes"), "{stderr}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        before
    );
    scratch_was_private_and_is_gone(&sandbox);
}

#[test]
fn invalid_cleartext_or_a_failing_editor_changes_nothing() {
    for (script, code, words) in [
        ("printf 'a: [\\n' > \"$1\"", 2, "not valid YAML"),
        ("printf 'sops: x\\n' > \"$1\"", 2, "already"),
        ("exit 3", 1, "exited with"),
    ] {
        let (sandbox, file, editor) = setup(script);
        let bytes = std::fs::read(&file).unwrap();
        let (got, _, stderr) = run(edit(&sandbox, &editor).write_stdin(""));
        assert_eq!(got, code, "{script}: {stderr}");
        assert!(stderr.contains(words), "{script}: {stderr}");
        assert_eq!(std::fs::read(&file).unwrap(), bytes, "{script}");
        scratch_was_private_and_is_gone(&sandbox);
    }
}

#[test]
fn a_file_changed_by_someone_else_meanwhile_is_not_overwritten() {
    let other = Path::new(FIXTURES).join("enc/simple.yaml");
    let (sandbox, file, editor) = setup(&format!(
        "cp {} secrets.enc.yaml\nsed -i 's/password: .*/password: mine/' \"$1\"",
        other.display()
    ));
    let (code, _, stderr) = run(&mut edit(&sandbox, &editor));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("changed while it was being edited"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), std::fs::read(other).unwrap());
    scratch_was_private_and_is_gone(&sandbox);
}

#[test]
fn a_signal_while_editing_wipes_the_scratch_file_and_saves_nothing() {
    let (sandbox, file, editor) = setup("sed -i 's/password: .*/password: x/' \"$1\"\nsleep 30");
    let bytes = std::fs::read(&file).unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("secret-cascade"));
    cmd.current_dir(sandbox.path())
        .env("HOME", sandbox.path().join("home"))
        .env("XDG_CONFIG_HOME", sandbox.path().join("xdg"))
        .env("SOPS_AGE_KEY_FILE", Keys::One.path())
        .env_remove("VISUAL")
        .env("EDITOR", &editor)
        .args(["edit", "secrets.enc.yaml"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group, as a terminal's foreground job: the signal reaches the editor too.
        .process_group(0);
    let child = cmd.spawn().unwrap();
    let seen = sandbox.path().join("seen.txt");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.exists() {
        assert!(Instant::now() < deadline, "the editor never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let group = format!("-{}", child.id());
    let killed = std::process::Command::new("kill")
        .args(["-TERM", "--", &group])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "nothing saved");
    scratch_was_private_and_is_gone(&sandbox);
}
