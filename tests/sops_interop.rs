//! Interop with the real sops 3.11: `secret-cascade decrypt` prints what `sops decrypt` prints.
//!
//! The sops binary is `$SOPS_BIN` (`scripts/test` sets it from `scripts/install-sops`). Without it,
//! or if it does not run as sops 3.11, every test here panics: interop is never skipped. Both tools
//! run in a fresh sandbox with `SOPS_AGE_KEY_FILE` as their only age identities, and get the same
//! flags, spelled as sops spells them (sops takes them before the file, ours after it).
//!
//! # What is covered
//!
//! * [`fixtures_decrypt_as_sops_prints_them`]: every file in `fixtures/sops/enc/` (written by sops
//!   3.11, keys in `keys_both.txt`), in several views: the default output; the same file under a
//!   name without extension, with `--input-type` and `--output-type` (sops takes the output type
//!   from the file name, not from `--input-type`); `--output-type yaml` and `json`; `--output-type
//!   binary` for a tree that is just `{data: ...}` (what the binary store writes); and `--extract`
//!   of every top-level key. A view that sops itself cannot print is not compared: Go's JSON encoder
//!   cannot encode ±Inf/NaN, an INI section cannot be extracted, and the JSON view of a
//!   multi-document file would be its first document only, so it is left out. `edge_plainvals.yaml`
//!   is the negative fixture (SOPS_FORMAT.md §8, the unencrypted `-0.0` MAC bug): sops fails on it,
//!   and ours must fail with exit code 3. One run lists every difference of every fixture.
//! * [`sops_encrypted_random_documents_decrypt_to_their_plaintext`]: seeded random documents for the
//!   yaml, json, dotenv and ini stores, under every selection rule (the default `_unencrypted`
//!   suffix, `--unencrypted-suffix`, `--encrypted-suffix`, `--encrypted-regex`,
//!   `--unencrypted-regex`, and `--mac-only-encrypted` with a regex), encrypted by `sops encrypt`
//!   and decrypted by both tools: natively, in the other tree format, and with `--extract` of a
//!   random path. Both must give back the generated tree. That sops does is checked too, so an
//!   input sops itself cannot round-trip shows up as such, never as our bug; the generator leaves
//!   those input classes out, each with a comment saying why. The seed is random, printed on
//!   failure, and `INTEROP_SEED=<n>` replays a run.
//!
//! # How outputs are compared
//!
//! * **Trees** (yaml and json outputs; also dotenv and ini in the generated cases, and `--extract`
//!   of anything that is not a string): both outputs are parsed and compared node by node, every
//!   document of a multi-document YAML stream, with map keys in order. YAML is parsed by `saphyr`,
//!   but each plain scalar is then resolved the way go-yaml v3 (the parser sops reads YAML with)
//!   resolves it, not by YAML 1.2 rules: `017` is 15, `1_000` is 1000, `2024-01-02` is a timestamp
//!   and not a string, and a quoted `"5"` stays a string. So "same tree" means "sops would read the
//!   same values back". Timestamps compare as Go prints them (RFC 3339, keeping their offset).
//!   Numbers compare by value: two integers exactly, anything else as f64 (NaN equals NaN). Integer
//!   and float are not told apart, because sops's own output does not keep them apart (a float 3.0
//!   prints as `3`, and the JSON store holds every number as a float); a JSON-store document is
//!   compared entirely as f64. Comments are not compared.
//! * **Bytes**: dotenv, ini and binary outputs of the fixtures, and `--extract` of a string. sops
//!   prints these deterministically (line-based stores in tree order; a string raw, without a
//!   newline), so ours must print exactly the same bytes. The generated dotenv and ini cases
//!   compare ours with sops's output byte for byte as well.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use support::interop::{FIXTURES, KEY1, Keys, Run, Tool, bytes_difference, fixture_names, preview};
use support::{Sandbox, parallel_map, sops_bin};

/// sops itself rejects this fixture with a MAC mismatch (SOPS_FORMAT.md §8).
const NEGATIVE_FIXTURE: &str = "edge_plainvals.yaml";
/// `secret-cascade`'s exit code for a decryption or integrity error.
const EXIT_DECRYPTION: i32 = 3;
/// Generated cases per (store, selection rule) pair: 4 stores x 6 rules x 16 = 384 cases.
const CASES_PER_STORE_AND_RULE: usize = 16;
/// Differences listed per comparison; the rest are counted.
const MAX_DIFFERENCES: usize = 12;

#[test]
fn fixtures_decrypt_as_sops_prints_them() {
    sops_bin();
    let names = fixture_names("enc");
    assert!(
        names.iter().any(|name| name == NEGATIVE_FIXTURE),
        "fixtures/sops/enc has no {NEGATIVE_FIXTURE}: {names:?}"
    );

    let problems: Vec<String> = parallel_map(&names, |name| check_fixture(name))
        .into_iter()
        .flatten()
        .collect();
    assert!(
        problems.is_empty(),
        "{} difference(s) between `sops decrypt` and `secret-cascade decrypt` over {} fixtures \
         (\"expected\" is what sops prints):\n{}",
        problems.len(),
        names.len(),
        problems.join("\n")
    );
}

#[test]
fn sops_encrypted_random_documents_decrypt_to_their_plaintext() {
    sops_bin();
    let seed = seed();
    eprintln!("sops_interop: INTEROP_SEED={seed}");
    let cases = plan_cases(seed);
    let failures: Vec<String> = parallel_map(&cases, run_case)
        .into_iter()
        .flatten()
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} generated cases failed; replay with INTEROP_SEED={seed}\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// Every difference between the two tools on one fixture, each line naming the fixture and view.
fn check_fixture(name: &str) -> Vec<String> {
    let sandbox = Sandbox::new();
    let keys = Keys::Both;
    let file = Path::new(FIXTURES).join("enc").join(name);
    if name == NEGATIVE_FIXTURE {
        return check_negative_fixture(&sandbox, keys, &file, name);
    }

    let format = Format::of(&file);
    let reference = Tool::Sops.decrypt(&sandbox, keys, &file, &[]);
    if !reference.ok() {
        return vec![format!(
            "{name}: sops itself cannot decrypt it ({})",
            reference.failure()
        )];
    }
    let docs = match format {
        Format::Binary => vec![],
        _ => match parse_output(format, &reference.stdout) {
            Ok(docs) => docs,
            Err(error) => return vec![format!("{name}: sops's output does not parse: {error}")],
        },
    };
    let native = if matches!(format, Format::Yaml | Format::Json) {
        Compare::Tree(format)
    } else {
        Compare::Bytes
    };

    let unnamed = sandbox.path().join("encrypted");
    std::fs::copy(&file, &unnamed).unwrap();
    let mut views = vec![
        FixtureView::of(&file, native, vec![]),
        FixtureView::of(
            &unnamed,
            native,
            flags([
                "--input-type",
                format.name(),
                "--output-type",
                format.name(),
            ]),
        ),
    ];
    for other in [Format::Yaml, Format::Json] {
        let whole_stream = other != Format::Json || docs.len() == 1;
        if other != format && whole_stream {
            let output = flags(["--output-type", other.name()]);
            views.push(FixtureView::of(&file, Compare::Tree(other), output).optional());
        }
    }
    if let [Node::Map(entries)] = docs.as_slice() {
        if let [(key, Node::Str(_))] = entries.as_slice()
            && key == "data"
        {
            let output = flags(["--output-type", "binary"]);
            views.push(FixtureView::of(&file, Compare::Bytes, output));
        }
        for (key, value) in entries.iter().filter(|(key, _)| extractable(key)) {
            if value.is_container() && extracts_only_scalars(format, &docs) {
                continue;
            }
            let compare = match value {
                Node::Str(_) => Compare::Bytes,
                _ => Compare::Tree(format),
            };
            let extract = flags(["--extract", &format!("[\"{key}\"]")]);
            views.push(FixtureView::of(&file, compare, extract).optional());
        }
    }

    let mut problems = Vec::new();
    for view in views {
        let label = format!("{name} {}", view_label(&view.flags));
        let sops = Tool::Sops.decrypt(&sandbox, keys, &view.file, &view.flags);
        if !sops.ok() {
            if !view.optional {
                problems.push(format!("{label}: sops itself fails: {}", sops.failure()));
            }
            continue;
        }
        let expected = match view.compare.expect(&sops.stdout) {
            Ok(expected) => expected,
            Err(error) => {
                problems.push(format!("{label}: sops's output does not parse: {error}"));
                continue;
            }
        };
        let ours = Tool::Ours.decrypt(&sandbox, keys, &view.file, &view.flags);
        problems.extend(
            check_run(&expected, &ours)
                .into_iter()
                .map(|p| format!("{label}: {p}")),
        );
    }
    problems
}

