//! Keyring lookups through the `kind: keyring` layer, one existing entry each:
//!
//! - secret-service: a D-Bus round trip to gnome-keyring per lookup (on a helper thread, under the
//!   timeout);
//! - keyutils: the kernel session keyring, called directly;
//! - cached: the same Secret Service lookup answered from the opt-in in-process cache
//!   (`cache_ttl_ms`);
//! - mock: the provider's own overhead over an in-memory store.
//!
//! Needs a Secret Service and a session keyring: run it as `scripts/test` runs the suite, inside
//! `scripts/with-secret-service keyctl session - cargo bench --bench keyring`. Without them it
//! panics naming what is missing. Results are in docs/performance.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use secret_cascade::providers::{Backend, KeyringProvider};
use secret_cascade::{Answer, Provider, SecretRequest};

fn provider(backend: Backend) -> (KeyringProvider, SecretRequest) {
    let keyring = KeyringProvider::with_backend("secret-cascade-bench", backend);
    let request = SecretRequest::new("bench.token").with_scope("bench");
    keyring
        .set(&request, "bench-value")
        .unwrap_or_else(|e| panic!("the {backend} keyring is needed for this benchmark: {e}"));
    (keyring, request)
}

fn lookups(c: &mut Criterion) {
    let mut group = c.benchmark_group("keyring lookup");
    group.measurement_time(Duration::from_secs(3));
    for backend in [Backend::SecretService, Backend::Keyutils, Backend::Mock] {
        let (keyring, request) = provider(backend);
        group.bench_function(backend.as_str(), |b| {
            b.iter(|| match keyring.fetch(black_box(&request)) {
                Ok(Answer::Hit(record)) => record,
                _ => panic!("the entry is missing"),
            })
        });
        keyring.delete(&request).unwrap();
    }
    let (keyring, request) = provider(Backend::SecretService);
    let cached = KeyringProvider::with_backend("secret-cascade-bench", Backend::SecretService)
        .with_cache_ttl(Duration::from_secs(60));
    group.bench_function("secret-service, cached", |b| {
        b.iter(|| match cached.fetch(black_box(&request)) {
            Ok(Answer::Hit(record)) => record,
            _ => panic!("the entry is missing"),
        })
    });
    keyring.delete(&request).unwrap();
    group.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
