//! Cold first lookups in the 2000-leaf file of `benches/data/`, encrypted by the real sops 3.11 to
//! one key of each type (the files were written with `sops encrypt --age`/`--pgp` from
//! `large.yaml`):
//!
//! - age X25519: `large.enc.yaml`, identity `fixtures/sops/key.txt`;
//! - age post-quantum (ML-KEM-768 + X25519): `large.pq.enc.yaml`, Go age's hybrid test key
//!   `fixtures/age/go-age-hybrid-key.txt`;
//! - PGP: `large.pgp.enc.yaml`, sops's own functional-test key (RSA), read natively from the
//!   armored key file `fixtures/sops/pgp/getsops-sops/sops_functional_tests_key.asc`.
//!
//! Each lookup builds a new resolver, reads the key file, parses the document, unwraps the data key
//! and decrypts and verifies every value: the rest of the cold path is the same for all three, so
//! their differences are the unwrap. Results are in docs/performance.md.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use secret_cascade::providers::SopsProvider;
use secret_cascade::{ExposeSecret, Resolver, SecretRequest};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Gives a SOPS layer its identity.
type WithKey = Box<dyn Fn(SopsProvider) -> SopsProvider>;

/// A resolver with one SOPS layer on `file`, its identity from `with_key`.
fn resolver(file: &Path, with_key: &dyn Fn(SopsProvider) -> SopsProvider) -> Resolver {
    let builder = Resolver::builder();
    let cache = builder.document_cache();
    builder
        .provider(with_key(SopsProvider::new(file, cache)))
        .build()
}

fn cold_lookups(c: &mut Criterion) {
    let root = root();
    let data = root.join("benches/data");
    let age_key = root.join("fixtures/sops/key.txt");
    let pq_key = root.join("fixtures/age/go-age-hybrid-key.txt");
    let pgp_key = root.join("fixtures/sops/pgp/getsops-sops/sops_functional_tests_key.asc");
    let cases: [(&str, PathBuf, WithKey); 3] = [
        (
            "age X25519",
            data.join("large.enc.yaml"),
            Box::new(move |p| p.with_age_key_file(&age_key)),
        ),
        (
            "age post-quantum (mlkem768x25519)",
            data.join("large.pq.enc.yaml"),
            Box::new(move |p| p.with_age_key_file(&pq_key)),
        ),
        (
            "PGP (RSA, native)",
            data.join("large.pgp.enc.yaml"),
            Box::new(move |p| p.with_pgp_key_file(&pgp_key)),
        ),
    ];
    let request = SecretRequest::new("services.payments.db.password");
    let mut group = c.benchmark_group("sops cold first lookup by key type, 2000 leaves");
    group.sample_size(20);
    for (name, file, with_key) in &cases {
        // The same value whatever the key: the files differ only in their key groups.
        let value = resolver(file, with_key).resolve(&request).unwrap();
        assert!(!value.expose_secret().is_empty(), "{name}");
        group.bench_function(*name, |b| {
            b.iter(|| {
                resolver(file, with_key)
                    .resolve(black_box(&request))
                    .unwrap()
                    .expose_secret()
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, cold_lookups);
criterion_main!(benches);