/// sops must reject the file, and ours must too, as a decryption error.
fn check_negative_fixture(sandbox: &Sandbox, keys: Keys, file: &Path, name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let sops = Tool::Sops.decrypt(sandbox, keys, file, &[]);
    if sops.ok() || !sops.stderr.contains("MAC mismatch") {
        problems.push(format!(
            "{name}: sops was expected to fail with a MAC mismatch, but it exited {} with {}",
            sops.code,
            preview(&sops.stderr)
        ));
    }
    let ours = Tool::Ours.decrypt(sandbox, keys, file, &[]);
    if ours.code != EXIT_DECRYPTION {
        problems.push(format!(
            "{name}: secret-cascade must fail with exit code {EXIT_DECRYPTION} like sops does \
             (MAC mismatch), but it exited {} (stdout {}, stderr {})",
            ours.code,
            preview(&String::from_utf8_lossy(&ours.stdout)),
            preview(&ours.stderr)
        ));
    }
    problems
}

/// One way of decrypting a fixture: the flags both tools get and how their outputs are compared.
struct FixtureView {
    file: PathBuf,
    flags: Vec<String>,
    compare: Compare,
    /// If sops cannot print this view, there is nothing to compare (rather than a broken fixture).
    optional: bool,
}

impl FixtureView {
    fn of(file: &Path, compare: Compare, flags: Vec<String>) -> Self {
        Self {
            file: file.to_owned(),
            flags,
            compare,
            optional: false,
        }
    }

    fn optional(self) -> Self {
        Self {
            optional: true,
            ..self
        }
    }
}

#[derive(Clone, Copy)]
enum Compare {
    Bytes,
    Tree(Format),
}

impl Compare {
    /// What ours must print, given what sops printed.
    fn expect(self, sops_output: &[u8]) -> Result<Expected, String> {
        Ok(match self {
            Compare::Bytes => Expected::Bytes(sops_output.to_vec()),
            Compare::Tree(format) => Expected::Tree {
                format,
                numbers: Numbers::Typed,
                docs: parse_output(format, sops_output)?,
            },
        })
    }
}

/// Keys that sops's `--extract` syntax (`["key"]`, taken literally, no escapes) can name, in a
/// command-line argument (no NUL).
fn extractable(key: &str) -> bool {
    !key.is_empty() && !key.contains(['"', '\'', '\\', '[', ']', '\0'])
}

/// `[--output-type json]`, or `[default]` without flags.
fn view_label(flags: &[String]) -> String {
    match flags {
        [] => "[default]".to_owned(),
        flags => format!("[{}]", flags.join(" ")),
    }
}

fn flags<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    items.into_iter().map(str::to_owned).collect()
}

// ---------------------------------------------------------------------------------------------
// Generated round trips

/// One generated document and how it is encrypted.
struct Case {
    index: usize,
    store: Format,
    rule: Rule,
    docs: Vec<Node>,
    /// Where `--extract` looks, with the node it must print.
    extract: Option<(String, Node)>,
}

fn seed() -> u64 {
    match std::env::var("INTEROP_SEED") {
        Ok(text) => {
            let text = text.trim();
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("INTEROP_SEED={text:?} is not a number"))
        }
        Err(_) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            Rng(now.as_nanos() as u64 ^ u64::from(std::process::id())).next_u64()
        }
    }
}

fn plan_cases(seed: u64) -> Vec<Case> {
    let mut cases = Vec::new();
    for store in [Format::Yaml, Format::Json, Format::Dotenv, Format::Ini] {
        for rule in Rule::ALL {
            for _ in 0..CASES_PER_STORE_AND_RULE {
                let index = cases.len();
                let mut rng = Rng(seed ^ (index as u64).wrapping_mul(0xA076_1D64_78BD_642F));
                let docs = generate_docs(&mut rng, store);
                let extract = pick_extract(&mut rng, store, &docs);
                cases.push(Case {
                    index,
                    store,
                    rule,
                    docs,
                    extract,
                });
            }
        }
    }
    cases
}

/// Encrypts the case with sops and checks every view with both tools; `Some(report)` on failure.
fn run_case(case: &Case) -> Option<String> {
    let sandbox = Sandbox::new();
    let key = Keys::One;
    let extension = case.store.extension();
    let plaintext = write_store(case.store, &case.docs);
    let plain = sandbox.write(&format!("plain.{extension}"), &plaintext);
    let report = |problems: &[String]| {
        format!(
            "case {} ({} store, {}):\n  {}\n  plaintext input:\n{}",
            case.index,
            case.store.name(),
            case.rule.describe(),
            problems.join("\n  "),
            indent(&preview_long(&plaintext), "    | ")
        )
    };

    let encryption = Tool::Sops.run(&sandbox, Some(key), &case.rule.encrypt_args(&plain), None);
    if !encryption.ok() {
        let problem = format!("sops itself cannot encrypt it: {}", encryption.failure());
        return Some(report(&[problem]));
    }
    let encrypted = sandbox.path().join(format!("encrypted.{extension}"));
    std::fs::write(&encrypted, &encryption.stdout).unwrap();

    let mut problems = Vec::new();
    for (flags, expected) in case_views(case) {
        let sops = Tool::Sops.decrypt(&sandbox, key, &encrypted, &flags);
        let ours = Tool::Ours.decrypt(&sandbox, key, &encrypted, &flags);
        let label = view_label(&flags);
        for problem in check_run(&expected, &sops) {
            problems.push(format!(
                "{label} sops itself does not round-trip this input (the generator must not \
                 produce it): {problem}"
            ));
        }
        problems.extend(
            check_run(&expected, &ours)
                .into_iter()
                .map(|p| format!("{label} {p}")),
        );
        let line_based = matches!(case.store, Format::Dotenv | Format::Ini);
        if flags.is_empty()
            && line_based
            && sops.ok()
            && ours.ok()
            && let Some(difference) = bytes_difference(&sops.stdout, &ours.stdout)
        {
            problems.push(format!("{label} not the bytes sops prints: {difference}"));
        }
    }
    (!problems.is_empty()).then(|| report(&problems))
}

