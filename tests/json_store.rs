//! The JSON layer, `kind: json` and ModelMesh's `modelmesh.json-secrets.v1`: every case under
//! `fixtures/json/` (one file per case, described in its README) under both ids, ModelMesh's
//! example included; key paths reaching keys with dots; a missing file; an edit seen at once, or
//! after the value cache's time to live; the options of both ids; a broken file stopping the
//! chain with exit 3; no value in errors, `Debug` or logs.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use secret_cascade::providers::JsonProvider;
use secret_cascade::{
    Error, ExposeSecret, Outcome, Provider, Resolver, SecretRequest, SecretSource, Status,
};
use support::{Sandbox, capture_logs, run};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/json")
}

fn value(resolver: &Resolver, request: &SecretRequest) -> Result<Option<String>, Error> {
    let record = resolver.lookup(request)?;
    Ok(record.map(|record| record.expose_secret().to_owned()))
}

/// Compares every `{json_path: {name: value or null}}` of `expected` with a layer of `kind` over
/// `file`.
fn compare(sandbox: &Sandbox, kind: &str, key: &str, file: &Path, expected: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(expected).unwrap();
    let scopes: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    for (json_path, lookups) in scopes {
        let options = format!(
            "    {key}: '{}'\n    json_path: '{json_path}'\n",
            file.display()
        );
        let resolver = sandbox.one_layer(kind, &options).unwrap();
        for (name, want) in lookups.as_object().unwrap() {
            let want = want.as_str().map(str::to_owned);
            match value(&resolver, &SecretRequest::new(name)) {
                Ok(got) if got == want => {}
                got => failures.push(format!(
                    "{} json_path `{json_path}`: `{name}`: expected {want:?}, got {got:?}",
                    expected.display()
                )),
            }
        }
    }
    failures
}

