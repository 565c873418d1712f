//! Writes never lose data: every value `set` or `encrypt` writes reads back as written in both
//! tools (ours and the real sops 3.11), or the write is refused and the file on disk is left as it
//! was; a symbolic link is written through, with the file's owner and group kept; a held edit lock
//! is waited for a bounded time, then named. Regressions of issue 9 ("Data loss").

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use support::interop::{KEY1, KEY2, Keys, Tool};
use support::{Sandbox, parallel_map, sops_bin};

/// `decrypt --output-type json` of `file` by both tools, parsed.
fn both_decrypt(sandbox: &Sandbox, file: &str) -> Result<[serde_json::Value; 2], String> {
    let args = ["decrypt", "--output-type", "json", file];
    let mut parsed = Vec::new();
    for (name, tool) in [("ours", Tool::Ours), ("sops", Tool::Sops)] {
        let run = tool.run(sandbox, Some(Keys::Both), &args, None);
        if run.code != 0 {
            return Err(format!("{name} cannot decrypt {file}: {}", run.failure()));
        }
        parsed.push(
            serde_json::from_slice(&run.stdout)
                .map_err(|e| format!("{name} printed invalid JSON for {file}: {e}"))?,
        );
    }
    Ok([parsed.remove(0), parsed.remove(0)])
}

/// A value at `path` (map keys) of a decrypted document.
fn at<'a>(document: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(document, |node, key| node.get(key))
        .and_then(|v| v.as_str())
}

/// A store, a cleartext file in it with one encrypted and one unencrypted value, and their paths.
struct Store {
    extension: &'static str,
    cleartext: &'static str,
    encrypted: &'static [&'static str],
    plain: &'static [&'static str],
}

const STORES: &[Store] = &[
    Store {
        extension: "yaml",
        cleartext: "app:\n    secret: one\n    note_unencrypted: two\n",
        encrypted: &["app", "secret"],
        plain: &["app", "note_unencrypted"],
    },
    Store {
        extension: "json",
        cleartext: "{\"app\": {\"secret\": \"one\", \"note_unencrypted\": \"two\"}}\n",
        encrypted: &["app", "secret"],
        plain: &["app", "note_unencrypted"],
    },
    Store {
        extension: "env",
        cleartext: "SECRET=one\nNOTE_unencrypted=two\n",
        encrypted: &["SECRET"],
        plain: &["NOTE_unencrypted"],
    },
    Store {
        extension: "ini",
        cleartext: "[app]\nsecret = one\nnote_unencrypted = two\n",
        encrypted: &["app", "secret"],
        plain: &["app", "note_unencrypted"],
    },
];

/// The rules each store is encrypted under: which values are encrypted (the same two either
/// way) and what the MAC covers (with `--mac-only-encrypted`, not the plaintext value, so that
/// only the comparison of values read back can catch a mangled one).
const RULES: &[&[&str]] = &[
    &[],
    &["--encrypted-regex", "^(secret|SECRET)$"],
    &["--mac-only-encrypted"],
];

/// Whether a store may refuse `value` unencrypted, by its reader's rules (not our writer's):
/// sops's dotenv reader turns every `\n` into a line break; go-ini takes a `"""` or backquoted
/// value up to the last closing quote on a line, and trims, cuts and unquotes any other, so only
/// a value holding `"""` or a backquote may lack a quoting that reads back. Every other value
/// must land, and whatever lands must read back in both tools.
fn store_may_refuse(extension: &str, value: &str) -> bool {
    match extension {
        "env" => value.contains("\\n"),
        "ini" => value.contains("\"\"\"") || value.contains('`'),
        _ => false,
    }
}