/// The decryptions of one case: native, the other tree format (where sops has one), `--extract`.
fn case_views(case: &Case) -> Vec<(Vec<String>, Expected)> {
    let numbers = case.store.numbers();
    let tree = |format, docs: Vec<Node>| Expected::Tree {
        format,
        numbers,
        docs,
    };
    let mut views = vec![(vec![], tree(case.store, case.docs.clone()))];
    let other_format = match case.store {
        // Go's JSON encoder cannot encode ±Inf/NaN, and sops prints only the first document
        Format::Yaml if case.docs.len() > 1 || case.docs[0].has_non_finite() => None,
        Format::Yaml => Some((Format::Json, vec![case.docs[0].json_view()])),
        Format::Json => Some((Format::Yaml, case.docs.clone())),
        _ => Some((Format::Json, case.docs.clone())),
    };
    if let Some((format, docs)) = other_format {
        views.push((flags(["--output-type", format.name()]), tree(format, docs)));
    }
    if let Some((path, node)) = &case.extract {
        let expected = match node {
            Node::Str(text) => Expected::Bytes(text.clone().into_bytes()),
            other => tree(case.store, vec![other.clone()]),
        };
        views.push((flags(["--extract", path]), expected));
    }
    views
}

/// The selection rules sops can encrypt with (SOPS_FORMAT.md §6).
#[derive(Clone, Copy)]
enum Rule {
    /// No flag: sops writes `unencrypted_suffix: _unencrypted`.
    Default,
    UnencryptedSuffix,
    EncryptedSuffix,
    EncryptedRegex,
    UnencryptedRegex,
    MacOnlyEncrypted,
}

const SECRET_REGEX: &str = "^(password|token)";
const PUBLIC_REGEX: &str = "^(public|id)";

impl Rule {
    const ALL: [Rule; 6] = [
        Rule::Default,
        Rule::UnencryptedSuffix,
        Rule::EncryptedSuffix,
        Rule::EncryptedRegex,
        Rule::UnencryptedRegex,
        Rule::MacOnlyEncrypted,
    ];

    fn flags(self) -> Vec<String> {
        match self {
            Rule::Default => vec![],
            Rule::UnencryptedSuffix => flags(["--unencrypted-suffix", "_pub"]),
            Rule::EncryptedSuffix => flags(["--encrypted-suffix", "_secret"]),
            Rule::EncryptedRegex => flags(["--encrypted-regex", SECRET_REGEX]),
            Rule::UnencryptedRegex => flags(["--unencrypted-regex", PUBLIC_REGEX]),
            Rule::MacOnlyEncrypted => {
                flags(["--mac-only-encrypted", "--encrypted-regex", SECRET_REGEX])
            }
        }
    }

    fn describe(self) -> String {
        match self {
            Rule::Default => "default rule, suffix _unencrypted".to_owned(),
            rule => rule.flags().join(" "),
        }
    }

    /// The sops command line that encrypts `file` to [`KEY1`] under this rule.
    /// `--config /dev/null` keeps any `.sops.yaml` around the sandbox out of it.
    fn encrypt_args(self, file: &Path) -> Vec<String> {
        let file = file.display().to_string();
        let mut args = flags(["--config", "/dev/null"]);
        match self {
            // `--mac-only-encrypted` exists only on sops's top-level command: `sops encrypt`
            // rejects it, and before `encrypt` it is silently ignored. So use the legacy `-e`.
            Rule::MacOnlyEncrypted => {
                args.extend(self.flags());
                args.extend(flags(["--age", KEY1, "-e", &file]));
            }
            _ => {
                args.extend(flags(["encrypt", "--age", KEY1]));
                args.extend(self.flags());
                args.push(file);
            }
        }
        args
    }
}

/// SplitMix64: small and seedable, enough to pick test inputs.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `range`.
    fn within(&mut self, range: std::ops::RangeInclusive<usize>) -> usize {
        let span = (range.end() - range.start() + 1) as u64;
        range.start() + (self.next_u64() % span) as usize
    }

    fn percent(&mut self, chance: u64) -> bool {
        self.next_u64() % 100 < chance
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.within(0..=items.len() - 1)]
    }
}

/// Pieces of generated strings: YAML indicators, look-alikes of other types (base-60 floats, which
/// go-yaml quotes, among them), unicode, whitespace.
/// Left out everywhere: NEL (U+0085) and U+2028/U+2029, which go-yaml turns into a space when it
/// reads an unencrypted value back, so sops does not round-trip them; and U+FEFF, go-yaml's
/// byte-order mark: sops refused a two-document file with two of them inside quoted strings
/// ("did not find expected key"), though not the same file with either one removed.
#[rustfmt::skip]
const FRAGMENTS: &[&str] = &[
    "a", "secret", "hello world", "x", " ", "  ", "\t", "\n", "\n", "é", "ß", "日本語", "🔑", "\u{a0}",
    "\u{7}", "\0", ":", ": ", "- ", "#", " #", "'", "\"", "\\", "{", "}", "[", "]", ",", "&", "*",
    "!", "|", ">", "%", "@", "`", "?", "=", ";", "~", "true", "null", "yes", "no", "on", "123",
    "-7", "0x1F", "017", "1e3", "1_000", ".inf", ".nan", "2024-01-02", "2024-01-02T03:04:05Z",
    "---", "...", "1:20", "190:20:30.15", "+1:59",
];

#[rustfmt::skip]
const KEY_WORDS: &[&str] = &[
    "host", "port", "user", "name", "password", "token", "public", "id", "données", "日本語", "🔑",
    "with space", "colon:key", "dot.key", "dash-key", "CamelCase", "x",
];

/// Suffixes that the selection rules look for, and some that none does.
const KEY_SUFFIXES: &[&str] = &["", "", "", "_unencrypted", "_pub", "_secret", "_enc"];

fn generate_docs(rng: &mut Rng, store: Format) -> Vec<Node> {
    match store {
        Format::Yaml => {
            let count = if rng.percent(20) {
                rng.within(2..=3)
            } else {
                1
            };
            (0..count)
                .map(|_| Node::Map(generate_map(rng, store, 0)))
                .collect()
        }
        Format::Json => vec![Node::Map(generate_map(rng, store, 0))],
        Format::Dotenv => {
            let entries = (0..rng.within(1..=8)).map(|_| {
                (
                    generate_key(rng, store),
                    Node::Str(generate_string(rng, store)),
                )
            });
            vec![Node::Map(unique(entries))]
        }
        Format::Ini => {
            // go-ini puts keys above the first section into DEFAULT, and sops always has one
            let orphans = if rng.percent(30) {
                generate_ini_section(rng, 1..=3)
            } else {
                vec![]
            };
            let mut sections = vec![("DEFAULT".to_owned(), Node::Map(orphans))];
            let named = (0..rng.within(1..=4)).map(|_| {
                let name = generate_key(rng, store);
                (name, Node::Map(generate_ini_section(rng, 0..=5)))
            });
            sections.extend(unique(named));
            vec![Node::Map(sections)]
        }
        Format::Binary => unreachable!("no generated binary documents"),
    }
}

