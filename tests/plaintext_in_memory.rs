//! No plaintext stays in this process's memory once a value was resolved from a SOPS file, used
//! with `with_sensitive`, and everything was dropped and purged: not the value, not a map handed
//! out as JSON, and not the file's other values, which were decrypted and hashed for the MAC but
//! never requested.
//!
//! One test in its own binary: no other test thread allocates or decrypts while memory is scanned.

mod support;

use std::path::Path;
use std::sync::Arc;

use secret_cascade::{Resolver, SecretRequest, with_sensitive};
use support::Sandbox;
use support::plaintext_scan::{Needle, Piece, cleartext, scan_own_memory};

#[test]
fn no_value_remains_in_memory_after_resolve_drop_and_purge() {
    let [user, password, unrequested] = [
        Needle::random(false),
        Needle::random(true),
        Needle::random(false),
    ];
    let sandbox = Sandbox::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sops");
    let key_file = fixtures.join("key.txt");
    let recipient = std::fs::read_to_string(&key_file)
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("# public key: ").map(str::to_owned))
        .expect("the fixture key file names its public key");
    {
        let plain = cleartext(&[
            Piece::Text("db:\n    user: "),
            Piece::Value(&user),
            Piece::Text("\n    password: "),
            Piece::Value(&password),
            // Long enough that the map's JSON outgrows several allocations on its way.
            Piece::Text(
                "\n    note: plain words that lengthen the JSON of the map by about seventy bytes",
            ),
            Piece::Text("\nunrequested: "),
            Piece::Value(&unrequested),
            Piece::Text("\n"),
        ]);
        std::fs::write(sandbox.path().join("plain.yaml"), plain.as_slice()).unwrap();
    }
    // Encrypted by another process: its copies of the cleartext are not this process's.
    let output = sandbox
        .cli()
        .args(["encrypt", "--age", &recipient, "plain.yaml"])
        .args(["--output", "secrets.enc.yaml"])
        .output()
        .unwrap();
    assert!(output.status.success(), "encrypt failed: {output:?}");
    std::fs::remove_file(sandbox.path().join("plain.yaml")).unwrap();
    let config = sandbox.write(
        "secret-cascade.yml",
        &format!(
            "providers:\n  - kind: sops\n    path: secrets.enc.yaml\n    age_key_file: {}\n",
            key_file.display()
        ),
    );

    let resolver = Resolver::from_config_file(&config).unwrap();
    let record = resolver
        .resolve(&SecretRequest::new("db.password"))
        .unwrap();
    assert!(
        with_sensitive(record, |value| password.is(value.as_bytes())),
        "db.password did not resolve to its value"
    );
    // A map comes back as compact JSON built by the library.
    let record = resolver.resolve(&SecretRequest::new("db")).unwrap();
    let (users, passwords) = with_sensitive(record, |json| {
        (
            user.count_in(json.as_bytes()),
            password.count_in(json.as_bytes()),
        )
    });
    assert_eq!(
        (users, passwords),
        (1, 1),
        "db is not the map of both values"
    );
    let cache = Arc::clone(resolver.document_cache());
    drop(resolver);
    cache.purge(&sandbox.path().join("secrets.enc.yaml"));
    drop(cache);

    // A copy kept on purpose: the scan must find it, or it proves nothing.
    let control = Needle::random(false);
    let kept = cleartext(&[Piece::Value(&control)]);
    let names = ["db.user", "db.password", "unrequested", "the control"];
    let found = scan_own_memory(&[&user, &password, &unrequested, &control]);
    drop(kept);
    let (controls, leaks): (Vec<_>, Vec<_>) = found.iter().partition(|f| f.needle == 3);
    assert!(
        !controls.is_empty(),
        "the scan did not find the copy kept on purpose"
    );
    assert!(
        leaks.is_empty(),
        "plaintext left in memory: {}",
        leaks
            .iter()
            .map(|f| format!("{} at {:#x} in {}", names[f.needle], f.address, f.region))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
