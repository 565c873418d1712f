//! Files that secret-cascade WRITES, read by the real sops 3.11 and compared with what sops itself
//! writes from the same input: `encrypt`, `set`, `unset`, `rotate`, `.sops.yaml` creation rules,
//! atomicity under concurrent edits and SIGKILL, and failed edits that lose nothing.
//!
//! The sops binary is `$SOPS_BIN` (`scripts/test` sets it from `scripts/install-sops`). Without it,
//! or if it does not run as sops 3.11, every test here panics: interop is never skipped. Each run
//! of either tool happens in a fresh sandbox, with `SOPS_AGE_KEY_FILE` (a fixture key file) as its
//! only age identities and no other `SOPS_*` variable; `$HOME` and `$XDG_CONFIG_HOME` point into
//! the sandbox. Both tools get the same flags, spelled as sops spells them (sops takes them before
//! the file, ours after it).
//!
//! # What is covered
//!
//! * [`encrypting_plain_fixtures_matches_sops_encrypt`]: every file of `fixtures/sops/plain/` with
//!   the default rule, and the selection rules (`--unencrypted-suffix`, `--encrypted-suffix`,
//!   `--encrypted-regex`, `--unencrypted-regex`, `--mac-only-encrypted`, the comment regexes) on
//!   the fixtures whose keys or comments they act on ([`RULES`] lists which). `blob.bin` goes
//!   through the binary store (`--input-type binary --output-type binary`). Ours and `sops encrypt`
//!   encrypt the same input; both results are decrypted by sops, and ours by ours too.
//! * [`set_matches_sops_set`] and [`unset_matches_sops_unset`]: edits of sops-written fixtures,
//!   ours (`printf VALUE | secret-cascade set FILE NAME`) against `sops set FILE PATH JSON` and
//!   `sops unset FILE PATH`.
//! * `rotate`: against `sops rotate -i`; recipients added and removed; a Shamir file.
//! * `.sops.yaml` creation rules, found walking up from the FILE's folder.
//! * Atomicity: 8 concurrent `set`s of different keys all land; a `set` SIGKILLed at 20 different
//!   moments (of a 2000-key file) leaves a file that sops decrypts to the old or the new tree,
//!   never anything else (a file whose bytes did not change is not decrypted again). Stray
//!   `.NAME.secret-cascade-*` temporary files are allowed after a kill, nothing else.
//! * Failed edits (tampered file, wrong key, missing name, a path through a value) exit with the
//!   documented code, leave the file byte for byte unchanged, and never echo the value.
//!
//! # How outputs are compared
//!
//! * **Plaintext**: `sops decrypt` of our file must print exactly the bytes `sops decrypt` prints
//!   for sops's own file, and `secret-cascade decrypt` of our file the same bytes again.
//! * **Encrypted files, normalized** ([`normalized`]): every
//!   `ENC[AES256_GCM,data:…,iv:…,tag:…,type:T]` becomes `ENC[T]`, every age armor (a YAML
//!   `enc: |` block over several lines, or one `-----BEGIN…END-----` value in JSON, dotenv and
//!   INI) becomes `<armor>`, and the `lastmodified` and `mac` values are blanked. What remains must
//!   be byte-identical: which values are encrypted and with which type, comments, quoting,
//!   indentation, key order, the metadata layout. INI lines are compared sorted, because sops writes
//!   its `[sops]` section in random order. The armor is dropped because its bytes are random and
//!   its length differs: the `age` crate adds a grease stanza that Go's age does not.
//! * **Edited files**: an edit keeps the data key, so every value it does not touch must keep its
//!   ciphertext byte for byte, in ours as in sops's. Each case states how many of the original's
//!   `ENC[…]` values the edit removes (the replaced value, or the removed subtree); ours must remove
//!   exactly those sops removes, and keep every other one verbatim. Then both files are normalized
//!   keeping those original `ENC[…]` values and the armor verbatim (only new ciphertexts become
//!   `ENC[T]`), and must be identical.
//!
//! # Known differences, on purpose
//!
//! * sops 3.11 cannot give back an unencrypted `-0.0`: it hashes the float as `-0` but writes it
//!   as `-0`, which reads back as the int 0 (SOPS_FORMAT.md §8), so it cannot decrypt the file,
//!   or, with `--mac-only-encrypted`, decrypts `0`. Ours writes `-0.0`, which both tools read back
//!   as written. [`SOPS_LOSES_NEGATIVE_ZERO`] lists the cases; the test checks that sops still
//!   fails on its own file (so the list stays true) and that both tools read ours alike.
//! * sops finds `.sops.yaml` walking up from the current directory, ours walking up from FILE's
//!   folder; both match `path_regex` against the input FILE's path (not `--output`).
//! * A multi-document YAML file written as JSON: sops keeps the first document only and writes a
//!   file it cannot decrypt (MAC mismatch); ours refuses.
//! * `rotate --add-age R` where R is already a recipient: sops adds a duplicate entry, ours does not
//!   (not compared).
//!
//! # Binary input, empty and null documents, rewritten metadata
//!
//! Where sops behaves in a way worth pinning, a test says so:
//! [`binary_input_is_always_encrypted_whatever_the_rule_like_sops`],
//! [`an_empty_yaml_file_is_refused_like_sops`],
//! [`a_null_yaml_document_is_encrypted_as_an_empty_map_like_sops`] and
//! [`rewriting_a_binary_store_file_states_the_default_rule_like_sops`]. The encrypt matrix leaves
//! out `blob.bin` under the non-default rules: the first of these covers them.

mod support;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::{Barrier, OnceLock};
use std::time::Instant;

use regex::Regex;
use support::interop::{
    FIXTURES, KEY1, KEY2, Keys, Run, Tool, bytes_difference, environment, fixture_names,
    lines_difference,
};
use support::{Sandbox, parallel_map, sops_bin};

/// Command-line arguments from strings and paths alike.
macro_rules! args {
    ($($arg:expr),* $(,)?) => { [$(s($arg)),*] };
}

/// secret-cascade's exit codes.
const EXIT_MISSING: i32 = 1;
const EXIT_USAGE: i32 = 2;
const EXIT_DECRYPTION: i32 = 3;
/// Never appears in any output of a failing `set`.
const SENTINEL: &str = "SENTINEL-do-not-echo-7f3a9c";

// =============================================================================================
// 1. encrypt

/// A selection rule, the fixtures it is tried on, and how sops takes it.
struct RuleCase {
    flags: &'static [&'static str],
    /// `--mac-only-encrypted` and the comment regexes exist only on sops's top-level command
    /// (`sops FLAGS --encrypt FILE`), not on `sops encrypt`.
    top_level_only: bool,
    files: &'static [&'static str],
}

/// Fixtures with keys the key-based rules select: `password`, `token`, `user`, `port`,
/// `_unencrypted` (and `edge_noinf.yaml`, where leaving `-0.0` unencrypted meets the sops bug).
const KEYED: &[&str] = &[
    "nested.yaml",
    "data.json",
    "app.env",
    "app.ini",
    "comments.ini",
    "multidoc.yaml",
    "edge_noinf.yaml",
    "commentregex2.yaml",
];

/// Fixtures whose unencrypted scalars show how each type is written back and hashed.
const SCALARS: &[&str] = &[
    "edge.yaml",
    "edge_plainvals_finite.yaml",
    "edge_plainvals_nonegzero.yaml",
    "floats.yaml",
    "inf.yaml",
    "dates.yaml",
    "times.yaml",
    "binary.yaml",
    "emptystr.yaml",
    "emptystr.json",
    "data.json",
    "quirks.env",
    "toplevel.ini",
    "multidoc.yaml",
];