fn generate_ini_section(
    rng: &mut Rng,
    size: std::ops::RangeInclusive<usize>,
) -> Vec<(String, Node)> {
    let entries = (0..rng.within(size)).map(|_| {
        (
            generate_key(rng, Format::Ini),
            Node::Str(generate_string(rng, Format::Ini)),
        )
    });
    unique(entries)
}

/// Map entries without repeated keys (the first one wins).
fn unique(entries: impl Iterator<Item = (String, Node)>) -> Vec<(String, Node)> {
    let mut kept: Vec<(String, Node)> = Vec::new();
    for (key, value) in entries {
        if !kept.iter().any(|(existing, _)| *existing == key) {
            kept.push((key, value));
        }
    }
    kept
}

fn generate_map(rng: &mut Rng, store: Format, depth: usize) -> Vec<(String, Node)> {
    let size = if depth == 0 { 1..=6 } else { 0..=4 };
    let entries = (0..rng.within(size)).map(|_| {
        (
            generate_key(rng, store),
            generate_value(rng, store, depth + 1),
        )
    });
    unique(entries)
        .into_iter()
        // a top-level `sops` key is where sops keeps its metadata; it refuses such a file
        .filter(|(key, _)| depth > 0 || key.as_str() != "sops")
        .collect()
}

fn generate_value(rng: &mut Rng, store: Format, depth: usize) -> Node {
    if depth <= 3 && rng.percent(25) {
        if rng.percent(50) {
            Node::Map(generate_map(rng, store, depth))
        } else {
            Node::List(
                (0..rng.within(0..=4))
                    .map(|_| generate_value(rng, store, depth + 1))
                    .collect(),
            )
        }
    } else {
        generate_scalar(rng, store)
    }
}

fn generate_scalar(rng: &mut Rng, store: Format) -> Node {
    let yaml = store == Format::Yaml;
    match rng.within(0..=99) {
        0..=44 => Node::Str(generate_string(rng, store)),
        45..=59 => Node::Int(generate_int(rng)),
        60..=74 => Node::Float(generate_float(rng, yaml)),
        75..=81 => Node::Bool(rng.percent(50)),
        82..=89 => Node::Null,
        // timestamps exist only in YAML (a JSON string stays a string)
        _ if yaml => Node::Time(generate_time(rng)),
        _ => Node::Str(generate_string(rng, store)),
    }
}

fn generate_key(rng: &mut Rng, store: Format) -> String {
    let key = if matches!(store, Format::Yaml | Format::Json) && rng.percent(10) {
        generate_string(rng, store)
    } else {
        let mut key = rng.pick(KEY_WORDS).to_string();
        if rng.percent(30) {
            key = format!("{key}_{}", rng.pick(KEY_WORDS));
        }
        key + *rng.pick(KEY_SUFFIXES)
    };
    match store {
        // dotenv: everything before the first `=` is the key, and `#` starts a comment line;
        // `sops_` keys hold the metadata
        Format::Dotenv if key.starts_with("sops") => format!("x{key}"),
        Format::Dotenv => key.replace(['=', '\n', '#'], "_"),
        // go-ini: `=` and `:` end a key, `;`/`#` start comments, `[` a section, quotes are eaten;
        // sops refuses a `[sops]` section and DEFAULT is where keys above every section go
        Format::Ini if key == "sops" || key == "DEFAULT" => format!("x{key}"),
        Format::Ini => key.replace(['=', ':', ';', '#', '[', ']', '"', '\'', '`'], "_"),
        _ => key,
    }
}

fn generate_string(rng: &mut Rng, store: Format) -> String {
    let mut text: String = (0..rng.within(0..=5))
        .map(|_| *rng.pick(FRAGMENTS))
        .collect();
    match store {
        // go-yaml v3 writes a list item whose first line is blank or starts with a space as a
        // block scalar with a wrong indentation indicator, which it then cannot read: sops cannot
        // decrypt its own file if that item is unencrypted, nor print a JSON document as YAML.
        // So a multi-line string starts with a visible character.
        Format::Yaml | Format::Json
            if text.contains('\n') && text.starts_with(char::is_whitespace) =>
        {
            text.insert(0, 'x');
        }
        // sops's dotenv store turns the two characters `\n` into a line break when it reads, so a
        // backslash before an `n` cannot come back as written
        Format::Dotenv => text = text.replace("\\n", "\\_n"),
        // go-ini cuts a value at `;`/`#`, strips quotes around it and a trailing backslash, and
        // trims it; a value has one line
        Format::Ini => {
            text = text
                .replace(['\n', ';', '#', '"', '\'', '`', '\\'], "_")
                .trim()
                .to_owned();
        }
        _ => {}
    }
    text
}

fn generate_int(rng: &mut Rng) -> i64 {
    match rng.within(0..=5) {
        0 => i64::MAX,
        1 => i64::MIN,
        2 => rng.next_u64() as i64,
        3 => 10_i64.pow(rng.within(0..=18) as u32),
        _ => rng.within(0..=2000) as i64 - 1000,
    }
}

/// A float that sops round-trips. Never -0.0: sops hashes an unencrypted -0.0 as `-0` but writes
/// it back as `-0`, an int, so it cannot decrypt its own file (SOPS_FORMAT.md §8).
/// ±Inf and NaN only where the store can write them (YAML).
fn generate_float(rng: &mut Rng, non_finite: bool) -> f64 {
    let value = match rng.within(0..=9) {
        0 if non_finite => *rng.pick(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN]),
        1 => *rng.pick(&[
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            1e300,
            1e21,
            1e-7,
        ]),
        2 => (rng.within(0..=2000) as f64) - 1000.0,
        3..=5 => loop {
            let bits = f64::from_bits(rng.next_u64());
            if bits.is_finite() {
                break bits;
            }
        },
        _ => {
            (rng.within(0..=2_000_000) as f64 - 1_000_000.0) / 10_f64.powi(rng.within(1..=6) as i32)
        }
    };
    if value == 0.0 { 0.0 } else { value }
}