/// Sets `value` at the encrypted and at the unencrypted path of a fresh file in every store, and
/// checks that each `set` either lands and reads back as the value in both tools, or is refused
/// (exit 2, saying why) with the file unchanged.
fn set_reads_back_or_is_refused(value: &str) -> Vec<String> {
    let cases: Vec<(&Store, &[&str])> = STORES
        .iter()
        .flat_map(|store| RULES.iter().map(move |rule| (store, *rule)))
        .collect();
    parallel_map(&cases, |&(store, rule)| {
        let sandbox = Sandbox::new();
        let name = format!("clear.{}", store.extension);
        sandbox.write(&name, store.cleartext);
        let file = format!("secrets.enc.{}", store.extension);
        let mut args = vec!["encrypt", &name, "--age", KEY1, "--output", &file];
        args.extend(rule);
        let encrypt = Tool::Ours.run(&sandbox, Some(Keys::Both), &args, None);
        assert_eq!(encrypt.code, 0, "encrypt: {}", encrypt.failure());
        let mut problems = Vec::new();
        for (encrypted, path) in [(true, store.encrypted), (false, store.plain)] {
            let before = std::fs::read(sandbox.path().join(&file)).unwrap();
            // `set` takes the value from stdin with one trailing `\n` or `\r\n` removed.
            let stdin = if value.ends_with('\r') {
                value.to_owned()
            } else {
                format!("{value}\n")
            };
            let set = Tool::Ours.run(
                &sandbox,
                Some(Keys::Both),
                &["set", &file, &path.join(".")],
                Some(stdin.as_bytes()),
            );
            let label = format!("{} {rule:?} {path:?} = {value:?}", store.extension);
            if set.stderr.contains(value) && !value.trim().is_empty() && value.len() > 3 {
                problems.push(format!("{label}: set echoed the value: {}", set.stderr));
            }
            if set.code != 0 {
                let after = std::fs::read(sandbox.path().join(&file)).unwrap();
                if after != before {
                    problems.push(format!("{label}: a refused set changed the file"));
                }
                if set.code != 2 || !set.stderr.contains("back the same") {
                    problems.push(format!("{label}: set failed oddly: {}", set.failure()));
                }
                if encrypted || !store_may_refuse(store.extension, value) {
                    problems.push(format!(
                        "{label}: refused although the store can carry it: {}",
                        set.failure()
                    ));
                }
                continue;
            }
            match both_decrypt(&sandbox, &file) {
                Err(problem) => problems.push(format!("{label}: {problem}")),
                Ok(documents) => {
                    for (tool, document) in ["ours", "sops"].iter().zip(&documents) {
                        if at(document, path) != Some(value) {
                            problems.push(format!(
                                "{label}: {tool} reads back {:?}",
                                at(document, path)
                            ));
                        }
                    }
                }
            }
        }
        problems
    })
    .into_iter()
    .flatten()
    .collect()
}

