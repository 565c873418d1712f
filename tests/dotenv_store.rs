//! The dotenv layer, `kind: dotenv` and ModelMesh's `modelmesh.dotenv.v1`: every case under
//! `fixtures/dotenv/` (one file per case, described in its README) read under both rules,
//! ModelMesh's own example included; the environment beside the file and `override_env`; a
//! missing file; an edit seen at once, or after the value cache's time to live; the options of
//! both ids; a broken file stopping the chain with exit 3; no value in errors, `Debug` or logs.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use secret_cascade::providers::DotenvProvider;
use secret_cascade::{Error, ExposeSecret, Provider, Resolver, SecretRequest, SecretSource};
use support::{Sandbox, capture_logs, run};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dotenv")
}

/// The value of `name`, `None` for a miss.
fn value(resolver: &Resolver, name: &str) -> Result<Option<String>, Error> {
    let record = resolver.lookup(&SecretRequest::new(name))?;
    Ok(record.map(|record| record.expose_secret().to_owned()))
}

/// Compares every name of the JSON map at `expected` (a value or `null`) with the resolver's.
fn compare(resolver: &Resolver, expected: &Path, failures: &mut Vec<String>) {
    let text = std::fs::read_to_string(expected).unwrap();
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    for (name, want) in map {
        let want = want.as_str().map(str::to_owned);
        match value(resolver, &name) {
            Ok(got) if got == want => {}
            got => failures.push(format!(
                "{}: `{name}`: expected {want:?}, got {got:?}",
                expected.display()
            )),
        }
    }
}

#[test]
fn every_case_reads_as_expected_under_both_rules() {
    let sandbox = Sandbox::new();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "env"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "{cases:?}");
    let mut failures = Vec::new();
    for case in &cases {
        let beside = |suffix: &str| case.with_extension(suffix);
        let ours = sandbox.one_layer("dotenv", &format!("    path: '{}'\n", case.display()));
        let ours = ours.unwrap();
        let (expected, error) = (beside("expected.json"), beside("error.txt"));
        if expected.exists() {
            compare(&ours, &expected, &mut failures);
        } else {
            let want = std::fs::read_to_string(&error).unwrap_or_else(|_| {
                panic!(
                    "{} has neither expected values nor an error",
                    case.display()
                )
            });
            match ours.lookup(&SecretRequest::new("any.name")) {
                Err(error @ Error::Provider { .. })
                    if error.to_string().contains(want.trim())
                        && error.to_string().contains(&case.display().to_string()) => {}
                other => failures.push(format!(
                    "{}: expected the error `{}`, got {other:?}",
                    case.display(),
                    want.trim()
                )),
            }
        }
        let modelmesh = beside("modelmesh.json");
        if modelmesh.exists() {
            let theirs = sandbox.one_layer(
                "modelmesh.dotenv.v1",
                &format!("    file_path: '{}'\n", case.display()),
            );
            compare(&theirs.unwrap(), &modelmesh, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_environment_wins_unless_override_env_says_the_file() {
    // SAFETY: std serializes its own environment access, variables no other test uses, and
    // nothing in this test binary reads the environment outside std.
    unsafe {
        std::env::set_var("SCDOTENV__BOTH", "from-env");
        std::env::set_var("SCDOTENV__ENV_ONLY", "env-only");
    }
    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "app.env",
        "SCDOTENV__BOTH=from-file\nSCDOTENV__FILE_ONLY=file-only\n",
    );
    for (kind, key, name) in [
        ("dotenv", "path", "scdotenv.both"),
        ("modelmesh.dotenv.v1", "file_path", "SCDOTENV__BOTH"),
    ] {
        for (override_env, want, source) in [
            (false, "from-env", SecretSource::Env),
            (true, "from-file", SecretSource::Dotenv),
        ] {
            let options = format!(
                "    {key}: '{}'\n    override_env: {override_env}\n",
                file.display()
            );
            let resolver = sandbox.one_layer(kind, &options).unwrap();
            let record = resolver.resolve(&SecretRequest::new(name)).unwrap();
            assert_eq!(
                (record.expose_secret(), record.source()),
                (want, source),
                "{kind}, override_env {override_env}"
            );
            assert_eq!(record.metadata().get("variable"), Some("SCDOTENV__BOTH"));
            let only = |name: &str| value(&resolver, name).unwrap();
            let (env_only, file_only) = if kind == "dotenv" {
                (only("scdotenv.env-only"), only("scdotenv.file-only"))
            } else {
                (only("SCDOTENV__ENV_ONLY"), only("SCDOTENV__FILE_ONLY"))
            };
            assert_eq!(env_only.as_deref(), Some("env-only"));
            assert_eq!(file_only.as_deref(), Some("file-only"));
        }
    }
}

#[test]
fn a_missing_file_leaves_the_environment_to_answer() {
    // SAFETY: as above; a variable no other test uses.
    unsafe { std::env::set_var("SCDOTENV__MISSING_FILE", "still-here") };
    let sandbox = Sandbox::new();
    let absent = sandbox.path().join("absent.env");
    let resolver = Resolver::builder()
        .provider(DotenvProvider::new(&absent))
        .build();
    let found = value(&resolver, "scdotenv.missing-file").unwrap();
    assert_eq!(found.as_deref(), Some("still-here"));
    let error = resolver
        .resolve(&SecretRequest::new("scdotenv.nowhere"))
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::NotFound { .. }), "{message}");
    assert!(
        message.contains("SCDOTENV__NOWHERE is not set and")
            && message.contains("absent.env does not exist"),
        "{message}"
    );
}

