//! The encrypted-file kind on ModelMesh's own files (`fixtures/modelmesh/`, written by
//! modelmesh-lite 0.1.1):
//!
//! - pbkdf2 600k: the key derivation alone (`pbkdf2` + `sha2`), what a cold passphrase open pays;
//! - cold open: a new layer each time, so the lookup reads the file, derives the key (passphrase,
//!   600 000 rounds) or takes it (raw key), decrypts with AES-256-GCM and parses the JSON;
//! - warm lookup: the decrypted map is kept and the file's identity checked (one `stat`);
//! - warm lookup with `cache_ttl_ms`: the value cache answers without looking at the file, as
//!   ModelMesh's cache does.
//!
//! ModelMesh's side is `benches/modelmesh/encrypted_file_open.py`; results are in
//! docs/performance.md.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use secret_cascade::providers::EncryptedFileProvider;
use secret_cascade::{Answer, ExposeSecret, Provider, SecretRequest, SecretString};
use zeroize::Zeroizing;

const PASSPHRASE: &str = "correct horse battery staple";
const KEY: [u8; 32] = [
    0x4b, 0x43, 0xd2, 0x2c, 0xb6, 0xb0, 0xef, 0x78, 0x83, 0x67, 0xb2, 0xf0, 0x64, 0x2f, 0xab, 0x32,
    0x67, 0x96, 0xf7, 0x5e, 0x8e, 0x9e, 0x83, 0x78, 0xdb, 0x94, 0xe9, 0x92, 0x90, 0x8d, 0x2b, 0x7f,
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/modelmesh")
        .join(name)
}

fn length(provider: &EncryptedFileProvider, request: &SecretRequest) -> usize {
    match provider.fetch(request).unwrap() {
        Answer::Hit(record) => record.expose_secret().len(),
        other => panic!("{other:?}"),
    }
}

fn lookups(c: &mut Criterion) {
    let passphrase_file = fixture("worked_passphrase.enc");
    let key_file = fixture("rawkey_mixed.enc");
    let passphrase_request = SecretRequest::new("OPENAI_API_KEY");
    let key_request = SecretRequest::new("DB_PASSWORD");
    let passphrase_layer =
        || EncryptedFileProvider::with_passphrase(&passphrase_file, SecretString::from(PASSPHRASE));

    let mut slow = c.benchmark_group("encrypted-file cold");
    slow.sample_size(10)
        .measurement_time(Duration::from_secs(8));
    slow.bench_function("pbkdf2 600k", |b| {
        b.iter(|| {
            let mut key = Zeroizing::new([0u8; 32]);
            let salt: Vec<u8> = (0..16).collect();
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                black_box(PASSPHRASE.as_bytes()),
                &salt,
                600_000,
                &mut *key,
            );
            key[0]
        })
    });
    slow.bench_function("cold open, passphrase (600k)", |b| {
        b.iter(|| length(&passphrase_layer(), black_box(&passphrase_request)))
    });
    slow.finish();

    let mut fast = c.benchmark_group("encrypted-file");
    fast.bench_function("cold open, raw key", |b| {
        b.iter(|| {
            let layer = EncryptedFileProvider::with_key(&key_file, Zeroizing::new(KEY));
            length(&layer, black_box(&key_request))
        })
    });
    let warm = passphrase_layer();
    length(&warm, &passphrase_request);
    fast.bench_function("warm lookup", |b| {
        b.iter(|| length(&warm, black_box(&passphrase_request)))
    });
    // ModelMesh's own warm path: its value cache, no look at the file.
    let cached = passphrase_layer().with_cache_ttl(Duration::from_secs(3600));
    length(&cached, &passphrase_request);
    fast.bench_function("warm lookup, cache_ttl_ms", |b| {
        b.iter(|| length(&cached, black_box(&passphrase_request)))
    });
    fast.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
