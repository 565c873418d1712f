//! `secret-cascade shred`: overwriting through the same inode, refusals and exit codes.
//!
//! The overwrite is seen through a hard link: after `shred` unlinks the file's name, a second
//! name still reaches the same inode and shows what the passes left there.

mod support;

use std::path::{Path, PathBuf};

use support::{Sandbox, run};

/// Not a multiple of any block or chunk size, so a pass that rounds up or stops short shows.
const LENGTH: usize = 200_003;

/// Writes a file of known content and a hard link to it; returns (file, link, content).
fn file_with_hard_link(sandbox: &Sandbox) -> (PathBuf, PathBuf, Vec<u8>) {
    let content: Vec<u8> = b"password=hunter2\n"
        .iter()
        .copied()
        .cycle()
        .take(LENGTH)
        .collect();
    let file = sandbox.path().join("secrets.env");
    std::fs::write(&file, &content).unwrap();
    let link = sandbox.path().join("other-name");
    std::fs::hard_link(&file, &link).unwrap();
    (file, link, content)
}

/// Panics unless coreutils `shred` is on PATH: the `command` method must be tested, never skipped.
fn require_coreutils_shred() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|dir| dir.join("shred").is_file());
    assert!(
        found,
        "GNU coreutils `shred` is not on PATH; these tests need it (apt-get install coreutils)"
    );
}

fn assert_all_zeros_of_length(path: &Path, length: usize) {
    let after = std::fs::read(path).unwrap();
    assert_eq!(after.len(), length, "the length changed");
    assert!(
        after.iter().all(|&byte| byte == 0),
        "not all zeros after the last pass"
    );
}

fn assert_random_not_original(path: &Path, original: &[u8]) {
    let after = std::fs::read(path).unwrap();
    assert_eq!(after.len(), original.len(), "the length changed");
    assert!(after.iter().any(|&byte| byte != 0), "all zeros");
    assert_ne!(after, original, "the content was not overwritten");
    // Random bytes share a position with the repeating original about once in 256.
    let same = after.iter().zip(original).filter(|(a, b)| a == b).count();
    assert!(same < original.len() / 50, "{same} bytes still match");
}

#[test]
fn native_shred_leaves_zeros_of_the_same_length_in_the_inode() {
    for method in [None, Some("overwrite"), Some("auto")] {
        let sandbox = Sandbox::new();
        let (file, link, _) = file_with_hard_link(&sandbox);
        let mut cli = sandbox.cli();
        cli.args(["shred", "secrets.env", "--force"]);
        if let Some(method) = method {
            cli.args(["--method", method]);
        }
        let (code, stdout, stderr) = run(&mut cli);
        assert_eq!(code, 0, "{method:?}: {stderr}");
        assert_eq!(
            stdout,
            format!("secrets.env: shredded ({LENGTH} bytes, 3 passes) and removed\n")
        );
        assert!(!file.exists());
        assert_all_zeros_of_length(&link, LENGTH);
    }
}

#[test]
fn command_shred_leaves_zeros_of_the_same_length_in_the_inode() {
    require_coreutils_shred();
    for passes in ["1", "3"] {
        let sandbox = Sandbox::new();
        let (file, link, _) = file_with_hard_link(&sandbox);
        let (code, stdout, stderr) = run(sandbox.cli().args([
            "shred",
            "secrets.env",
            "--force",
            "--method",
            "command",
            "--passes",
            passes,
        ]));
        assert_eq!(code, 0, "{stderr}");
        let noun = if passes == "1" { "pass" } else { "passes" };
        assert!(stdout.contains(&format!("{passes} {noun})")), "{stdout}");
        assert!(!file.exists());
        assert_all_zeros_of_length(&link, LENGTH);
    }
}

#[test]
fn without_zero_last_pass_the_inode_holds_random_bytes_of_the_same_length() {
    require_coreutils_shred();
    for method in ["overwrite", "command"] {
        let sandbox = Sandbox::new();
        let (file, link, original) = file_with_hard_link(&sandbox);
        let (code, _, stderr) = run(sandbox.cli().args([
            "shred",
            "secrets.env",
            "--force",
            "--no-zero-last-pass",
            "--passes",
            "1",
            "--method",
            method,
        ]));
        assert_eq!(code, 0, "{method}: {stderr}");
        assert!(!file.exists());
        assert_random_not_original(&link, &original);
    }
}

