//! A core dump of the CLI taken as it exits (gdb's `gcore` at the `exit_group` system call) holds
//! no copy of a value in the process's memory: not the value it printed (whose only copy after
//! printing is in the pipe, in the kernel), not the file's other values.
//!
//! Vector registers, which hold the last bytes some `memcpy` moved, are dumped too; the tests
//! report what they hold but do not fail on it (docs/security.md).

mod support;

use std::path::Path;

use support::Sandbox;
use support::plaintext_scan::{CoreDump, Needle, SecretsFile, core_dump_at_exit};

/// Runs the CLI with `args` under gdb and checks its core; `printed` is what stdout must be, as
/// needles and the text between them.
fn assert_no_copy_in_core(args: &[&str], printed: impl Fn(&SecretsFile, &[u8]) -> bool) {
    let sandbox = Sandbox::new();
    let file = SecretsFile::new(&sandbox);
    let key_file = file.key_file.to_string_lossy().into_owned();
    let args: Vec<&str> = args
        .iter()
        .map(|arg| {
            if *arg == "CONFIG" {
                file.config.to_str().unwrap()
            } else {
                arg
            }
        })
        .collect();
    let core: CoreDump = core_dump_at_exit(
        sandbox.path(),
        Path::new(env!("CARGO_BIN_EXE_secret-cascade")),
        &args,
        &[("SOPS_AGE_KEY_FILE", key_file.as_str())],
        None,
    );
    assert!(
        printed(&file, &core.stdout),
        "`secret-cascade {}` printed something else; stderr: {}",
        args.join(" "),
        core.stderr
    );
    let in_registers: Vec<&str> = file
        .needles()
        .iter()
        .filter(|(_, needle)| needle.count_in(&core.notes) > 0)
        .map(|(name, _)| *name)
        .collect();
    if !in_registers.is_empty() {
        eprintln!("note: the dumped registers hold {in_registers:?} (not a failure)");
    }
    let leaks: Vec<String> = file
        .needles()
        .iter()
        .map(|(name, needle)| (name, needle.count_in(&core.memory)))
        .filter(|(_, count)| *count > 0)
        .map(|(name, count)| format!("{name} x{count}"))
        .collect();
    assert!(
        leaks.is_empty(),
        "`secret-cascade {}` left plaintext in its memory at exit: {}",
        args.join(" "),
        leaks.join(", ")
    );
}

/// `needle` then a newline, exactly.
fn is_line(needle: &Needle, stdout: &[u8]) -> bool {
    stdout
        .strip_suffix(b"\n")
        .is_some_and(|value| needle.is(value))
}

#[test]
fn get_leaves_no_value_in_its_core() {
    assert_no_copy_in_core(
        &["get", "--config", "CONFIG", "db.password"],
        |file, out| is_line(&file.password, out),
    );
}

#[test]
fn get_json_leaves_no_value_in_its_core() {
    assert_no_copy_in_core(
        &["get", "--config", "CONFIG", "db.password", "--json"],
        |file, out| {
            out.starts_with(b"{\"name\":\"db.password\"") && file.password.count_in(out) == 1
        },
    );
}

#[test]
fn get_of_a_map_leaves_no_value_in_its_core() {
    assert_no_copy_in_core(&["get", "--config", "CONFIG", "db"], |file, out| {
        out.starts_with(b"{\"user\":\"")
            && file.user.count_in(out) == 1
            && file.password.count_in(out) == 1
    });
}

#[test]
fn decrypt_leaves_no_value_in_its_core() {
    for output_type in ["yaml", "json"] {
        assert_no_copy_in_core(
            &["decrypt", "secrets.enc.yaml", "--output-type", output_type],
            |file, out| {
                file.needles()
                    .iter()
                    .all(|(_, needle)| needle.count_in(out) == 1)
            },
        );
    }
}