/// A timestamp as sops prints one: RFC 3339 with only significant fraction digits, `Z` for UTC.
fn generate_time(rng: &mut Rng) -> String {
    let date = format!(
        "{:04}-{:02}-{:02}",
        rng.within(1970..=2099),
        rng.within(1..=12),
        rng.within(1..=28)
    );
    let clock = format!(
        "T{:02}:{:02}:{:02}",
        rng.within(0..=23),
        rng.within(0..=59),
        rng.within(0..=59)
    );
    let fraction = match rng.within(0..=2) {
        0 => String::new(),
        _ => {
            let digits = rng.within(1..=9);
            let value = rng.next_u64() % 10_u64.pow(digits as u32);
            let text = format!(".{value:0digits$}");
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
    };
    let zone = match rng.within(0..=2) {
        0 => "Z".to_owned(),
        _ => {
            let minutes = rng.within(1..=14 * 60);
            let sign = if rng.percent(50) { '+' } else { '-' };
            format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
        }
    };
    format!("{date}{clock}{fraction}{zone}")
}

/// Whether `--extract` is compared only for scalars. sops cannot print an INI section (except an
/// empty one, as nothing), and from a YAML stream it prints an extracted map or list followed by
/// every other document of the stream: sops bugs not worth copying.
fn extracts_only_scalars(format: Format, docs: &[Node]) -> bool {
    docs.len() > 1 || matches!(format, Format::Dotenv | Format::Ini)
}

/// A random path into the first document, in sops's `--extract` syntax, with the node there.
fn pick_extract(rng: &mut Rng, store: Format, docs: &[Node]) -> Option<(String, Node)> {
    let to_a_scalar = extracts_only_scalars(store, docs);
    let mut path = String::new();
    let mut node = &docs[0];
    loop {
        let next = match node {
            Node::Map(entries) if !entries.is_empty() => {
                let (key, value) = rng.pick(entries);
                extractable(key).then(|| (format!("[\"{key}\"]"), value))
            }
            Node::List(items) if !items.is_empty() => {
                let index = rng.within(0..=items.len() - 1);
                Some((format!("[{index}]"), &items[index]))
            }
            _ => None,
        };
        match next {
            Some((segment, child)) if path.is_empty() || to_a_scalar || rng.percent(60) => {
                path.push_str(&segment);
                node = child;
            }
            _ if path.is_empty() || (to_a_scalar && node.is_container()) => return None,
            _ => return Some((path, node.clone())),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Trees, and comparing them

/// A decrypted document as sops sees it (SOPS_FORMAT.md §2).
#[derive(Clone, Debug)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A YAML timestamp, as RFC 3339 text the way Go prints it (see [`go_timestamp`]).
    Time(String),
    /// A YAML `!!binary` string: bytes that are not UTF-8. Equal to a string with the same bytes.
    Bytes(Vec<u8>),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    fn is_container(&self) -> bool {
        matches!(self, Node::List(_) | Node::Map(_))
    }

    fn has_non_finite(&self) -> bool {
        match self {
            Node::Float(value) => !value.is_finite(),
            Node::List(items) => items.iter().any(Node::has_non_finite),
            Node::Map(entries) => entries.iter().any(|(_, value)| value.has_non_finite()),
            _ => false,
        }
    }

    /// The same tree as sops's JSON output shows it: a timestamp becomes its text.
    fn json_view(&self) -> Node {
        match self {
            Node::Time(text) => Node::Str(text.clone()),
            Node::List(items) => Node::List(items.iter().map(Node::json_view).collect()),
            Node::Map(entries) => Node::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.json_view()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Node::Int(value) => Some(*value as f64),
            Node::Float(value) => Some(*value),
            _ => None,
        }
    }

    /// A short description for difference reports.
    fn describe(&self) -> String {
        match self {
            Node::Null => "null".to_owned(),
            Node::Bool(value) => format!("bool {value}"),
            Node::Int(value) => format!("int {value}"),
            Node::Float(value) => format!("float {value:?}"),
            Node::Str(text) => format!("string {}", preview(text)),
            Node::Time(text) => format!("timestamp {text}"),
            Node::Bytes(bytes) => format!("binary {}", preview(&String::from_utf8_lossy(bytes))),
            Node::List(items) => format!("a list of {}", items.len()),
            Node::Map(entries) => format!("a map of {}", entries.len()),
        }
    }
}

/// How numbers compare: see the module docs.
#[derive(Clone, Copy, PartialEq)]
enum Numbers {
    /// Two integers exactly, anything else as f64.
    Typed,
    /// Everything as f64: the JSON store keeps every number as a float64.
    AsF64,
}

/// What a decryption must print.
enum Expected {
    Bytes(Vec<u8>),
    Tree {
        format: Format,
        numbers: Numbers,
        docs: Vec<Node>,
    },
}

/// The differences between what `run` printed and what it should have.
fn check_run(expected: &Expected, run: &Run) -> Vec<String> {
    if !run.ok() {
        return vec![run.failure()];
    }
    match expected {
        Expected::Bytes(bytes) => bytes_difference(bytes, &run.stdout)
            .map(|difference| format!("{} {difference}", run.tool))
            .into_iter()
            .collect(),
        Expected::Tree {
            format,
            numbers,
            docs,
        } => match parse_output(*format, &run.stdout) {
            Ok(actual) => {
                let mut differences = Vec::new();
                diff_docs(docs, &actual, *numbers, &mut differences);
                if differences.len() > MAX_DIFFERENCES {
                    let more = differences.len() - MAX_DIFFERENCES;
                    differences.truncate(MAX_DIFFERENCES);
                    differences.push(format!("... and {more} more differences"));
                }
                differences
                    .into_iter()
                    .map(|difference| format!("{} {difference}", run.tool))
                    .collect()
            }
            Err(error) => vec![format!(
                "{} printed no valid {}: {error}; output starts {}",
                run.tool,
                format.name(),
                preview(&String::from_utf8_lossy(&run.stdout))
            )],
        },
    }
}

fn diff_docs(expected: &[Node], actual: &[Node], numbers: Numbers, out: &mut Vec<String>) {
    if expected.len() != actual.len() {
        out.push(format!(
            "printed {} document(s), expected {}",
            actual.len(),
            expected.len()
        ));
    }
    let stream = expected.len() > 1;
    for (index, (expected, actual)) in expected.iter().zip(actual).enumerate() {
        let root = if stream {
            format!("document {index} ")
        } else {
            String::new()
        };
        diff_node(&root, expected, actual, numbers, out);
    }
}

/// Appends to `out` every place where `actual` differs from `expected`; paths are written in
/// sops's `--extract` syntax.
fn diff_node(path: &str, expected: &Node, actual: &Node, numbers: Numbers, out: &mut Vec<String>) {
    let at = if path.is_empty() {
        "at the root".to_owned()
    } else {
        format!("at {path}")
    };
    match (expected, actual) {
        (Node::Map(expected), Node::Map(actual)) => {
            let expected_keys: Vec<&str> = expected.iter().map(|(key, _)| key.as_str()).collect();
            let actual_keys: Vec<&str> = actual.iter().map(|(key, _)| key.as_str()).collect();
            if expected_keys != actual_keys {
                let repeated = actual_keys
                    .iter()
                    .enumerate()
                    .filter(|(at, key)| actual_keys[..*at].contains(key))
                    .map(|(_, key)| *key)
                    .collect::<Vec<_>>();
                let missing: Vec<&str> = expected_keys
                    .iter()
                    .copied()
                    .filter(|k| !actual_keys.contains(k))
                    .collect();
                let extra: Vec<&str> = actual_keys
                    .iter()
                    .copied()
                    .filter(|k| !expected_keys.contains(k))
                    .collect();
                if !repeated.is_empty() {
                    out.push(format!("{at}: repeated keys {repeated:?}"));
                } else if missing.is_empty() && extra.is_empty() {
                    out.push(format!(
                        "{at}: keys in another order: {actual_keys:?}, expected {expected_keys:?}"
                    ));
                } else {
                    out.push(format!(
                        "{at}: missing keys {missing:?}, unexpected keys {extra:?}"
                    ));
                }
            }
            for (key, expected) in expected {
                if let Some((_, actual)) = actual.iter().find(|(k, _)| k == key) {
                    diff_node(&format!("{path}[{key:?}]"), expected, actual, numbers, out);
                }
            }
        }
        (Node::List(expected), Node::List(actual)) => {
            if expected.len() != actual.len() {
                out.push(format!(
                    "{at}: a list of {}, expected {}",
                    actual.len(),
                    expected.len()
                ));
            }
            for (index, (expected, actual)) in expected.iter().zip(actual).enumerate() {
                diff_node(&format!("{path}[{index}]"), expected, actual, numbers, out);
            }
        }
        _ if scalars_equal(expected, actual, numbers) => {}
        _ => out.push(format!(
            "{at}: {}, expected {}",
            actual.describe(),
            expected.describe()
        )),
    }
}

fn scalars_equal(expected: &Node, actual: &Node, numbers: Numbers) -> bool {
    match (expected, actual) {
        (Node::Null, Node::Null) => true,
        (Node::Bool(a), Node::Bool(b)) => a == b,
        (Node::Str(a), Node::Str(b)) | (Node::Time(a), Node::Time(b)) => a == b,
        (Node::Bytes(a), Node::Bytes(b)) => a == b,
        (Node::Str(text), Node::Bytes(bytes)) | (Node::Bytes(bytes), Node::Str(text)) => {
            text.as_bytes() == bytes.as_slice()
        }
        (Node::Int(a), Node::Int(b)) if numbers == Numbers::Typed => a == b,
        _ => match (expected.as_f64(), actual.as_f64()) {
            (Some(a), Some(b)) => a == b || (a.is_nan() && b.is_nan()),
            _ => false,
        },
    }
}

fn preview_long(text: &str) -> String {
    const LIMIT: usize = 2000;
    match text.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{}\n... ({} more bytes)", &text[..end], text.len() - end),
        None => text.to_owned(),
    }
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|line| format!("{prefix}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// Stores: reading the outputs, writing the generated inputs

/// A sops store, named as `--input-type`/`--output-type` name it. Deliberately not the library's
/// `sops::Format`: the oracle of an interop test must not be derived from the code it checks.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Format {
    Yaml,
    Json,
    Dotenv,
    Ini,
    Binary,
}

impl Format {
    /// How sops picks the store from a file name.
    fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Format::Yaml,
            Some("json") => Format::Json,
            Some("env") => Format::Dotenv,
            Some("ini") => Format::Ini,
            _ => Format::Binary,
        }
    }

    /// The file extension sops picks this store by.
    fn extension(self) -> &'static str {
        match self {
            Format::Dotenv => "env",
            other => other.name(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
            Format::Binary => "binary",
        }
    }

    fn numbers(self) -> Numbers {
        match self {
            Format::Json => Numbers::AsF64,
            _ => Numbers::Typed,
        }
    }
}

/// The documents of a decrypted output (one, except for a YAML stream).
fn parse_output(format: Format, bytes: &[u8]) -> Result<Vec<Node>, String> {
    let text = std::str::from_utf8(bytes).map_err(|error| format!("not UTF-8: {error}"))?;
    match format {
        Format::Json => {
            let (numbers, skeleton) = json_numbers(text);
            let value =
                serde_json::from_str(&skeleton).map_err(|error| format!("not JSON: {error}"))?;
            Ok(vec![json_node(&value, &mut numbers.into_iter())])
        }
        Format::Yaml => parse_yaml(text),
        Format::Dotenv => parse_dotenv(text).map(|doc| vec![doc]),
        Format::Ini => parse_ini(text).map(|doc| vec![doc]),
        Format::Binary => unreachable!("binary output has no tree to parse"),
    }
}

fn write_store(store: Format, docs: &[Node]) -> String {
    match store {
        Format::Yaml => write_yaml(docs),
        Format::Json => serde_json::to_string_pretty(&to_json(&docs[0])).unwrap() + "\n",
        Format::Dotenv => write_dotenv(&docs[0]),
        Format::Ini => write_ini(&docs[0]),
        Format::Binary => unreachable!("no generated binary documents"),
    }
}

/// `numbers` are the texts of the document's numbers in order (see [`json_numbers`]); one that
/// is not a JSON number becomes a string saying so, which shows up as a difference.
fn json_node<'a>(value: &serde_json::Value, numbers: &mut impl Iterator<Item = &'a str>) -> Node {
    use serde_json::Value;
    match value {
        Value::Null => Node::Null,
        Value::Bool(value) => Node::Bool(*value),
        Value::Number(_) => {
            let text = numbers.next().unwrap_or_default();
            match (text.parse(), text.parse()) {
                _ if !is_json_number(text) => Node::Str(format!("<not a JSON number: {text}>")),
                (Ok(int), _) => Node::Int(int),
                (_, Ok(float)) => Node::Float(float),
                _ => Node::Str(format!("<not a JSON number: {text}>")),
            }
        }
        Value::String(text) => Node::Str(text.clone()),
        Value::Array(items) => {
            Node::List(items.iter().map(|item| json_node(item, numbers)).collect())
        }
        // serde_json keeps the document's key order (feature `preserve_order`)
        Value::Object(entries) => Node::Map(
            entries
                .iter()
                .map(|(key, value)| (key.clone(), json_node(value, numbers)))
                .collect(),
        ),
    }
}

