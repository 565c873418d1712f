//! Once watching stops in a process (`stop_watching`, as in a child made by `fork`, where no
//! thread reads the watches' events), SOPS layers check their files with `stat` on every lookup,
//! so a change is seen at once although no event is ever read. A binary of its own: stopping is
//! for the whole process.

mod support;

use std::path::Path;

use filetime::FileTime;
use secret_cascade::providers::SopsProvider;
use secret_cascade::{ExposeSecret, Freshness, Resolver, SecretRequest};
use support::Sandbox;

#[test]
fn after_watching_stops_every_lookup_checks_the_file() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sops");
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("s.yaml");
    std::fs::copy(fixtures.join("enc/nested.yaml"), &file).unwrap();
    let builder = Resolver::builder().freshness(Freshness::Watch);
    let layer = SopsProvider::new(&file, builder.document_cache())
        .with_age_key_file(fixtures.join("key.txt"));
    let resolver = builder.provider(layer).build();
    let get = |name: &str| {
        resolver
            .resolve(&SecretRequest::new(name))
            .map(|record| record.expose_secret().to_owned())
    };
    let checks = |logs: &str| logs.matches("checked with stat").count();
    let watched = support::capture_logs(|| {
        for _ in 0..10 {
            assert_eq!(get("token").unwrap(), "tok-123");
        }
    });
    assert_eq!(checks(&watched), 1, "watched before stopping: {watched}");
    secret_cascade::stop_watching();
    let stopped = support::capture_logs(|| {
        for _ in 0..10 {
            assert_eq!(get("token").unwrap(), "tok-123");
        }
    });
    assert_eq!(checks(&stopped), 10);
    // A rewrite that keeps the modification time, with no event read and no settling.
    let mtime = FileTime::from_last_modification_time(&std::fs::metadata(&file).unwrap());
    std::fs::copy(fixtures.join("enc/simple.yaml"), &file).unwrap();
    filetime::set_file_mtime(&file, mtime).unwrap();
    assert_eq!(get("hello").unwrap(), "world");
}