#[test]
fn an_edit_is_seen_at_the_next_lookup() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("app.env", "SCDOTENV_EDIT=first\n");
    let resolver = Resolver::builder()
        .provider(DotenvProvider::new(&file))
        .build();
    assert_eq!(
        value(&resolver, "scdotenv_edit").unwrap().as_deref(),
        Some("first")
    );
    std::fs::write(&file, "SCDOTENV_EDIT=second\n").unwrap();
    assert_eq!(
        value(&resolver, "scdotenv_edit").unwrap().as_deref(),
        Some("second")
    );
}

#[test]
fn a_cached_value_outlives_an_edit_until_its_ttl_and_a_miss_is_never_cached() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("app.env", "SCDOTENV_TTL=first\n");
    let options = format!("    path: '{}'\n    cache_ttl_ms: 400\n", file.display());
    let resolver = sandbox.one_layer("dotenv", &options).unwrap();
    assert_eq!(
        value(&resolver, "scdotenv_ttl").unwrap().as_deref(),
        Some("first")
    );
    assert_eq!(value(&resolver, "scdotenv_later").unwrap(), None);
    std::fs::write(&file, "SCDOTENV_TTL=second\nSCDOTENV_LATER=now\n").unwrap();
    assert_eq!(
        value(&resolver, "scdotenv_ttl").unwrap().as_deref(),
        Some("first")
    );
    assert_eq!(
        value(&resolver, "scdotenv_later").unwrap().as_deref(),
        Some("now")
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        value(&resolver, "scdotenv_ttl").unwrap().as_deref(),
        Some("second")
    );
}