#[test]
fn every_case_reads_as_expected_under_both_ids() {
    let sandbox = Sandbox::new();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with(".json")
                && !name.ends_with(".expected.json")
                && !name.ends_with(".modelmesh.json")
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 7, "{cases:?}");
    let mut failures = Vec::new();
    for case in &cases {
        let beside = |suffix: &str| case.with_extension(suffix);
        let (expected, error) = (beside("expected.json"), beside("error.txt"));
        if expected.exists() {
            failures.extend(compare(&sandbox, "json", "path", case, &expected));
        } else {
            let want = std::fs::read_to_string(&error).unwrap_or_else(|_| {
                panic!(
                    "{} has neither expected values nor an error",
                    case.display()
                )
            });
            let options = format!("    path: '{}'\n", case.display());
            let resolver = sandbox.one_layer("json", &options).unwrap();
            match resolver.lookup(&SecretRequest::new("any.name")) {
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
            let theirs = "modelmesh.json-secrets.v1";
            failures.extend(compare(&sandbox, theirs, "file_path", case, &modelmesh));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn key_paths_reach_keys_with_dots_and_scopes_lead_the_path() {
    let resolver = Resolver::builder()
        .provider(JsonProvider::new(fixtures().join("modelmesh_example.json")))
        .build();
    let literal = SecretRequest::new("ignored").with_key_path(["a.b"]);
    assert_eq!(
        value(&resolver, &literal).unwrap().as_deref(),
        Some("literal dotted key (unreachable)")
    );
    let scoped = SecretRequest::new("API_KEY").with_scope("secrets.development");
    let record = resolver.resolve(&scoped).unwrap();
    assert_eq!(record.expose_secret(), "dev-key");
    assert_eq!(record.source(), SecretSource::Json);
    assert_eq!(
        record.metadata().get("key"),
        Some("secrets.development.API_KEY")
    );
    assert!(
        record
            .metadata()
            .get("path")
            .is_some_and(|path| path.ends_with("modelmesh_example.json"))
    );
}

#[test]
fn a_missing_file_is_unavailable_and_a_json_path_to_nowhere_says_so() {
    let sandbox = Sandbox::new();
    let absent = sandbox.path().join("absent.json");
    let resolver = Resolver::builder()
        .provider(JsonProvider::new(&absent))
        .provider(
            JsonProvider::new(fixtures().join("modelmesh_example.json"))
                .with_json_path("secrets.nope"),
        )
        .build();
    let Err(Error::NotFound { tried, .. }) = resolver.resolve(&SecretRequest::new("API_KEY"))
    else {
        panic!("found");
    };
    assert_eq!(tried[0].outcome, Outcome::Unavailable);
    assert!(
        tried[0].reason.ends_with("absent.json does not exist"),
        "{tried:?}"
    );
    assert_eq!(tried[1].outcome, Outcome::Missed);
    assert!(
        tried[1]
            .reason
            .starts_with("`json_path` secrets.nope is not an object in"),
        "{tried:?}"
    );
}

#[test]
fn an_edit_is_seen_at_the_next_lookup() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("s.json", r#"{"token": "first"}"#);
    let resolver = Resolver::builder()
        .provider(JsonProvider::new(&file))
        .build();
    let token = SecretRequest::new("token");
    assert_eq!(value(&resolver, &token).unwrap().as_deref(), Some("first"));
    std::fs::write(&file, r#"{"token": "second"}"#).unwrap();
    assert_eq!(value(&resolver, &token).unwrap().as_deref(), Some("second"));
    std::fs::write(&file, r#"{"token": "#).unwrap();
    assert!(matches!(
        resolver.lookup(&token),
        Err(Error::Provider { .. })
    ));
}

#[test]
fn a_cached_value_outlives_an_edit_until_its_ttl_and_a_miss_is_never_cached() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("s.json", r#"{"token": "first"}"#);
    for (kind, key, ttl) in [
        ("json", "path", "    cache_ttl_ms: 400\n"),
        (
            "modelmesh.json-secrets.v1",
            "file_path",
            "    cache_ttl_ms: 400\n",
        ),
    ] {
        std::fs::write(&file, r#"{"token": "first"}"#).unwrap();
        let options = format!("    {key}: '{}'\n{ttl}", file.display());
        let resolver = sandbox.one_layer(kind, &options).unwrap();
        let (token, later) = (SecretRequest::new("token"), SecretRequest::new("later"));
        assert_eq!(value(&resolver, &token).unwrap().as_deref(), Some("first"));
        assert_eq!(value(&resolver, &later).unwrap(), None);
        std::fs::write(&file, r#"{"token": "second", "later": "now"}"#).unwrap();
        assert_eq!(
            value(&resolver, &token).unwrap().as_deref(),
            Some("first"),
            "{kind}"
        );
        assert_eq!(
            value(&resolver, &later).unwrap().as_deref(),
            Some("now"),
            "{kind}"
        );
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(
            value(&resolver, &token).unwrap().as_deref(),
            Some("second"),
            "{kind}"
        );
    }
}

#[test]
fn modelmesh_options_are_read_and_unknown_ones_refused_naming_the_key() {
    let sandbox = Sandbox::new();
    let file = fixtures().join("modelmesh_example.json");
    let every_option = format!(
        "    file_path: '{}'\n    json_path: secrets.production\n    cache_enabled: false\n    \
         cache_ttl_ms: 0\n    fail_on_missing: true\n    secrets:\n      x: ${{env:NEVER_SET_ANYWHERE}}\n",
        file.display()
    );
    let resolver = sandbox
        .one_layer("modelmesh.json-secrets.v1", &every_option)
        .unwrap();
    let found = value(&resolver, &SecretRequest::new("deep.x")).unwrap();
    assert_eq!(found.as_deref(), Some("y"));
    let path = format!("    path: '{}'\n", file.display());
    for (kind, options, key) in [
        (
            "modelmesh.json-secrets.v1",
            format!("{path}    file_path: x.json\n"),
            "path",
        ),
        (
            "json",
            format!("{path}    file_path: x.json\n"),
            "file_path",
        ),
        (
            "json",
            format!("{path}    cache_enabled: true\n"),
            "cache_enabled",
        ),
    ] {
        let Err(Error::Config(error)) = sandbox.one_layer(kind, &options) else {
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
    let Err(Error::Config(error)) =
        sandbox.one_layer("json", &format!("{path}    json_path: a..b\n"))
    else {
        panic!("an empty json_path segment was accepted");
    };
    assert_eq!(error.key(), Some("providers[0].json_path"));
}

#[test]
fn a_broken_file_stops_the_chain_with_exit_3_naming_file_and_line() {
    let sandbox = Sandbox::new();
    let broken = fixtures().join("invalid_syntax.json");
    sandbox.write(
        "secret-cascade.yml",
        &format!(
            "providers:\n  - kind: json\n    path: '{}'\n  - kind: memory\n    secrets:\n      \
             ok: later-layer\n",
            broken.display()
        ),
    );
    let (code, stdout, stderr) = run(sandbox.cli().args(["get", "ok", "--default", "fallback"]));
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("invalid_syntax.json: not valid JSON: line 3, column"),
        "{stderr}"
    );
}

#[test]
fn no_value_reaches_an_error_debug_or_log() {
    const CANARY: &str = "canary-json-5d1e";
    let sandbox = Sandbox::new();
    let good = sandbox.write("good.json", &format!(r#"{{"token": "{CANARY}"}}"#));
    let bad = sandbox.write(
        "bad.json",
        &format!("{{\"token\": \"{CANARY}\",\n\"x\": {CANARY}}}"),
    );
    let duplicated = sandbox.write(
        "dup.json",
        &format!(r#"{{"{CANARY}": "{CANARY}", "{CANARY}": 1}}"#),
    );
    let mut shown = Vec::new();
    let logs = capture_logs(|| {
        for path in [&good, &bad, &duplicated] {
            let provider = JsonProvider::new(path).with_cache_ttl(Duration::from_secs(60));
            shown.push(format!("{provider:?} {:?}", provider.diagnose()));
            let resolver = Resolver::builder().provider(provider).build();
            for name in ["token", "absent"] {
                match resolver.resolve(&SecretRequest::new(name)) {
                    Ok(record) => shown.push(format!("{record:?}")),
                    Err(error) => shown.push(format!("{error} {error:?}")),
                }
            }
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

#[test]
fn doctor_reports_a_missing_a_broken_and_a_good_file() {
    let sandbox = Sandbox::new();
    let good = sandbox.write("good.json", r#"{"token": "x"}"#);
    let resolver = Resolver::builder()
        .provider(JsonProvider::new(sandbox.path().join("absent.json")))
        .provider(JsonProvider::new(fixtures().join("duplicate_key.json")))
        .provider(JsonProvider::new(&good))
        .build();
    let findings: Vec<Vec<(Status, String)>> = resolver
        .diagnose()
        .iter()
        .map(|layer| {
            let checks = layer.checks().iter();
            checks
                .map(|c| (c.status(), c.message().to_owned()))
                .collect()
        })
        .collect();
    let last = |layer: &Vec<(Status, String)>| layer.last().unwrap().clone();
    assert_eq!(last(&findings[0]).0, Status::Fail);
    assert!(last(&findings[0]).1.ends_with("absent.json does not exist"));
    assert_eq!(last(&findings[1]).0, Status::Fail);
    assert!(
        last(&findings[1]).1.contains("not valid JSON: line 3"),
        "{findings:?}"
    );
    assert_eq!(last(&findings[2]).0, Status::Ok, "{findings:?}");
}