/// The numbers of a JSON text in document order, and the text with each of them replaced by `0`.
/// serde_json (without `float_roundtrip`) may read a long float one ULP off, and refuses a float
/// written out in 309 digits, so it parses only the skeleton and [`json_node`] parses the numbers
/// with Rust's exact parser.
fn json_numbers(text: &str) -> (Vec<&str>, String) {
    let bytes = text.as_bytes();
    let mut numbers = Vec::new();
    let mut skeleton = String::with_capacity(text.len());
    let mut copied = 0;
    let (mut at, mut in_string) = (0, false);
    while at < bytes.len() {
        match bytes[at] {
            b'\\' if in_string => at += 1,
            b'"' => in_string = !in_string,
            b'-' | b'0'..=b'9' if !in_string => {
                let length = bytes[at..]
                    .iter()
                    .take_while(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .count();
                numbers.push(&text[at..at + length]);
                skeleton.push_str(&text[copied..at]);
                skeleton.push('0');
                at += length;
                copied = at;
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    skeleton.push_str(&text[copied..]);
    (numbers, skeleton)
}

/// JSON's number syntax: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`.
fn is_json_number(text: &str) -> bool {
    let (whole, fraction, exponent_ok) = number_parts(text.strip_prefix('-').unwrap_or(text));
    digits(whole)
        && (whole == "0" || !whole.starts_with('0'))
        && fraction.is_none_or(digits)
        && exponent_ok
}

fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match node {
        Node::Null => Value::Null,
        Node::Bool(value) => Value::Bool(*value),
        Node::Int(value) => Value::from(*value),
        Node::Float(value) => Value::from(*value),
        Node::Str(text) | Node::Time(text) => Value::String(text.clone()),
        Node::List(items) => Value::Array(items.iter().map(to_json).collect()),
        Node::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
        Node::Bytes(_) => unreachable!("generated documents hold only UTF-8 strings"),
    }
}

/// sops's dotenv store (SOPS_FORMAT.md §2): `KEY=value` lines, the value verbatim after the first
/// `=` except that the two characters `\n` stand for a line break; `#` starts a comment line.
fn parse_dotenv(text: &str) -> Result<Node, String> {
    let mut entries = Vec::new();
    for line in text.split('\n') {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("dotenv line without `=`: {}", preview(line)))?;
        entries.push((key.to_owned(), Node::Str(value.replace("\\n", "\n"))));
    }
    Ok(Node::Map(entries))
}

fn write_dotenv(doc: &Node) -> String {
    let Node::Map(entries) = doc else {
        unreachable!("a dotenv document is a map")
    };
    entries
        .iter()
        .map(|(key, value)| match value {
            Node::Str(text) => format!("{key}={}\n", text.replace('\n', "\\n")),
            other => unreachable!("dotenv values are strings, not {other:?}"),
        })
        .collect()
}

/// sops's INI store (SOPS_FORMAT.md §2): `[section]` headers, `key = value` lines with both sides
/// trimmed, `;`/`#` comment lines. Keys above every section belong to `DEFAULT`, which sops always
/// has, first; so does a `[DEFAULT]` section, as in go-ini.
fn parse_ini(text: &str) -> Result<Node, String> {
    let mut sections = vec![("DEFAULT".to_owned(), Vec::new())];
    let mut current = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with([';', '#']) {
            continue;
        }
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            if name != "DEFAULT" {
                sections.push((name.to_owned(), Vec::new()));
            }
            current = sections
                .iter()
                .rposition(|(section, _)| section == name)
                .unwrap();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("INI line without `=`: {}", preview(line)))?;
        let entry = (key.trim().to_owned(), Node::Str(value.trim().to_owned()));
        sections[current].1.push(entry);
    }
    Ok(Node::Map(
        sections
            .into_iter()
            .map(|(name, entries)| (name, Node::Map(entries)))
            .collect(),
    ))
}