#[test]
fn modelmesh_options_are_read_and_unknown_ones_refused_naming_the_key() {
    let sandbox = Sandbox::new();
    sandbox.write(".env", "SCDOTENV_DEFAULT_FILE=beside-the-config\n");
    let every_option = "    file_path: .env\n    override_env: true\n    cache_enabled: true\n    \
         cache_ttl_ms: 0\n    fail_on_missing: false\n    secrets:\n      ignored: ${env:NEVER_SET_ANYWHERE}\n";
    for options in ["", every_option] {
        let resolver = sandbox.one_layer("modelmesh.dotenv.v1", options).unwrap();
        let found = value(&resolver, "SCDOTENV_DEFAULT_FILE").unwrap();
        assert_eq!(found.as_deref(), Some("beside-the-config"), "{options}");
        // Verbatim names that no variable can have are misses, not panics; with
        // `fail_on_missing: false` a miss is ModelMesh's `""`.
        let miss = options.contains("fail_on_missing: false").then(String::new);
        for odd in ["NAME=WITH=EQUALS", "NUL\0IN_NAME"] {
            assert_eq!(value(&resolver, odd).unwrap(), miss);
        }
    }
    for (kind, options, key) in [
        ("modelmesh.dotenv.v1", "    path: .env\n", "path"),
        ("modelmesh.dotenv.v1", "    cache_ttl: 5\n", "cache_ttl"),
        (
            "dotenv",
            "    path: .env\n    file_path: .env\n",
            "file_path",
        ),
        (
            "dotenv",
            "    path: .env\n    fail_on_missing: true\n",
            "fail_on_missing",
        ),
    ] {
        let Err(Error::Config(error)) = sandbox.one_layer(kind, options) else {
            panic!("{kind} accepted {options}");
        };
        assert_eq!(error.key(), Some(format!("providers[0].{key}").as_str()));
        assert!(
            error
                .message()
                .starts_with(&format!("unknown option `{key}`")),
            "{error}"
        );
    }
    let Err(Error::Config(error)) = sandbox.one_layer("dotenv", "    override_env: true\n") else {
        panic!("a dotenv layer without a path was accepted");
    };
    assert!(error.message().contains("missing `path`"), "{error}");
}

#[test]
fn a_broken_file_stops_the_chain_with_exit_3_naming_file_and_line() {
    let sandbox = Sandbox::new();
    let broken = fixtures().join("not_utf8.env");
    sandbox.write(
        "secret-cascade.yml",
        &format!(
            "providers:\n  - kind: dotenv\n    path: '{}'\n  - kind: memory\n    secrets:\n      \
             FIRST: later-layer\n",
            broken.display()
        ),
    );
    let (code, stdout, stderr) = run(sandbox
        .cli()
        .args(["get", "FIRST", "--default", "fallback"]));
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("not_utf8.env: line 2: not valid UTF-8"),
        "{stderr}"
    );
}

#[test]
fn no_value_reaches_an_error_debug_or_log() {
    const CANARY: &str = "canary-dotenv-7f3a";
    let sandbox = Sandbox::new();
    let good = sandbox.write("good.env", &format!("SCDOTENV_CANARY={CANARY}\n"));
    let bad = sandbox.write(
        "bad.env",
        &format!("FIRST=1\nSCDOTENV_CANARY=\"{CANARY}\"{CANARY}\nMY {CANARY}=x\n"),
    );
    let unclosed = sandbox.write("unclosed.env", &format!("SCDOTENV_CANARY=\"{CANARY}\n"));
    let mut shown = Vec::new();
    let logs = capture_logs(|| {
        for path in [&good, &bad, &unclosed] {
            let provider = DotenvProvider::new(path).with_cache_ttl(Duration::from_secs(60));
            shown.push(format!("{provider:?}"));
            shown.push(format!("{:?}", provider.diagnose()));
            let resolver = Resolver::builder().provider(provider).build();
            for name in ["scdotenv_canary", "absent"] {
                match resolver.resolve(&SecretRequest::new(name)) {
                    Ok(record) => shown.push(format!("{record:?}")),
                    Err(error) => shown.push(format!("{error} {error:?}")),
                }
            }
            shown.push(format!("{resolver:?}"));
        }
    });
    assert!(
        shown.iter().any(|text| text.contains("line 2")),
        "{shown:?}"
    );
    for text in shown.iter().chain([&logs]) {
        assert!(!text.contains(CANARY), "{text}");
    }
}