/// The default rule runs on every plain fixture; these on the files listed.
const RULES: &[RuleCase] = &[
    RuleCase {
        flags: &["--unencrypted-suffix", "_unencrypted"],
        top_level_only: false,
        files: KEYED,
    },
    RuleCase {
        flags: &["--unencrypted-suffix", "_unenc"],
        top_level_only: false,
        files: &["times.yaml", "dates.yaml"],
    },
    RuleCase {
        flags: &["--encrypted-suffix", "word"],
        top_level_only: false,
        files: KEYED,
    },
    RuleCase {
        flags: &["--encrypted-regex", "^(password|token)$"],
        top_level_only: false,
        files: KEYED,
    },
    RuleCase {
        flags: &["--unencrypted-regex", "^(user|port)$"],
        top_level_only: false,
        files: KEYED,
    },
    RuleCase {
        flags: &["--unencrypted-regex", "."],
        top_level_only: false,
        files: SCALARS,
    },
    RuleCase {
        flags: &[
            "--mac-only-encrypted",
            "--encrypted-regex",
            "^(password|token)$",
        ],
        top_level_only: true,
        files: KEYED,
    },
    RuleCase {
        flags: &["--encrypted-comment-regex", "sops:enc"],
        top_level_only: true,
        files: &["commentregex.yaml", "commentregex2.yaml", "nested.yaml"],
    },
    RuleCase {
        flags: &["--unencrypted-comment-regex", "sops:plain"],
        top_level_only: true,
        files: &["commentregex_unenc.yaml", "nested.yaml"],
    },
];

/// (fixture, rule flags) where sops cannot give back the file it wrote itself: an unencrypted
/// `-0.0` (SOPS_FORMAT.md §8). Ours writes `-0.0` where sops writes `-0`, and reads back.
const SOPS_LOSES_NEGATIVE_ZERO: &[(&str, &str)] = &[
    ("edge_noinf.yaml", "--encrypted-suffix word"),
    ("edge_noinf.yaml", "--encrypted-regex ^(password|token)$"),
    (
        "edge_noinf.yaml",
        "--mac-only-encrypted --encrypted-regex ^(password|token)$",
    ),
    ("edge.yaml", "--unencrypted-regex ."),
];

#[test]
fn encrypting_plain_fixtures_matches_sops_encrypt() {
    sops_bin();
    let files = fixture_names("plain");
    let default = RuleCase {
        flags: &[],
        top_level_only: false,
        files: &[],
    };
    let mut cases: Vec<(String, &RuleCase)> = files.iter().map(|f| (f.clone(), &default)).collect();
    for rule in RULES {
        for file in rule.files {
            assert!(
                files.iter().any(|f| f == file),
                "RULES names {file}, which is not in fixtures/sops/plain"
            );
            cases.push(((*file).to_owned(), rule));
        }
    }
    for (file, flags) in SOPS_LOSES_NEGATIVE_ZERO {
        assert!(
            cases
                .iter()
                .any(|(f, rule)| f == file && rule.flags.join(" ") == *flags),
            "SOPS_LOSES_NEGATIVE_ZERO names ({file}, {flags}), which is not a case"
        );
    }
    let problems: Vec<String> = parallel_map(&cases, |(file, rule)| check_encrypt(file, rule))
        .into_iter()
        .flatten()
        .collect();
    assert!(
        problems.is_empty(),
        "{} problem(s) over {} encrypt cases (\"expected\" is sops's):\n\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n\n")
    );
}

/// Everything wrong with encrypting one plain fixture under one rule.
fn check_encrypt(file: &str, rule: &RuleCase) -> Vec<String> {
    let label = match rule.flags {
        [] => format!("{file} [default]"),
        flags => format!("{file} [{}]", flags.join(" ")),
    };
    let sandbox = Sandbox::new();
    let input = Path::new(FIXTURES).join("plain").join(file);
    // The binary store: sops picks it for unknown extensions too, but say it, as users do.
    let types: &[&str] = if file == "blob.bin" {
        &["--input-type", "binary", "--output-type", "binary"]
    } else {
        &[]
    };
    let mut sops_args = if rule.top_level_only {
        strings(rule.flags)
            .into_iter()
            .chain(args!["--encrypt", "--age", KEY1])
            .collect()
    } else {
        let mut a = args!["encrypt", "--age", KEY1].to_vec();
        a.extend(strings(rule.flags));
        a
    };
    sops_args.extend(strings(types));
    sops_args.push(s(&input));
    let mut ours_args = args!["encrypt", &input, "--age", KEY1].to_vec();
    ours_args.extend(strings(types));
    ours_args.extend(strings(rule.flags));

    let sops = Tool::Sops.run(&sandbox, None, &sops_args, None);
    if !sops.ok() {
        return vec![format!(
            "{label}: sops itself cannot encrypt it: {}",
            sops.failure()
        )];
    }
    let ours = Tool::Ours.run(&sandbox, None, &ours_args, None);
    if !ours.ok() {
        return vec![format!("{label}: {}", ours.failure())];
    }
    // The same file name in two folders: both tools pick the store by extension.
    let sops_file = sandbox.write_bytes(&format!("sops/{file}"), &sops.stdout);
    let ours_file = sandbox.write_bytes(&format!("ours/{file}"), &ours.stdout);

    let mut problems = Vec::new();
    let ini = file.ends_with(".ini");
    let ours_as_sops = normalized(&negative_zero_as_sops_writes_it(&ours.stdout), ini, None);
    if let Some(diff) = lines_difference(&normalized(&sops.stdout, ini, None), &ours_as_sops) {
        problems.push(format!(
            "{label}: the encrypted files differ (normalized): {diff}"
        ));
    }

    let key = Some(Keys::One);
    let sops_of_sops = Tool::Sops.run(&sandbox, key, &args!["decrypt", &sops_file], None);
    let sops_of_ours = Tool::Sops.run(&sandbox, key, &args!["decrypt", &ours_file], None);
    let ours_of_ours = Tool::Ours.run(&sandbox, key, &args!["decrypt", &ours_file], None);
    let rejected = SOPS_LOSES_NEGATIVE_ZERO
        .iter()
        .any(|(f, flags)| *f == file && rule.flags.join(" ") == *flags);
    if rejected {
        if sops_of_sops.ok() && sops_of_sops.stdout == ours_of_ours.stdout {
            problems.push(format!(
                "{label}: listed in SOPS_LOSES_NEGATIVE_ZERO, but sops gives back its own file"
            ));
        }
        for (what, run) in [
            ("sops decrypt of our file", &sops_of_ours),
            ("our decrypt of our file", &ours_of_ours),
        ] {
            if !run.ok() {
                problems.push(format!("{label}: {what}: {}", run.failure()));
            }
        }
        if let Some(diff) = bytes_difference(
            &sops_of_ours.stdout,
            &negative_zero_as_sops_writes_it(&ours_of_ours.stdout),
        ) {
            problems.push(format!(
                "{label}: the tools read our file differently: {diff}"
            ));
        }
        return problems;
    }
    if !sops_of_sops.ok() {
        problems.push(format!(
            "{label}: sops cannot decrypt its own output ({}); if that is a sops bug, list the \
             case in SOPS_LOSES_NEGATIVE_ZERO",
            sops_of_sops.failure()
        ));
        return problems;
    }
    for (what, run) in [
        ("sops decrypt of our file", &sops_of_ours),
        ("our decrypt of our file", &ours_of_ours),
    ] {
        if !run.ok() {
            problems.push(format!("{label}: {what}: {}", run.failure()));
        } else if let Some(diff) = bytes_difference(
            &sops_of_sops.stdout,
            &negative_zero_as_sops_writes_it(&run.stdout),
        ) {
            problems.push(format!(
                "{label}: {what} differs from sops decrypt of sops's file: {diff}"
            ));
        }
    }
    problems
}

/// YAML text with `-0.0` at the end of a line written `-0`, as go-yaml writes negative zero: the
/// one place ours writes YAML differently on purpose (see [`SOPS_LOSES_NEGATIVE_ZERO`]).
fn negative_zero_as_sops_writes_it(bytes: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    text.split_inclusive('\n')
        .map(|line| match line.strip_suffix(" -0.0\n") {
            Some(head) => format!("{head} -0\n"),
            None => line.to_owned(),
        })
        .collect::<String>()
        .into_bytes()
}