fn write_ini(doc: &Node) -> String {
    let Node::Map(sections) = doc else {
        unreachable!("an INI document is a map")
    };
    let mut out = String::new();
    for (name, section) in sections {
        let Node::Map(entries) = section else {
            unreachable!("INI sections are maps")
        };
        if name != "DEFAULT" {
            writeln!(out, "[{name}]").unwrap();
        }
        for (key, value) in entries {
            let Node::Str(text) = value else {
                unreachable!("INI values are strings")
            };
            writeln!(out, "{key} = {text}").unwrap();
        }
        out.push('\n');
    }
    out
}

/// Block-style YAML; every string double-quoted (JSON escapes are valid YAML ones), so that each
/// scalar means exactly what the tree says.
fn write_yaml(docs: &[Node]) -> String {
    let mut out = String::new();
    for (index, doc) in docs.iter().enumerate() {
        if index > 0 {
            out.push_str("---\n");
        }
        write_yaml_block(doc, 0, &mut out);
    }
    out
}

fn write_yaml_block(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Node::Map(entries) if !entries.is_empty() => {
            for (key, value) in entries {
                write!(out, "{pad}{}:", serde_json::to_string(key).unwrap()).unwrap();
                write_yaml_value(value, indent + 2, out);
            }
        }
        Node::List(items) if !items.is_empty() => {
            for item in items {
                write!(out, "{pad}-").unwrap();
                write_yaml_value(item, indent + 2, out);
            }
        }
        scalar => writeln!(out, "{pad}{}", yaml_scalar_text(scalar)).unwrap(),
    }
}

/// Writes the value after a `key:` or `-` indicator.
fn write_yaml_value(node: &Node, indent: usize, out: &mut String) {
    match node {
        Node::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            write_yaml_block(node, indent, out);
        }
        Node::List(items) if !items.is_empty() => {
            out.push('\n');
            write_yaml_block(node, indent, out);
        }
        scalar => writeln!(out, " {}", yaml_scalar_text(scalar)).unwrap(),
    }
}

fn yaml_scalar_text(node: &Node) -> String {
    match node {
        Node::Null => "null".to_owned(),
        Node::Bool(value) => value.to_string(),
        Node::Int(value) => value.to_string(),
        Node::Float(value) if value.is_nan() => ".nan".to_owned(),
        Node::Float(value) if value.is_infinite() => {
            if *value > 0.0 { ".inf" } else { "-.inf" }.to_owned()
        }
        // Rust's shortest round-trip form (`0.1`, `1e300`, `2.0`) matches go-yaml's float syntax
        Node::Float(value) => format!("{value:?}"),
        Node::Str(text) => serde_json::to_string(text).unwrap(),
        Node::Time(text) => text.clone(),
        Node::List(_) => "[]".to_owned(),
        Node::Map(_) => "{}".to_owned(),
        Node::Bytes(_) => unreachable!("generated documents hold only UTF-8 strings"),
    }
}

// ---------------------------------------------------------------------------------------------
// YAML as sops reads it: saphyr parses, go-yaml v3's rules resolve the plain scalars

fn parse_yaml(text: &str) -> Result<Vec<Node>, String> {
    let source: Vec<char> = text.chars().collect();
    let docs = MarkedYaml::load_from_str(text).map_err(|error| format!("not YAML: {error}"))?;
    docs.iter().map(|doc| yaml_node(doc, &source)).collect()
}

fn yaml_node(node: &MarkedYaml, source: &[char]) -> Result<Node, String> {
    match &node.data {
        YamlData::Value(scalar) => Ok(yaml_scalar(node, scalar, source)),
        YamlData::Sequence(items) => items
            .iter()
            .map(|item| yaml_node(item, source))
            .collect::<Result<_, _>>()
            .map(Node::List),
        YamlData::Mapping(entries) => entries
            .iter()
            .map(|(key, value)| {
                let key = match yaml_node(key, source)? {
                    Node::Str(text) => text,
                    // sops refuses a non-string key; name it so that the difference shows
                    other => format!("<non-string key: {}>", other.describe()),
                };
                Ok((key, yaml_node(value, source)?))
            })
            .collect::<Result<_, String>>()
            .map(Node::Map),
        // saphyr does not decode `!!binary`, which go-yaml writes for a string that is not UTF-8
        _ => {
            let start = node.span.start.index().min(source.len());
            let end = node.span.end.index().clamp(start, source.len());
            let raw: String = source[start..end].iter().collect();
            raw.strip_prefix("!!binary")
                .and_then(|base64| decode_base64(base64.trim()))
                .map(Node::Bytes)
                .ok_or_else(|| format!("unexpected YAML node {}", preview(&raw)))
        }
    }
}

/// Standard base64 with padding, whitespace ignored; `None` if it is not.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bytes = Vec::new();
    let (mut buffer, mut bits) = (0_u32, 0);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let value = ALPHABET.iter().position(|a| *a == c)? as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(bytes)
}

