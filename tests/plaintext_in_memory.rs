//! No plaintext stays in this process's memory once a value was resolved from a SOPS file, used
//! with `with_sensitive`, and everything was dropped and purged: not the value, not a map handed
//! out as JSON, and not the file's other values, which were decrypted and hashed for the MAC but
//! never requested. The same for an encrypted-file layer (ModelMesh's format): values written
//! with `set`, one read back, all dropped.
//!
//! One test in its own binary: no other test thread allocates or decrypts while memory is scanned.

mod support;

use std::sync::Arc;

use secret_cascade::providers::EncryptedFileProvider;
use secret_cascade::{
    Answer, Management, Provider, Resolver, SecretRequest, SecretString, with_sensitive,
};
use support::Sandbox;
use support::plaintext_scan::{Needle, Piece, SecretsFile, cleartext, scan_own_memory};

#[test]
fn no_value_remains_in_memory_after_resolve_drop_and_purge() {
    let sandbox = Sandbox::new();
    let file = SecretsFile::new(&sandbox);

    let resolver = Resolver::from_config_file(&file.config).unwrap();
    let record = resolver
        .resolve(&SecretRequest::new("db.password"))
        .unwrap();
    assert!(
        with_sensitive(record, |value| file.password.is(value.as_bytes())),
        "db.password did not resolve to its value"
    );
    // A map comes back as compact JSON built by the library.
    let record = resolver.resolve(&SecretRequest::new("db")).unwrap();
    let counts = with_sensitive(record, |json| {
        [&file.user, &file.password].map(|needle| needle.count_in(json.as_bytes()))
    });
    assert_eq!(counts, [1, 1], "db is not the map of both values");
    let cache = Arc::clone(resolver.document_cache());
    drop(resolver);
    cache.purge(&file.path);
    drop(cache);

    // An encrypted file: two values set (encrypted, read back, written), one looked up.
    let (requested, unrequested) = (Needle::random(false), Needle::random(false));
    let encrypted = sandbox.path().join("team.enc");
    let layer = || {
        EncryptedFileProvider::with_passphrase(&encrypted, SecretString::from("memory-test"))
            .with_pbkdf2_iterations(1000)
    };
    let writer = layer();
    for (name, needle) in [("requested", &requested), ("unrequested", &unrequested)] {
        let value = cleartext(&[Piece::Value(needle)]);
        writer
            .set(
                name,
                SecretString::from(std::str::from_utf8(&value).unwrap()),
            )
            .unwrap();
    }
    drop(writer);
    let reader = layer();
    let Ok(Answer::Hit(record)) = reader.fetch(&SecretRequest::new("requested")) else {
        panic!("the encrypted file has no `requested`");
    };
    assert!(with_sensitive(record, |value| requested.is(value.as_bytes())));
    drop(reader);

    // A copy kept on purpose: the scan must find it, or it proves nothing.
    let control = Needle::random(false);
    let kept = cleartext(&[Piece::Value(&control)]);
    let mut needles = file.needles().to_vec();
    needles.push(("an encrypted-file value looked up", &requested));
    needles.push(("an encrypted-file value never looked up", &unrequested));
    needles.push(("the control copy", &control));
    let found = scan_own_memory(&needles.iter().map(|(_, n)| *n).collect::<Vec<_>>());
    drop(kept);
    let (controls, leaks): (Vec<_>, Vec<_>) =
        found.iter().partition(|f| f.needle == needles.len() - 1);
    assert!(
        !controls.is_empty(),
        "the scan did not find the copy kept on purpose"
    );
    assert!(
        leaks.is_empty(),
        "plaintext left in memory: {}",
        leaks
            .iter()
            .map(|f| format!(
                "{} at {:#x} in {}",
                needles[f.needle].0, f.address, f.region
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