/// sops ignores every selection rule (and `--mac-only-encrypted`) for the binary store, with a
/// warning: its one value, `data`, is always encrypted and no rule is written into the metadata.
#[test]
fn binary_input_is_always_encrypted_whatever_the_rule_like_sops() {
    sops_bin();
    let sandbox = Sandbox::new();
    let input = Path::new(FIXTURES).join("plain/blob.bin");
    let blob = std::fs::read(&input).unwrap();
    let rules: &[&[&str]] = &[
        &["--encrypted-regex", "^(password|token)$"],
        &["--encrypted-suffix", "word"],
        &["--unencrypted-regex", "."],
        &["--unencrypted-suffix", "_unenc"],
        &["--mac-only-encrypted"],
        &["--encrypted-comment-regex", "sops:enc"],
    ];
    let mut problems = Vec::new();
    for (index, flags) in rules.iter().enumerate() {
        let label = flags.join(" ");
        let types = ["--input-type", "binary", "--output-type", "binary"];
        let mut sops_args = strings(flags);
        sops_args.extend(args!["--encrypt", "--age", KEY1]);
        sops_args.extend(strings(&types));
        sops_args.push(s(&input));
        let sops = Tool::Sops.run(&sandbox, None, &sops_args, None).expect_ok();
        let mut ours_args = args!["encrypt", &input, "--age", KEY1].to_vec();
        ours_args.extend(strings(&types));
        ours_args.extend(strings(flags));
        let ours = Tool::Ours.run(&sandbox, None, &ours_args, None).expect_ok();
        if let Some(diff) = lines_difference(
            &normalized(&sops.stdout, false, None),
            &normalized(&ours.stdout, false, None),
        ) {
            problems.push(format!("[{label}] the encrypted files differ: {diff}"));
        }
        let ours_file = sandbox.write_bytes(&format!("ours{index}.bin"), &ours.stdout);
        let decrypted = Tool::Sops.run(
            &sandbox,
            Some(Keys::One),
            &args!["decrypt", &ours_file],
            None,
        );
        if !decrypted.ok() || decrypted.stdout != blob {
            problems.push(format!(
                "[{label}] sops decrypt of our file must print the blob: {}",
                decrypted.outcome()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// sops refuses an empty YAML file ("File cannot be completely empty"), and a file with only a
/// comment; ours must refuse too, rather than write an empty "encrypted" file nobody can open.
#[test]
fn an_empty_yaml_file_is_refused_like_sops() {
    sops_bin();
    let sandbox = Sandbox::new();
    let mut problems = Vec::new();
    for (name, text) in [("empty.yaml", ""), ("comment.yaml", "# only a comment\n")] {
        let input = sandbox.write(name, text);
        let sops = Tool::Sops.run(
            &sandbox,
            None,
            &args!["encrypt", "--age", KEY1, &input],
            None,
        );
        assert!(!sops.ok(), "sops accepted {name}: {}", sops.outcome());
        let out = sandbox.path().join(format!("out-{name}"));
        let ours = Tool::Ours.run(
            &sandbox,
            None,
            &args!["encrypt", &input, "--age", KEY1, "--output", &out],
            None,
        );
        if ours.code != EXIT_USAGE || out.exists() {
            problems.push(format!(
                "{name}: ours must exit {EXIT_USAGE} and write nothing, as sops refuses ({}); it \
                 {}, output file written: {}",
                sops.failure(),
                ours.outcome(),
                out.exists()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A trailing `---` (common in Kubernetes manifests) or a `null` document: sops encrypts it as an
/// empty map (a document holding only `sops:`), and decrypts it back as `{}`.
#[test]
fn a_null_yaml_document_is_encrypted_as_an_empty_map_like_sops() {
    sops_bin();
    let sandbox = Sandbox::new();
    let mut problems = Vec::new();
    for (index, text) in ["a: 1\n---\n", "---\n", "null\n"].into_iter().enumerate() {
        let input = sandbox.write(&format!("in{index}/s.yaml"), text);
        let sops = Tool::Sops
            .run(
                &sandbox,
                None,
                &args!["encrypt", "--age", KEY1, &input],
                None,
            )
            .expect_ok();
        let ours = Tool::Ours.run(
            &sandbox,
            None,
            &args!["encrypt", &input, "--age", KEY1],
            None,
        );
        if !ours.ok() {
            problems.push(format!("{text:?}: {}", ours.failure()));
            continue;
        }
        if let Some(diff) = lines_difference(
            &normalized(&sops.stdout, false, None),
            &normalized(&ours.stdout, false, None),
        ) {
            problems.push(format!("{text:?}: the encrypted files differ: {diff}"));
        }
        let sops_file = sandbox.write_bytes(&format!("sops{index}/s.yaml"), &sops.stdout);
        let ours_file = sandbox.write_bytes(&format!("ours{index}/s.yaml"), &ours.stdout);
        let expected = Tool::Sops
            .run(
                &sandbox,
                Some(Keys::One),
                &args!["decrypt", &sops_file],
                None,
            )
            .expect_ok();
        let actual = Tool::Sops.run(
            &sandbox,
            Some(Keys::One),
            &args!["decrypt", &ours_file],
            None,
        );
        if !actual.ok() || actual.stdout != expected.stdout {
            problems.push(format!(
                "{text:?}: sops decrypt of our file must print {:?}: {}",
                String::from_utf8_lossy(&expected.stdout),
                actual.outcome()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// An intended difference: sops writes only the first document of a multi-document YAML file as
/// JSON, with the MAC of both, so the file it writes cannot be decrypted. Ours refuses.
#[test]
fn multi_document_yaml_to_json_is_refused_where_sops_writes_an_unreadable_file() {
    sops_bin();
    let sandbox = Sandbox::new();
    let input = Path::new(FIXTURES).join("plain/multidoc.yaml");
    let sops = Tool::Sops
        .run(
            &sandbox,
            None,
            &args!["encrypt", "--age", KEY1, "--output-type", "json", &input],
            None,
        )
        .expect_ok();
    let sops_file = sandbox.write_bytes("sops.json", &sops.stdout);
    let decrypted = Tool::Sops.run(
        &sandbox,
        Some(Keys::One),
        &args!["decrypt", &sops_file],
        None,
    );
    assert!(
        !decrypted.ok() && decrypted.stderr.contains("MAC mismatch"),
        "sops now decrypts its JSON of a multi-document file; the difference may be gone: {}",
        decrypted.outcome()
    );
    let out = sandbox.path().join("ours.json");
    let ours = Tool::Ours.run(
        &sandbox,
        None,
        &args![
            "encrypt",
            &input,
            "--age",
            KEY1,
            "--output-type",
            "json",
            "--output",
            &out
        ],
        None,
    );
    assert_eq!(ours.code, EXIT_USAGE, "{}", ours.outcome());
    assert!(ours.stderr.contains("documents"), "{}", ours.stderr);
    assert!(!out.exists(), "a refused encrypt wrote {}", out.display());
}

// =============================================================================================
// 2. set / unset

/// One edit of a sops-written fixture, by both tools.
struct Edit {
    fixture: &'static str,
    /// Our NAME argument: dotted, or sops's bracket syntax (then given to sops as it is).
    name: &'static str,
    /// `Some(value)` for `set` (stored as a string), `None` for `unset`.
    value: Option<&'static str>,
    /// What our `set` reads on stdin; `value` unless the case is about the trailing newline.
    stdin: Option<&'static str>,
    /// How many of the original's `ENC[…]` values (the MAC aside) the edit removes: the replaced
    /// value, or the encrypted values (comments included) of the removed subtree.
    dropped: usize,
    /// `value` is JSON, given to sops as it is and to ours with `--value-type json`.
    json: bool,
}

impl Edit {
    /// sops's path for our name: `database.tags.1` is `["database"]["tags"][1]`.
    fn sops_path(&self) -> String {
        if self.name.starts_with('[') {
            return self.name.to_owned();
        }
        self.name
            .split('.')
            .map(|segment| match segment.parse::<usize>() {
                Ok(index) => format!("[{index}]"),
                Err(_) => format!("[\"{segment}\"]"),
            })
            .collect()
    }
}

const fn set(
    fixture: &'static str,
    name: &'static str,
    value: &'static str,
    dropped: usize,
) -> Edit {
    Edit {
        fixture,
        name,
        value: Some(value),
        stdin: None,
        dropped,
        json: false,
    }
}

/// `set` with a JSON value (sops's typed set; ours with `--value-type json`).
const fn set_json(
    fixture: &'static str,
    name: &'static str,
    json: &'static str,
    dropped: usize,
) -> Edit {
    Edit {
        json: true,
        ..set(fixture, name, json, dropped)
    }
}

const fn unset(fixture: &'static str, name: &'static str, dropped: usize) -> Edit {
    Edit {
        fixture,
        name,
        value: None,
        stdin: None,
        dropped,
        json: false,
    }
}

const SETS: &[Edit] = &[
    // an encrypted string replaced, in a file with comments
    set("nested.yaml", "database.password", "n3w-pa55", 1),
    // a value under an `_unencrypted` key stays in cleartext
    set("nested.yaml", "api.key_unencrypted", "still visible", 0),
    // new nested maps
    set("simple.yaml", "a.b.c", "deep", 0),
    // a list item appended (index = len)
    set("simple.yaml", "list.2", "c", 0),
    // an int replaced by a string
    set("simple.yaml", "num", "4", 1),
    // a newline in the middle, an empty value, unicode
    set("nested.yaml", "database.multiline", "first\nsecond", 1),
    set("nested.yaml", "token", "", 1),
    set("nested.yaml", "api.token", "héllo ✓ 日本語 🔑", 1),
    // a whole map replaced by a string
    set("nested.yaml", "database", "flat", 13),
    // a key with dots and colons, in sops's bracket syntax
    set(
        "edge_noinf.yaml",
        r#"["scalars"]["colon_key:with"]"#,
        "c",
        1,
    ),
    set("nested.yaml", r#"["dotted.key"]["inner"]"#, "d", 0),
    // dotenv
    set("app.env", "NEW_KEY", "fresh", 0),
    set("app.env", "MULTI", "a\nb", 1),
    set("app_tworecip_regex_maconly.env", "DB_PASSWORD", "q", 1),
    set("app_tworecip_regex_maconly.env", "DB_USER", "q", 0),
    set("shamir.env", "NEW", "q", 0),
    // INI: an existing key, a new key in a section with comments, a new section, DEFAULT
    set("app.ini", "database.password", "x", 1),
    set("comments.ini", "s1.c", "v", 0),
    set("app.ini", "newsec.k", "v", 0),
    set("toplevel.ini", "DEFAULT.orphan", "q", 1),
    // JSON: a number in a list replaced
    set("data.json", "database.tags.1", "x", 1),
    // the file's own rule decides: regex, mac-only, comment markers
    set("regex.yaml", "database.user", "root", 0),
    set("regex.yaml", "database.password", "p", 1),
    set("maconly.yaml", "database.user", "root", 0),
    set("commentregex.yaml", "nested.new", "q", 0),
    set("commentregex.yaml", "nested.inner", "q", 1),
    // the first document of a multi-document file; several recipients; key groups
    set("multidoc.yaml", "first", "1", 1),
    set("tworecip.yaml", "token", "q", 1),
    set("shamir.yaml", "hello", "q", 1),
    // one trailing newline (CRLF too) is removed from stdin
    Edit {
        stdin: Some("tok\r\n"),
        ..set("nested.yaml", "token", "tok", 1)
    },
    Edit {
        stdin: Some("two\n\n"),
        ..set("nested.yaml", "token", "two\n", 1)
    },
    // typed values (`--value-type json`, sops's JSON value): numbers are floats, as in sops
    set_json("simple.yaml", "num", "4", 1),
    set_json("simple.yaml", "flag", "true", 0),
    set_json("nested.yaml", "token", "null", 1),
    set_json(
        "simple.yaml",
        "db",
        r#"{"port": 5432, "tls": true, "hosts": ["a", 2.5], "n": null}"#,
        0,
    ),
    set_json(
        "data.json",
        "database.tags.1",
        r#"{"list": [1, {"x": "y"}]}"#,
        1,
    ),
    set_json(
        "nested.yaml",
        "database.password",
        "\"as a JSON string\"",
        1,
    ),
];

const UNSETS: &[Edit] = &[
    unset("nested.yaml", "token", 1),
    unset("nested.yaml", "database.tags.1", 1),
    unset("nested.yaml", "database.password", 1),
    // a subtree with a plaintext `_unencrypted` value
    unset("nested.yaml", "api", 1),
    // a subtree with a comment inside
    unset("nested.yaml", "database", 13),
    unset("commentregex.yaml", "secret", 1),
    unset("app.env", "DB_USER", 1),
    unset("app.ini", "database.port", 1),
    unset("app.ini", "api", 1),
    unset("data.json", "database.tags.2.deep", 1),
    unset("multidoc.yaml", "first", 1),
];

#[test]
fn set_matches_sops_set() {
    sops_bin();
    check_edits(SETS);
}

#[test]
fn unset_matches_sops_unset() {
    sops_bin();
    check_edits(UNSETS);
}

fn check_edits(edits: &[Edit]) {
    let problems: Vec<String> = parallel_map(edits, check_edit)
        .into_iter()
        .flatten()
        .collect();
    assert!(
        problems.is_empty(),
        "{} problem(s) over {} edits (\"expected\" is sops's):\n\n{}",
        problems.len(),
        edits.len(),
        problems.join("\n\n")
    );
}

/// Everything wrong with one edit: ours against sops's, and against the original.
fn check_edit(edit: &Edit) -> Vec<String> {
    let label = match edit.value {
        Some(value) => format!("set {} {} = {value:?}", edit.fixture, edit.name),
        None => format!("unset {} {}", edit.fixture, edit.name),
    };
    let sandbox = Sandbox::new();
    let original = fixture(edit.fixture);
    let sops_file = sandbox.write_bytes(&format!("sops/{}", edit.fixture), &original);
    let ours_file = sandbox.write_bytes(&format!("ours/{}", edit.fixture), &original);
    let keys = Some(Keys::Both);
    let (sops, ours) = match edit.value {
        Some(value) => {
            let json = if edit.json {
                value.to_owned()
            } else {
                serde_json::to_string(value).unwrap()
            };
            let stdin = edit.stdin.unwrap_or(value);
            let value_type = if edit.json { "json" } else { "string" };
            (
                Tool::Sops.run(
                    &sandbox,
                    keys,
                    &args!["set", &sops_file, edit.sops_path(), json],
                    None,
                ),
                Tool::Ours.run(
                    &sandbox,
                    keys,
                    &args!["set", &ours_file, edit.name, "--value-type", value_type],
                    Some(stdin.as_bytes()),
                ),
            )
        }
        None => (
            Tool::Sops.run(
                &sandbox,
                keys,
                &args!["unset", &sops_file, edit.sops_path()],
                None,
            ),
            Tool::Ours.run(&sandbox, keys, &args!["unset", &ours_file, edit.name], None),
        ),
    };
    if !sops.ok() {
        return vec![format!("{label}: sops itself fails: {}", sops.failure())];
    }
    if !ours.ok() {
        return vec![format!("{label}: {}", ours.failure())];
    }
    let sops_bytes = std::fs::read(&sops_file).unwrap();
    let ours_bytes = std::fs::read(&ours_file).unwrap();

    let mut problems = Vec::new();
    let expected = Tool::Sops.run(&sandbox, keys, &args!["decrypt", &sops_file], None);
    let actual = Tool::Sops.run(&sandbox, keys, &args!["decrypt", &ours_file], None);
    if !expected.ok() {
        problems.push(format!(
            "{label}: sops cannot decrypt its own edit: {}",
            expected.failure()
        ));
    } else if !actual.ok() {
        problems.push(format!(
            "{label}: sops decrypt of our file: {}",
            actual.failure()
        ));
    } else if let Some(diff) = bytes_difference(&expected.stdout, &actual.stdout) {
        problems.push(format!(
            "{label}: sops decrypt prints different plaintexts: {diff}"
        ));
    }

    // Untouched values keep their ciphertexts: ours removes exactly the ones sops removes.
    let before = enc_values(&original);
    let ours_missing = missing(&before, &enc_values(&ours_bytes));
    let sops_missing = missing(&before, &enc_values(&sops_bytes));
    if ours_missing != sops_missing || ours_missing.len() != edit.dropped {
        problems.push(format!(
            "{label}: the edit must remove {} of the original's ciphertexts, as sops does; ours \
             removed {} that sops kept and kept {} that sops removed (ours removed {}, sops {})",
            edit.dropped,
            ours_missing
                .iter()
                .filter(|v| !sops_missing.contains(v))
                .count(),
            sops_missing
                .iter()
                .filter(|v| !ours_missing.contains(v))
                .count(),
            ours_missing.len(),
            sops_missing.len()
        ));
    }
    let keep: HashSet<String> = before.into_iter().collect();
    let ini = edit.fixture.ends_with(".ini");
    if let Some(diff) = lines_difference(
        &normalized(&sops_bytes, ini, Some(&keep)),
        &normalized(&ours_bytes, ini, Some(&keep)),
    ) {
        problems.push(format!(
            "{label}: the edited files differ (normalized): {diff}"
        ));
    }
    problems
}

/// sops states the default rule whenever it rewrites a file that has none (only its binary-store
/// encrypt leaves it out): `sops set`, `sops unset` and `sops rotate` of `blob_binary.json` add
/// `"unencrypted_suffix": "_unencrypted"`, with or without `--input-type binary`.
#[test]
fn rewriting_a_binary_store_file_states_the_default_rule_like_sops() {
    sops_bin();
    let sandbox = Sandbox::new();
    let original = fixture("blob_binary.json");
    let keys = Some(Keys::Both);
    let mut problems = Vec::new();
    let mut compare = |sops_args: &[String], ours_args: &[String], stdin: Option<&[u8]>| {
        sandbox.write_bytes("sops.json", &original);
        sandbox.write_bytes("ours.json", &original);
        Tool::Sops.run(&sandbox, keys, sops_args, None).expect_ok();
        Tool::Ours.run(&sandbox, keys, ours_args, stdin).expect_ok();
        let sops = std::fs::read(sandbox.path().join("sops.json")).unwrap();
        let ours = std::fs::read(sandbox.path().join("ours.json")).unwrap();
        if let Some(diff) = lines_difference(
            &normalized(&sops, false, None),
            &normalized(&ours, false, None),
        ) {
            problems.push(format!("{}: {diff}", ours_args.join(" ")));
        }
    };
    compare(
        &args!["set", "sops.json", r#"["data"]"#, r#""v""#],
        &args!["set", "ours.json", "data"],
        Some(b"v"),
    );
    compare(
        &args!["rotate", "-i", "sops.json"],
        &args!["rotate", "ours.json"],
        None,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

// =============================================================================================
// 3. rotate

#[test]
fn rotate_renews_every_ciphertext_like_sops_rotate() {
    sops_bin();
    let cases: &[(&str, &[&str])] = &[
        ("nested.yaml", &[]),
        ("app.ini", &[]),
        ("shamir.env", &[]),
        ("data.json", &[]),
        ("nested.yaml", &["--add-age", KEY2]),
        ("tworecip.yaml", &["--rm-age", KEY1]),
    ];
    let problems: Vec<String> = parallel_map(cases, |(fixture_name, flags)| {
        let label = format!("rotate {fixture_name} {}", flags.join(" "));
        let sandbox = Sandbox::new();
        let original = fixture(fixture_name);
        let sops_file = sandbox.write_bytes(&format!("sops/{fixture_name}"), &original);
        let ours_file = sandbox.write_bytes(&format!("ours/{fixture_name}"), &original);
        let keys = Some(Keys::Both);
        let mut sops_args = args!["rotate", "-i"].to_vec();
        sops_args.extend(strings(flags));
        sops_args.push(s(&sops_file));
        let mut ours_args = args!["rotate", &ours_file].to_vec();
        ours_args.extend(strings(flags));
        let sops = Tool::Sops.run(&sandbox, keys, &sops_args, None);
        let ours = Tool::Ours.run(&sandbox, keys, &ours_args, None);
        if !sops.ok() || !ours.ok() {
            return vec![format!("{label}: {} / {}", sops.outcome(), ours.outcome())];
        }
        let mut problems = Vec::new();
        let sops_bytes = std::fs::read(&sops_file).unwrap();
        let ours_bytes = std::fs::read(&ours_file).unwrap();
        let before = enc_values(&original);
        let after = enc_values(&ours_bytes);
        let kept = after.iter().filter(|v| before.contains(v)).count();
        if kept > 0 || after.len() != before.len() {
            problems.push(format!(
                "{label}: every ciphertext must be new: {kept} of {} kept, {} before",
                after.len(),
                before.len()
            ));
        }
        let plain = Tool::Sops
            .run(
                &sandbox,
                keys,
                &args!["decrypt", fixture_path(fixture_name)],
                None,
            )
            .expect_ok();
        for (who, file) in [("sops's", &sops_file), ("our", &ours_file)] {
            let run = Tool::Sops.run(&sandbox, keys, &args!["decrypt", file], None);
            if !run.ok() || run.stdout != plain.stdout {
                problems.push(format!(
                    "{label}: sops decrypt of {who} rotated file must print the old plaintext: {}",
                    run.outcome()
                ));
            }
        }
        let ini = fixture_name.ends_with(".ini");
        if let Some(diff) = lines_difference(
            &normalized(&sops_bytes, ini, None),
            &normalized(&ours_bytes, ini, None),
        ) {
            problems.push(format!(
                "{label}: the rotated files differ (normalized): {diff}"
            ));
        }
        problems
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn rotate_adds_and_removes_age_recipients() {
    sops_bin();
    let sandbox = Sandbox::new();
    let file = sandbox.write_bytes("s.yaml", &fixture("simple.yaml"));
    let decrypt = |keys| Tool::Sops.run(&sandbox, Some(keys), &args!["decrypt", &file], None);
    let plain = decrypt(Keys::One).expect_ok().stdout;
    assert!(
        !decrypt(Keys::Two).ok(),
        "simple.yaml must be for key 1 only"
    );

    Tool::Ours
        .run(
            &sandbox,
            Some(Keys::One),
            &args!["rotate", &file, "--add-age", KEY2],
            None,
        )
        .expect_ok();
    for keys in [Keys::One, Keys::Two] {
        let run = decrypt(keys);
        assert!(
            run.ok() && run.stdout == plain,
            "after --add-age key2, {keys:?} alone must open the file: {}",
            run.outcome()
        );
    }

    let before = enc_values(&std::fs::read(&file).unwrap());
    Tool::Ours
        .run(
            &sandbox,
            Some(Keys::Two),
            &args!["rotate", &file, "--rm-age", KEY1],
            None,
        )
        .expect_ok();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(KEY1) && text.contains(KEY2),
        "after --rm-age key1 only key2 is a recipient:\n{text}"
    );
    assert!(
        enc_values(text.as_bytes())
            .iter()
            .all(|v| !before.contains(v)),
        "removing a recipient must renew the data key (every value re-encrypted):\n{text}"
    );
    let run = decrypt(Keys::One);
    assert!(
        !run.ok(),
        "key 1 still opens the file after --rm-age: {}",
        run.outcome()
    );
    let run = decrypt(Keys::Two);
    assert!(
        run.ok() && run.stdout == plain,
        "key 2 must open it: {}",
        run.outcome()
    );
}

#[test]
fn rotating_a_shamir_file_still_needs_both_key_groups() {
    sops_bin();
    let sandbox = Sandbox::new();
    let original = fixture("shamir.yaml");
    let file = sandbox.write_bytes("shamir.yaml", &original);
    let decrypt = |keys| Tool::Sops.run(&sandbox, Some(keys), &args!["decrypt", &file], None);
    let plain = decrypt(Keys::Both).expect_ok().stdout;

    // One group's key cannot even rotate it, and the file stays as it was.
    let run = Tool::Ours.run(&sandbox, Some(Keys::One), &args!["rotate", &file], None);
    assert_eq!(run.code, EXIT_DECRYPTION, "{}", run.outcome());
    assert_eq!(
        std::fs::read(&file).unwrap(),
        original,
        "a failed rotate changed the file"
    );

    Tool::Ours
        .run(&sandbox, Some(Keys::Both), &args!["rotate", &file], None)
        .expect_ok();
    let rotated = std::fs::read(&file).unwrap();
    let before = enc_values(&original);
    assert!(
        enc_values(&rotated).iter().all(|v| !before.contains(v)),
        "rotate kept a ciphertext:\n{}",
        String::from_utf8_lossy(&rotated)
    );
    let text = String::from_utf8_lossy(&rotated);
    assert!(
        text.contains("shamir_threshold: 2") && text.contains("key_groups:"),
        "the key groups are gone:\n{text}"
    );
    let run = decrypt(Keys::Both);
    assert!(
        run.ok() && run.stdout == plain,
        "both keys must open it: {}",
        run.outcome()
    );
    for keys in [Keys::One, Keys::Two] {
        let run = decrypt(keys);
        assert!(
            !run.ok(),
            "{keys:?} alone opens the rotated Shamir file: {}",
            run.outcome()
        );
    }
}

// =============================================================================================
// 4. .sops.yaml creation rules

const CLEARTEXT: &str = "user: admin\npassword: s3cr3t\n";

/// `proj/.sops.yaml` with a rule per folder, `proj/{dev,prod,shared,other}/s.yaml`, and an
/// `outside/` folder (not below `proj/`) to run ours from.
fn creation_rules_sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write(
        "proj/.sops.yaml",
        &format!(
            "creation_rules:\n\
             \x20 - path_regex: dev/.*\n\
             \x20   age: {KEY1}\n\
             \x20 - path_regex: prod/.*\n\
             \x20   age: {KEY2}\n\
             \x20   encrypted_regex: ^password$\n\
             \x20 - path_regex: shared/.*\n\
             \x20   shamir_threshold: 2\n\
             \x20   key_groups:\n\
             \x20     - age:\n\
             \x20         - {KEY1}\n\
             \x20     - age:\n\
             \x20         - {KEY2}\n"
        ),
    );
    for folder in ["dev", "prod", "shared", "other"] {
        sandbox.write(&format!("proj/{folder}/s.yaml"), CLEARTEXT);
    }
    std::fs::create_dir_all(sandbox.path().join("outside")).unwrap();
    sandbox
}

#[test]
fn creation_rules_pick_recipients_and_rule_walking_up_from_the_file() {
    sops_bin();
    let sandbox = creation_rules_sandbox();
    let proj = sandbox.path().join("proj");
    let outside = sandbox.path().join("outside");
    // folder, which keys must open it, which must not
    let expectations: &[(&str, &[Keys], &[Keys])] = &[
        ("dev", &[Keys::One, Keys::Both], &[Keys::Two]),
        ("prod", &[Keys::Two, Keys::Both], &[Keys::One]),
        ("shared", &[Keys::Both], &[Keys::One, Keys::Two]),
    ];
    let mut problems = Vec::new();
    for (folder, opens, refuses) in expectations {
        // ours from a folder that is not below the .sops.yaml: found from the FILE's folder
        let ours = Tool::Ours.run_in(
            &sandbox,
            &outside,
            None,
            &args!["encrypt", format!("../proj/{folder}/s.yaml")],
            None,
        );
        // sops finds .sops.yaml from the current directory: run it from proj/
        let sops = Tool::Sops.run_in(
            &sandbox,
            &proj,
            None,
            &args!["encrypt", format!("{folder}/s.yaml")],
            None,
        );
        if !ours.ok() || !sops.ok() {
            problems.push(format!("{folder}: {} / {}", ours.outcome(), sops.outcome()));
            continue;
        }
        if let Some(diff) = lines_difference(
            &normalized(&sops.stdout, false, None),
            &normalized(&ours.stdout, false, None),
        ) {
            problems.push(format!(
                "{folder}: ours differs from sops's (normalized): {diff}"
            ));
        }
        let file = sandbox.write_bytes(&format!("ours/{folder}.yaml"), &ours.stdout);
        for keys in *opens {
            let run = Tool::Sops.run(&sandbox, Some(*keys), &args!["decrypt", &file], None);
            if !run.ok() || run.stdout != CLEARTEXT.as_bytes() {
                problems.push(format!(
                    "{folder}: {keys:?} must open it: {}",
                    run.outcome()
                ));
            }
        }
        for keys in *refuses {
            let run = Tool::Sops.run(&sandbox, Some(*keys), &args!["decrypt", &file], None);
            if run.ok() {
                problems.push(format!("{folder}: {keys:?} must not open it"));
            }
        }
    }
    // prod encrypts only `password`
    let prod = Tool::Ours
        .run_in(
            &sandbox,
            &outside,
            None,
            &args!["encrypt", "../proj/prod/s.yaml"],
            None,
        )
        .expect_ok();
    let text = normalized(&prod.stdout, false, None).join("\n");
    assert!(
        text.contains("user: admin\npassword: ENC[str]\n")
            && text.contains("encrypted_regex: ^password$"),
        "prod must encrypt only `password`:\n{text}"
    );
    // the documented difference: sops does not look from the file's folder
    let sops = Tool::Sops.run_in(
        &sandbox,
        &outside,
        None,
        &args!["encrypt", "../proj/dev/s.yaml"],
        None,
    );
    assert!(
        !sops.ok(),
        "sops now finds .sops.yaml from the file's folder; update the module docs: {}",
        sops.outcome()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Like sops, the rule is chosen by the input FILE's path, not by `--output`.
#[test]
fn creation_rules_match_the_input_file_not_the_output() {
    sops_bin();
    let sandbox = creation_rules_sandbox();
    let proj = sandbox.path().join("proj");
    Tool::Ours
        .run_in(
            &sandbox,
            &sandbox.path().join("outside"),
            None,
            &args![
                "encrypt",
                "../proj/dev/s.yaml",
                "--output",
                "../proj/prod/ours.yaml"
            ],
            None,
        )
        .expect_ok();
    Tool::Sops
        .run_in(
            &sandbox,
            &proj,
            None,
            &args!["encrypt", "--output", "prod/sops.yaml", "dev/s.yaml"],
            None,
        )
        .expect_ok();
    let ours = std::fs::read(proj.join("prod/ours.yaml")).unwrap();
    let sops = std::fs::read(proj.join("prod/sops.yaml")).unwrap();
    if let Some(diff) = lines_difference(
        &normalized(&sops, false, None),
        &normalized(&ours, false, None),
    ) {
        panic!("ours differs from sops's (normalized): {diff}");
    }
    let file = proj.join("prod/ours.yaml");
    let run = Tool::Sops.run(&sandbox, Some(Keys::One), &args!["decrypt", &file], None);
    assert!(
        run.ok() && run.stdout == CLEARTEXT.as_bytes(),
        "the dev rule (key 1) applies: {}",
        run.outcome()
    );
    let run = Tool::Sops.run(&sandbox, Some(Keys::Two), &args!["decrypt", &file], None);
    assert!(!run.ok(), "the prod rule (key 2) was used for --output");
}

#[test]
fn encrypt_without_recipients_or_matching_rule_is_a_usage_error() {
    sops_bin();
    let sandbox = creation_rules_sandbox();
    let out = sandbox.path().join("out.yaml");
    let run = Tool::Ours.run_in(
        &sandbox,
        &sandbox.path().join("outside"),
        None,
        &args!["encrypt", "../proj/other/s.yaml", "--output", &out],
        None,
    );
    assert_eq!(run.code, EXIT_USAGE, "{}", run.outcome());
    assert!(
        run.stderr.contains(".sops.yaml") && run.stderr.contains("other/s.yaml"),
        "the message must name the .sops.yaml and the file: {}",
        run.stderr
    );
    assert!(!out.exists());
    let sops = Tool::Sops.run_in(
        &sandbox,
        &sandbox.path().join("proj"),
        None,
        &args!["encrypt", "other/s.yaml"],
        None,
    );
    assert!(
        !sops.ok(),
        "sops found a rule for other/: {}",
        sops.outcome()
    );

    let bare = Sandbox::new();
    let input = bare.write("s.yaml", CLEARTEXT);
    let run = Tool::Ours.run(&bare, None, &args!["encrypt", &input], None);
    assert_eq!(run.code, EXIT_USAGE, "{}", run.outcome());
    assert!(run.stderr.contains("--age"), "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "nothing may be printed: {}",
        run.outcome()
    );
}

// =============================================================================================
// 5. Atomicity and concurrency

#[test]
fn concurrent_sets_of_different_keys_all_land() {
    sops_bin();
    const WRITERS: usize = 8;
    let sandbox = Sandbox::new();
    let file = sandbox.write_bytes("nested.yaml", &fixture("nested.yaml"));
    let barrier = Barrier::new(WRITERS);
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|i| {
                let (sandbox, file, barrier) = (&sandbox, &file, &barrier);
                scope.spawn(move || {
                    let mut cmd = Tool::Ours.command(sandbox, sandbox.path(), Some(Keys::Both));
                    cmd.args(args!["set", file, format!("writer{i}")])
                        .write_stdin(format!("value-{i}"));
                    barrier.wait();
                    Tool::Ours.finish(&mut cmd, Vec::new())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for run in &runs {
        assert!(run.ok(), "{}", run.outcome());
    }
    let plain = Tool::Sops
        .run(&sandbox, Some(Keys::Both), &args!["decrypt", &file], None)
        .expect_ok();
    let text = String::from_utf8_lossy(&plain.stdout);
    for i in 0..WRITERS {
        assert!(
            text.contains(&format!("\nwriter{i}: value-{i}\n")),
            "writer {i}'s key was lost:\n{text}"
        );
    }
    assert!(
        text.contains("\ntoken: tok-123\n"),
        "an old value was lost:\n{text}"
    );
    assert_eq!(
        stray_files(&sandbox, "nested.yaml"),
        0,
        "temporary files were left behind"
    );
}

#[test]
fn a_killed_set_leaves_the_old_or_the_new_file() {
    sops_bin();
    const KEYS_IN_FILE: usize = 2000;
    const KILLS: usize = 20;
    let sandbox = Sandbox::new();
    let mut cleartext = String::from("victim: v-start\n");
    for i in 0..KEYS_IN_FILE {
        cleartext.push_str(&format!("key{i:05}: value-{i}\n"));
    }
    let input = sandbox.write("big.yaml", &cleartext);
    let file = sandbox.path().join("big.enc.yaml");
    Tool::Ours
        .run(
            &sandbox,
            None,
            &args!["encrypt", &input, "--age", KEY1, "--output", &file],
            None,
        )
        .expect_ok();

    // One whole run, to learn how long a set takes here.
    let started = Instant::now();
    let whole = spawn_set(&sandbox, &file, "victim", "v-0")
        .wait_with_output()
        .unwrap();
    let duration = started.elapsed();
    assert!(
        whole.status.success(),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );

    let decrypt = || {
        let run = Tool::Sops.run(&sandbox, Some(Keys::One), &args!["decrypt", &file], None);
        assert!(run.ok(), "the file is broken: {}", run.outcome());
        run.stdout
    };
    let mut old_bytes = std::fs::read(&file).unwrap();
    let mut old_plain = decrypt();
    assert!(
        old_plain.starts_with(b"victim: v-0\n"),
        "the whole set did not land"
    );
    let (mut kept_old, mut got_new) = (0, 0);
    let mut current = "v-0".to_owned();
    let mut estimate = duration;
    for kill in 1..=KILLS {
        let value = format!("v-{kill}");
        let new_plain = replace_first(
            &old_plain,
            &format!("victim: {current}\n"),
            &format!("victim: {value}\n"),
        );
        // Odd kills spread from at once to well after a whole run; even ones crowd the end of a
        // run, where the file is written and renamed. `estimate` grows when a kill meant to land
        // after the end still found the old file (the machine is busier than when measured).
        let step = (kill - 1) as f64 / (KILLS - 1) as f64;
        let fraction = if kill % 2 == 1 {
            1.4 * step
        } else {
            0.8 + 0.4 * step
        };
        let delay = estimate.mul_f64(fraction);
        let mut child = spawn_set(&sandbox, &file, "victim", &value);
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL; an error only means it had exited already
        child.wait().unwrap();

        let bytes = std::fs::read(&file).unwrap();
        // The same bytes decrypt the same: only a changed file needs sops again.
        let plain = if bytes == old_bytes {
            old_plain.clone()
        } else {
            decrypt()
        };
        if plain == old_plain {
            kept_old += 1;
            if fraction >= 1.0 {
                estimate = estimate.mul_f64(1.3);
            }
        } else if plain == new_plain {
            got_new += 1;
            (old_bytes, old_plain, current) = (bytes, plain, value);
        } else {
            panic!(
                "kill {kill} after {delay:?}: the file decrypts to neither the old nor the new \
                 tree; it begins with:\n{}",
                String::from_utf8_lossy(&plain[..plain.len().min(300)])
            );
        }
    }
    eprintln!(
        "a_killed_set_leaves_the_old_or_the_new_file: a whole set took {duration:?}; {kept_old} \
         kill(s) kept the old file, {got_new} got the new one, {} stray temporary file(s)",
        stray_files(&sandbox, "big.enc.yaml")
    );
    assert!(
        kept_old > 0,
        "no kill landed before the rename; the test proves nothing"
    );
    // The file is still editable: no lock or temporary file left in the way.
    let done = spawn_set(&sandbox, &file, "victim", "v-final")
        .wait_with_output()
        .unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(decrypt().starts_with(b"victim: v-final\n"));
}

/// Our `set FILE NAME` as a child process (key 1), the value written to its stdin.
fn spawn_set(sandbox: &Sandbox, file: &Path, name: &str, value: &str) -> std::process::Child {
    let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_secret-cascade"));
    cmd.current_dir(sandbox.path())
        .args(args!["set", file, name])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in environment(sandbox, Some(Keys::One)) {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    let mut child = cmd.spawn().expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    child
}

/// How many `.NAME.secret-cascade-*` temporary files are in the sandbox; any other unexpected file
/// fails the test.
fn stray_files(sandbox: &Sandbox, name: &str) -> usize {
    let prefix = format!(".{name}.secret-cascade-");
    std::fs::read_dir(sandbox.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|file| file.starts_with('.'))
        .inspect(|file| assert!(file.starts_with(&prefix), "unexpected file {file}"))
        .count()
}

fn replace_first(text: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(text.contains(from), "{from:?} is not in the plaintext");
    text.replacen(from, to, 1).into_bytes()
}

// =============================================================================================
// 6. Errors that lose nothing

#[test]
fn failed_edits_leave_the_file_unchanged_and_never_echo_the_value() {
    sops_bin();
    let sandbox = Sandbox::new();
    let simple = fixture("simple.yaml");

    // A ciphertext changed by one base64 character (still valid base64, same length).
    let nested = String::from_utf8(fixture("nested.yaml")).unwrap();
    let marker = "token: ENC[AES256_GCM,data:";
    let at = nested.find(marker).unwrap() + marker.len();
    let old = nested.as_bytes()[at];
    let mut tampered = nested.clone().into_bytes();
    tampered[at] = if old == b'A' { b'B' } else { b'A' };
    let tampered_file = sandbox.write_bytes("tampered.yaml", &tampered);
    let run = Tool::Sops.run(
        &sandbox,
        Some(Keys::Both),
        &args!["decrypt", &tampered_file],
        None,
    );
    assert!(
        !run.ok(),
        "sops accepts the tampered file, so it proves nothing"
    );

    struct Failure<'a> {
        what: &'a str,
        file: PathBuf,
        keys: Keys,
        args: Vec<String>,
        stdin: Option<&'a str>,
        code: i32,
    }
    let copy = |name: &str| sandbox.write_bytes(name, &simple);
    let wrong_key = copy("wrong_key.yaml");
    let missing_name = copy("missing.yaml");
    let through_scalar = copy("scalar.yaml");
    let past_end = copy("past_end.yaml");
    let rm_stranger = copy("rm_stranger.yaml");
    let failures = [
        Failure {
            what: "set on a tampered file",
            args: args!["set", &tampered_file, "database.user"].to_vec(),
            file: tampered_file.clone(),
            keys: Keys::Both,
            stdin: Some(SENTINEL),
            code: EXIT_DECRYPTION,
        },
        Failure {
            what: "set with a key that does not open the file",
            args: args!["set", &wrong_key, "hello"].to_vec(),
            file: wrong_key.clone(),
            keys: Keys::Two,
            stdin: Some(SENTINEL),
            code: EXIT_DECRYPTION,
        },
        Failure {
            what: "unset of a missing name",
            args: args!["unset", &missing_name, "nope.nothing"].to_vec(),
            file: missing_name.clone(),
            keys: Keys::One,
            stdin: None,
            code: EXIT_MISSING,
        },
        Failure {
            what: "set through a scalar",
            args: args!["set", &through_scalar, "hello.x"].to_vec(),
            file: through_scalar.clone(),
            keys: Keys::One,
            stdin: Some(SENTINEL),
            code: EXIT_USAGE,
        },
        Failure {
            what: "set past the end of a list",
            args: args!["set", &past_end, "list.5"].to_vec(),
            file: past_end.clone(),
            keys: Keys::One,
            stdin: Some(SENTINEL),
            code: EXIT_USAGE,
        },
        Failure {
            what: "rotate --rm-age of a stranger",
            args: args!["rotate", &rm_stranger, "--rm-age", KEY2].to_vec(),
            file: rm_stranger.clone(),
            keys: Keys::One,
            stdin: None,
            code: EXIT_USAGE,
        },
    ];
    let mut problems = Vec::new();
    for failure in &failures {
        let before = std::fs::read(&failure.file).unwrap();
        let stdin = failure.stdin.map(str::as_bytes);
        let run = Tool::Ours.run(&sandbox, Some(failure.keys), &failure.args, stdin);
        if run.code != failure.code {
            problems.push(format!(
                "{}: must exit {}, but {}",
                failure.what,
                failure.code,
                run.outcome()
            ));
        }
        if std::fs::read(&failure.file).unwrap() != before {
            problems.push(format!("{}: the file changed", failure.what));
        }
        let stdout = String::from_utf8_lossy(&run.stdout);
        if run.stderr.contains(SENTINEL) || stdout.contains(SENTINEL) {
            problems.push(format!(
                "{}: the value was echoed: {}",
                failure.what,
                run.outcome()
            ));
        }
    }
    let dots: Vec<String> = std::fs::read_dir(sandbox.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(
        dots.is_empty(),
        "failed edits left temporary files: {dots:?}"
    );

    // A missing file is not created.
    let absent = sandbox.path().join("absent.yaml");
    let run = Tool::Ours.run(
        &sandbox,
        Some(Keys::One),
        &args!["set", &absent, "a"],
        Some(SENTINEL.as_bytes()),
    );
    if run.code != EXIT_USAGE || absent.exists() || run.stderr.contains(SENTINEL) {
        problems.push(format!(
            "set on a missing file: must exit {EXIT_USAGE}: {}",
            run.outcome()
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn encrypting_an_encrypted_file_is_refused_like_sops() {
    sops_bin();
    let sandbox = Sandbox::new();
    for name in ["simple.yaml", "data.json", "app.env", "app.ini"] {
        let file = fixture_path(name);
        let sops = Tool::Sops.run(
            &sandbox,
            None,
            &args!["encrypt", "--age", KEY1, &file],
            None,
        );
        assert!(!sops.ok(), "sops encrypted the encrypted {name}");
        let out = sandbox.path().join(name);
        let run = Tool::Ours.run(
            &sandbox,
            None,
            &args!["encrypt", &file, "--age", KEY1, "--output", &out],
            None,
        );
        assert_eq!(run.code, EXIT_USAGE, "{name}: {}", run.outcome());
        assert!(
            run.stderr.contains("encrypted already"),
            "{name}: {}",
            run.stderr
        );
        assert!(!out.exists(), "{name}: a refused encrypt wrote its output");
    }
}

// =============================================================================================
// Helpers: arguments and fixtures

fn s(arg: impl AsRef<OsStr>) -> String {
    arg.as_ref().to_string_lossy().into_owned()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

fn fixture_path(name: &str) -> PathBuf {
    Path::new(FIXTURES).join("enc").join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

// =============================================================================================
// Helpers: comparing encrypted files

struct Patterns {
    /// One encrypted value; group 1 is its type.
    enc: Regex,
    /// One age armor on one line (JSON, dotenv, INI: newlines escaped).
    armor: Regex,
    /// The `lastmodified` and `mac` metadata lines, in every store; group 1 is everything up to
    /// the value.
    stamp: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| Patterns {
        enc: Regex::new(r"ENC\[AES256_GCM,data:[^,\]]*,iv:[^,\]]*,tag:[^,\]]*,type:([a-z]+)\]")
            .unwrap(),
        armor: Regex::new(
            r"-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----(\\n)?",
        )
        .unwrap(),
        stamp: Regex::new(r#"^(\s*"?(?:sops_)?(?:lastmodified|mac)"?\s*[:=]\s*).*$"#).unwrap(),
    })
}

const ARMOR_END: &str = "-----END AGE ENCRYPTED FILE-----";

/// The lines of an encrypted file with its random parts blanked: `lastmodified` and `mac` values
/// always; every `ENC[…]` not in `keep` becomes `ENC[type]`; without `keep`, every age armor
/// becomes `<armor>` (with `keep`, armors stay: an edit keeps the metadata). INI lines are sorted.
fn normalized(text: &[u8], ini: bool, keep: Option<&HashSet<String>>) -> Vec<String> {
    let patterns = patterns();
    let text = String::from_utf8_lossy(text);
    let mut lines = Vec::new();
    let mut in_armor = false;
    for line in text.lines() {
        if in_armor {
            in_armor = !line.contains(ARMOR_END);
            continue;
        }
        if keep.is_none() && line.trim_end().ends_with("enc: |") {
            lines.push(format!("{line} <armor>"));
            in_armor = true;
            continue;
        }
        if let Some(caps) = patterns.stamp.captures(line) {
            lines.push(format!("{}…", &caps[1]));
            continue;
        }
        let line = match keep {
            None => patterns.armor.replace_all(line, "<armor>"),
            Some(_) => line.into(),
        };
        let line = patterns.enc.replace_all(&line, |caps: &regex::Captures| {
            if keep.is_some_and(|keep| keep.contains(&caps[0])) {
                caps[0].to_owned()
            } else {
                format!("ENC[{}]", &caps[1])
            }
        });
        lines.push(line.into_owned());
    }
    if ini {
        lines.sort();
    }
    lines
}

/// Every `ENC[…]` value of a file, the MAC aside, in order.
fn enc_values(text: &[u8]) -> Vec<String> {
    let patterns = patterns();
    String::from_utf8_lossy(text)
        .lines()
        .filter(|line| !patterns.stamp.is_match(line))
        .flat_map(|line| patterns.enc.find_iter(line).map(|m| m.as_str().to_owned()))
        .collect()
}

/// The values of `before` that are not in `after`, sorted.
fn missing(before: &[String], after: &[String]) -> Vec<String> {
    let after: HashSet<&String> = after.iter().collect();
    let mut gone: Vec<String> = before
        .iter()
        .filter(|v| !after.contains(v))
        .cloned()
        .collect();
    gone.sort();
    gone
}