/// Pieces of values that stores quote, escape, trim or cut.
const FRAGMENTS: &[&str] = &[
    "a", "x y", " ", "  ", "\t", "\"", "'", "`", "\\", "\\n", "\n", "#", ";", "=", ":", "[", "]",
    "\"\"\"", "ü", "${X}", "-0.0", "0x1F", "true", "~", "- ", "{}", "%", "\r",
];

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn set_values_read_back_in_both_tools_or_are_refused(
        pieces in prop::collection::vec(prop::sample::select(FRAGMENTS), 1..6)
    ) {
        sops_bin();
        let value: String = pieces.concat();
        let problems = set_reads_back_or_is_refused(&value);
        prop_assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

/// The values the issue found written so that neither tool could read the file.
#[test]
fn quoted_padded_backslash_and_newline_values_read_back_or_are_refused() {
    sops_bin();
    let mut problems = Vec::new();
    for value in [
        " x ",
        "  padded  ",
        "literal\\nbackslash-n",
        "two\nlines",
        "\"quoted\"",
        "'single'",
        "ends with a backslash\\",
        "a # not a comment ; either",
        "`back`\"\"\"",
    ] {
        problems.extend(set_reads_back_or_is_refused(value));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `encrypt` of an INI file whose unencrypted value is quoted to keep its spaces: sops reads it as
/// ` x `, and so must both tools after we encrypt it (we used to write it unquoted, and the
/// trimmed value failed the MAC, after `--shred` had destroyed the only copy).
#[test]
fn encrypting_a_quoted_padded_ini_value_keeps_it() {
    sops_bin();
    let sandbox = Sandbox::new();
    sandbox.write("app.ini", "[s]\nk_unencrypted = \" x \"\nk = \"  y  \"\n");
    let encrypt = Tool::Ours.run(
        &sandbox,
        Some(Keys::Both),
        &[
            "encrypt",
            "app.ini",
            "--age",
            KEY1,
            "--output",
            "app.enc.ini",
            "--shred",
        ],
        None,
    );
    assert_eq!(encrypt.code, 0, "{}", encrypt.failure());
    assert!(!sandbox.path().join("app.ini").exists(), "shredded");
    for document in both_decrypt(&sandbox, "app.enc.ini").unwrap() {
        assert_eq!(at(&document, &["s", "k_unencrypted"]), Some(" x "));
        assert_eq!(at(&document, &["s", "k"]), Some("  y  "));
    }
}

/// `encrypt` of a YAML file with an unencrypted `-0.0`: sops writes `-0` and cannot decrypt its
/// own file; ours writes `-0.0`, which both tools decrypt.
#[test]
fn an_unencrypted_negative_zero_reads_back() {
    sops_bin();
    let sandbox = Sandbox::new();
    sandbox.write("f.yaml", "zero_unencrypted: -0.0\nsecret: s\n");
    let encrypt = Tool::Ours.run(
        &sandbox,
        Some(Keys::Both),
        &["encrypt", "f.yaml", "--age", KEY1, "--output", "f.enc.yaml"],
        None,
    );
    assert_eq!(encrypt.code, 0, "{}", encrypt.failure());
    let [ours, sops] = both_decrypt(&sandbox, "f.enc.yaml").unwrap();
    assert_eq!(ours, sops);
    assert_eq!(ours["zero_unencrypted"].to_string(), "-0.0");
}

/// An encrypted file shared through a link: `shared/real.enc.yaml`, and `link.enc.yaml` to it.
fn linked_file(sandbox: &Sandbox) -> (PathBuf, PathBuf) {
    sandbox.write("clear.yaml", "db:\n    password: old\n");
    std::fs::create_dir(sandbox.path().join("shared")).unwrap();
    let encrypt = Tool::Ours.run(
        sandbox,
        Some(Keys::Both),
        &[
            "encrypt",
            "clear.yaml",
            "--age",
            &format!("{KEY1},{KEY2}"),
            "--output",
            "shared/real.enc.yaml",
        ],
        None,
    );
    assert_eq!(encrypt.code, 0, "{}", encrypt.failure());
    let link = sandbox.path().join("link.enc.yaml");
    std::os::unix::fs::symlink("shared/real.enc.yaml", &link).unwrap();
    (sandbox.path().join("shared/real.enc.yaml"), link)
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .unwrap()
        .file_type()
        .is_symlink()
}

#[test]
fn set_unset_and_rotate_write_through_a_symlink() {
    sops_bin();
    let sandbox = Sandbox::new();
    let (real, link) = linked_file(&sandbox);

    let set = Tool::Ours.run(
        &sandbox,
        Some(Keys::Both),
        &["set", "link.enc.yaml", "db.password"],
        Some(b"new"),
    );
    assert_eq!(set.code, 0, "{}", set.failure());
    assert!(is_link(&link), "the link stays a link");
    for document in both_decrypt(&sandbox, "shared/real.enc.yaml").unwrap() {
        assert_eq!(at(&document, &["db", "password"]), Some("new"));
    }

    let unset = Tool::Ours.run(
        &sandbox,
        Some(Keys::Both),
        &["unset", "link.enc.yaml", "db.password"],
        None,
    );
    assert_eq!(unset.code, 0, "{}", unset.failure());
    assert!(is_link(&link));
    for document in both_decrypt(&sandbox, "shared/real.enc.yaml").unwrap() {
        assert_eq!(at(&document, &["db", "password"]), None);
    }

    // Dropping a recipient must reach the shared file, or the dropped key still opens it.
    let rotate = Tool::Ours.run(
        &sandbox,
        Some(Keys::Both),
        &["rotate", "link.enc.yaml", "--rm-age", KEY2],
        None,
    );
    assert_eq!(rotate.code, 0, "{}", rotate.failure());
    assert!(is_link(&link));
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.contains(KEY1) && !text.contains(KEY2), "{text}");
    let strays: Vec<_> = std::fs::read_dir(sandbox.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("secret-cascade-"))
        .collect();
    assert!(
        strays.is_empty(),
        "no temporary file beside the link: {strays:?}"
    );
}

/// Run as root (as CI and these machines run), an edit keeps the file's owner and group, and its
/// mode, whoever they are.
#[test]
fn an_edit_by_root_keeps_the_owner_group_and_mode() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let sandbox = Sandbox::new();
    let (real, _) = linked_file(&sandbox);
    std::os::unix::fs::chown(&real, Some(4321), Some(8765)).unwrap_or_else(|e| {
        panic!("this test gives the file another owner, which needs root: {e}")
    });
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let set = Tool::Ours.run(
        &sandbox,
        Some(Keys::Both),
        &["set", "link.enc.yaml", "db.password"],
        Some(b"new"),
    );
    assert_eq!(set.code, 0, "{}", set.failure());
    let metadata = std::fs::metadata(&real).unwrap();
    assert_eq!((metadata.uid(), metadata.gid()), (4321, 8765));
    assert_eq!(metadata.mode() & 0o7777, 0o640);
}

/// `encrypt --output` onto a link to a world-readable file: the new ciphertext replaces the file
/// the link names, with mode 0600, not the old file's 0644.
#[test]
fn encrypt_output_onto_a_link_does_not_copy_a_loose_mode() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    sandbox.write("clear.yaml", "password: p\n");
    let target = sandbox.write("old.enc.yaml", "old\n");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = sandbox.path().join("out.enc.yaml");
    std::os::unix::fs::symlink("old.enc.yaml", &link).unwrap();
    let encrypt = Tool::Ours.run(
        &sandbox,
        Some(Keys::Both),
        &[
            "encrypt",
            "clear.yaml",
            "--age",
            KEY1,
            "--output",
            "out.enc.yaml",
        ],
        None,
    );
    assert_eq!(encrypt.code, 0, "{}", encrypt.failure());
    assert!(is_link(&link));
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(&target).unwrap().contains("sops:"));
}