#[test]
fn the_last_of_zero_flags_wins() {
    let sandbox = Sandbox::new();
    let (_, link, original) = file_with_hard_link(&sandbox);
    let (code, _, stderr) = run(sandbox.cli().args([
        "shred",
        "secrets.env",
        "--force",
        "--zero-last-pass",
        "--no-zero-last-pass",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_random_not_original(&link, &original);

    let sandbox = Sandbox::new();
    let (_, link, _) = file_with_hard_link(&sandbox);
    let (code, _, stderr) = run(sandbox.cli().args([
        "shred",
        "secrets.env",
        "--force",
        "--no-zero-last-pass",
        "--zero-last-pass",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_all_zeros_of_length(&link, LENGTH);
}

#[test]
fn a_missing_file_is_already_removed_and_not_created() {
    let sandbox = Sandbox::new();
    for method in ["auto", "command"] {
        // No --force and no terminal: nothing to confirm when there is nothing to shred.
        let (code, stdout, stderr) = run(sandbox
            .cli()
            .args(["shred", "gone.env", "--method", method]));
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(stdout, "gone.env: already removed\n");
        assert!(!sandbox.path().join("gone.env").exists());
    }
}

#[test]
fn a_directory_is_refused_and_kept() {
    let sandbox = Sandbox::new();
    sandbox.write("folder/inside.txt", "keep");
    let (code, _, stderr) = run(sandbox.cli().args(["shred", "folder", "--force"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("folder") && stderr.contains("is a directory"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("folder/inside.txt")).unwrap(),
        "keep"
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_is_refused_and_neither_it_nor_its_target_is_touched() {
    let sandbox = Sandbox::new();
    let target = sandbox.write("real.env", "TOKEN=keep-me\n");
    let link = sandbox.path().join("alias.env");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for method in ["auto", "command"] {
        let (code, _, stderr) =
            run(sandbox
                .cli()
                .args(["shred", "alias.env", "--force", "--method", method]));
        assert_eq!(code, 2, "{method}");
        assert!(
            stderr.contains("alias.env") && stderr.contains("symbolic link"),
            "{stderr}"
        );
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read_link(&link).unwrap(), target);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "TOKEN=keep-me\n");
    }
}

#[test]
fn without_force_and_without_a_terminal_it_refuses_and_says_to_pass_force() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("secrets.env", "API_KEY=untouched\n");
    let (code, stdout, stderr) = run(sandbox.cli().args(["shred", "secrets.env"]));
    assert_eq!(code, 2);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("secrets.env") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "API_KEY=untouched\n"
    );
}

#[test]
fn zero_passes_is_a_usage_error() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("secrets.env", "API_KEY=untouched\n");
    for args in [
        &["--passes", "0"][..],
        &["--passes", "-1"],
        &["--method", "wipe"],
    ] {
        let (code, _, stderr) = run(sandbox
            .cli()
            .args(["shred", "secrets.env", "--force"])
            .args(args));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "API_KEY=untouched\n"
        );
    }
    let (code, _, stderr) =
        run(sandbox
            .cli()
            .args(["shred", "absent.env", "--force", "--passes", "0"]));
    assert_eq!(code, 2, "a bad option is not `already removed`: {stderr}");
    assert!(stderr.contains("at least 1"), "{stderr}");
}

#[test]
fn command_method_without_shred_on_path_fails_and_leaves_the_file() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("secrets.env", "API_KEY=untouched\n");
    let empty_bin = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(sandbox
        .cli()
        .args(["shred", "secrets.env", "--force", "--method", "command"])
        .env("PATH", empty_bin.path()));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("`shred`") && stderr.contains("secrets.env"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "API_KEY=untouched\n"
    );
}

#[test]
fn help_shows_examples_and_what_is_not_guaranteed() {
    let sandbox = Sandbox::new();
    let (code, stdout, _) = run(sandbox.cli().args(["shred", "--help"]));
    assert_eq!(code, 0);
    for needle in [
        "Examples:",
        "secret-cascade shred secrets.yaml",
        "Not guaranteed",
        "--no-zero-last-pass",
        "--force",
    ] {
        assert!(stdout.contains(needle), "{needle} missing from {stdout}");
    }
}
