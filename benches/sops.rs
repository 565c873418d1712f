//! SOPS lookups on the 2000-leaf, 300 KB file of `benches/data/` (written by sops 3.11):
//!
//! - cold: a new resolver each time, so the lookup reads the key file, parses the document,
//!   unwraps the data key with age, decrypts every value and verifies the MAC;
//! - warm: the document is cached and the file's identity is checked (one `stat`);
//! - decrypt: `sops::decrypt` on bytes already in memory, the in-process core of the cold path.
//!
//! kstlib's side is `benches/kstlib/sops_lookup.py`; results are in docs/performance.md.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use secret_cascade::providers::SopsProvider;
use secret_cascade::sops::{self, Format, Identities};
use secret_cascade::{ExposeSecret, Resolver, SecretRequest};

fn paths() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    (
        root.join("benches/data/large.enc.yaml"),
        root.join("fixtures/sops/key.txt"),
    )
}

fn resolver(file: &Path, key: &Path) -> Resolver {
    let builder = Resolver::builder();
    let cache = builder.document_cache();
    builder
        .provider(SopsProvider::new(file, cache).with_age_key_file(key))
        .build()
}

fn lookups(c: &mut Criterion) {
    let (file, key) = paths();
    let request = SecretRequest::new("services.payments.db.password");
    let mut group = c.benchmark_group("sops 2000 leaves");
    group.sample_size(30);
    group.bench_function("cold first lookup", |b| {
        b.iter(|| {
            resolver(&file, &key)
                .resolve(black_box(&request))
                .unwrap()
                .expose_secret()
                .len()
        })
    });
    let warm = resolver(&file, &key);
    warm.resolve(&request).unwrap();
    group.bench_function("warm lookup", |b| {
        b.iter(|| {
            warm.resolve(black_box(&request))
                .unwrap()
                .expose_secret()
                .len()
        })
    });
    let text = std::fs::read(&file).unwrap();
    let identities =
        Identities::from_text(&std::fs::read_to_string(&key).unwrap(), "key.txt").unwrap();
    group.bench_function("decrypt in memory", |b| {
        b.iter(|| sops::decrypt(black_box(&text), Format::Yaml, &identities).unwrap())
    });
    group.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