/// Someone else holds the folder's edit lock (here `flock`, from util-linux, the way any user who
/// can read the folder could): `set` waits `--lock-timeout`, then fails naming the lock, and the
/// file is unchanged. Under a watchdog: before the fix it waited forever.
#[test]
fn a_held_edit_lock_is_waited_for_a_bounded_time_then_named() {
    let sandbox = Sandbox::new();
    let (real, _) = linked_file(&sandbox);
    let folder = real.parent().unwrap();
    let mut holder = Command::new("flock")
        .arg(folder)
        .args(["sleep", "60"])
        .spawn()
        .expect("flock (util-linux) runs");
    // Wait until the holder has the lock: a non-blocking attempt from here fails.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Command::new("flock")
        .args(["--nonblock"])
        .arg(folder)
        .arg("true")
        .status()
        .unwrap()
        .success()
    {
        assert!(Instant::now() < deadline, "flock never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = std::fs::read(&real).unwrap();
    for (args, env) in [(vec!["--lock-timeout", "0.3"], None), (vec![], Some("0.3"))] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_secret-cascade"));
        command
            .args(["set", "link.enc.yaml", "db.password"])
            .args(&args)
            .current_dir(sandbox.path())
            .env("SOPS_AGE_KEY_FILE", Keys::Both.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(seconds) = env {
            command.env("SECRET_CASCADE_LOCK_TIMEOUT", seconds);
        }
        let mut child = command.spawn().unwrap();
        child.stdin.take().unwrap().write_all(b"new").unwrap();
        let status = support::secret_service::wait_bounded(&mut child, Duration::from_secs(20))
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("set waited more than 20 s for a held lock")
            });
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(
            !stderr.contains("new"),
            "the value is never echoed: {stderr}"
        );
        assert!(
            stderr.contains("edit lock") && stderr.contains("folder ./shared"),
            "{stderr}"
        );
        assert_eq!(
            std::fs::read(&real).unwrap(),
            before,
            "the file is unchanged"
        );
    }
    let _ = holder.kill();
    let _ = holder.wait();
}