/// A scalar's value as go-yaml v3 would give it. saphyr resolves by YAML 1.2 rules, so a plain
/// scalar is resolved again from its text; a quoted, block or tagged one is what saphyr says.
fn yaml_scalar(node: &MarkedYaml, scalar: &Scalar, source: &[char]) -> Node {
    let start = node.span.start.index().min(source.len());
    let end = node.span.end.index().clamp(start, source.len());
    let plain =
        !matches!(source.get(start), Some('"' | '\'' | '!')) && !starts_block_scalar(source, start);
    match scalar {
        Scalar::String(text) if plain => resolve_plain(text),
        Scalar::String(text) => Node::Str(text.to_string()),
        _ if plain => resolve_plain(source[start..end].iter().collect::<String>().trim()),
        Scalar::Null => Node::Null,
        Scalar::Boolean(value) => Node::Bool(*value),
        Scalar::Integer(value) => Node::Int(*value),
        Scalar::FloatingPoint(value) => Node::Float(value.0),
    }
}

/// Whether the scalar whose content starts at `start` is a block scalar. Its span starts at the
/// content, so look back past the line break and the chomping/indentation indicators for a `|` or
/// `>` that follows a space.
fn starts_block_scalar(source: &[char], start: usize) -> bool {
    let before = &source[..start];
    let header_end = before
        .iter()
        .rposition(|c| !c.is_whitespace())
        .map_or(0, |at| at + 1);
    if !before[header_end..].contains(&'\n') {
        return false;
    }
    let header = &before[..header_end];
    let indicators = header
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '+' | '-'))
        .count();
    let at = header.len() - indicators;
    at >= 1 && matches!(header[at - 1], '|' | '>') && (at == 1 || header[at - 2].is_whitespace())
}

/// How go-yaml v3 resolves an untagged plain scalar (its `resolve.go`; SOPS_FORMAT.md §2).
fn resolve_plain(text: &str) -> Node {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "true" | "True" | "TRUE" => return Node::Bool(true),
        "false" | "False" | "FALSE" => return Node::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Node::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Node::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Node::Float(f64::NAN),
        _ => {}
    }
    match text.as_bytes()[0] {
        b'0'..=b'9' | b'+' | b'-' => {
            if let Some(time) = go_timestamp(text) {
                return Node::Time(time);
            }
            let plain = text.replace('_', "");
            if let Some(int) = go_parse_int(&plain) {
                return Node::Int(int);
            }
            if is_yaml_float(&plain)
                && let Some(float) = go_parse_float(&plain)
            {
                return Node::Float(float);
            }
        }
        b'.' => {
            if let Some(float) = go_parse_float(text) {
                return Node::Float(float);
            }
        }
        _ => {}
    }
    Node::Str(text.to_owned())
}

/// Go's `strconv.ParseFloat(text, 64)`, which fails on overflow (`1e400`) where Rust gives ±Inf:
/// go-yaml then keeps the scalar as a string.
fn go_parse_float(text: &str) -> Option<f64> {
    text.parse().ok().filter(|float: &f64| float.is_finite())
}

/// Go's `strconv.ParseInt(text, 0, 64)`: a sign, then `0x`, `0o`, `0b` or a leading `0` (octal).
fn go_parse_int(text: &str) -> Option<i64> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits) = if let Some(hex) = lower.strip_prefix("0x") {
        (16, hex)
    } else if let Some(octal) = lower.strip_prefix("0o") {
        (8, octal)
    } else if let Some(binary) = lower.strip_prefix("0b") {
        (2, binary)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// go-yaml's float syntax: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(text: &str) -> bool {
    let (whole, fraction, exponent_ok) =
        number_parts(text.strip_prefix(['+', '-']).unwrap_or(text));
    let mantissa_ok = match fraction {
        Some(fraction) if whole.is_empty() => digits(fraction),
        Some(fraction) => digits(whole) && (fraction.is_empty() || digits(fraction)),
        None => digits(whole),
    };
    mantissa_ok && exponent_ok
}

/// An unsigned number's digits before the `.`, after it (if there is a `.`), and whether its
/// exponent, if any, is `[eE][-+]?[0-9]+`.
fn number_parts(unsigned: &str) -> (&str, Option<&str>, bool) {
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction), exponent_ok),
        None => (mantissa, None, exponent_ok),
    }
}

fn digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// go-yaml's timestamp formats (`2006-1-2T15:4:5.999999999Z07:00`, the same with `t`,
/// `2006-1-2 15:4:5.999999999` in UTC, and `2006-1-2`), written back the way Go's RFC3339Nano
/// prints the time: two-digit fields, only significant fraction digits, `Z` for a zero offset.
fn go_timestamp(text: &str) -> Option<String> {
    let mut cursor = Cursor(text);
    let year = cursor.number(4, 4)?;
    cursor.expect('-')?;
    let month = cursor.number(1, 2)?;
    cursor.expect('-')?;
    let day = cursor.number(1, 2)?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[month as usize - 1] {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if cursor.0.is_empty() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let with_zone = match cursor.next()? {
        'T' | 't' => true,
        ' ' => false,
        _ => return None,
    };
    let hour = cursor.number(1, 2)?;
    cursor.expect(':')?;
    let minute = cursor.number(1, 2)?;
    cursor.expect(':')?;
    let second = cursor.number(1, 2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut fraction = String::new();
    if cursor.0.starts_with('.') {
        cursor.next();
        let digits = cursor.0.len()
            - cursor
                .0
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        fraction = cursor.0[..digits.min(9)].trim_end_matches('0').to_owned();
        cursor.0 = &cursor.0[digits..];
        if digits == 0 {
            return None;
        }
    }
    let zone = if with_zone {
        match cursor.next()? {
            'Z' => "Z".to_owned(),
            sign @ ('+' | '-') => {
                let hours = cursor.number(2, 2)?;
                cursor.expect(':')?;
                let minutes = cursor.number(2, 2)?;
                if hours == 0 && minutes == 0 {
                    "Z".to_owned()
                } else {
                    format!("{sign}{hours:02}:{minutes:02}")
                }
            }
            _ => return None,
        }
    } else {
        "Z".to_owned()
    };
    if !cursor.0.is_empty() {
        return None;
    }
    let fraction = if fraction.is_empty() {
        fraction
    } else {
        format!(".{fraction}")
    };
    Some(format!(
        "{date}T{hour:02}:{minute:02}:{second:02}{fraction}{zone}"
    ))
}

/// The unread rest of a timestamp.
struct Cursor<'a>(&'a str);

impl Cursor<'_> {
    fn next(&mut self) -> Option<char> {
        let c = self.0.chars().next()?;
        self.0 = &self.0[c.len_utf8()..];
        Some(c)
    }

    fn expect(&mut self, wanted: char) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }

    /// A decimal number of `min..=max` digits (as many as there are, up to `max`).
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let digits = self
            .0
            .bytes()
            .take(max)
            .take_while(u8::is_ascii_digit)
            .count();
        if digits < min {
            return None;
        }
        let value = self.0[..digits].parse().ok()?;
        self.0 = &self.0[digits..];
        Some(value)
    }
}
