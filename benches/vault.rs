//! Lookups through a `kind: vault` layer against a real OpenBao dev server on 127.0.0.1
//! (`$BAO_BIN`, scripts/install-openbao): answered from the layer's value cache, sequential
//! uncached lookups (one HTTP round trip each, keep-alive), and uncached lookups from 8 threads at
//! once (the time given is per lookup, so its inverse is lookups per second). Results are recorded
//! in docs/performance.md ("Vault / OpenBao").

#[path = "../tests/support/openbao.rs"]
#[allow(dead_code)]
mod openbao;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use secret_cascade::{ExposeSecret, Resolver, SecretRequest};

fn vault(c: &mut Criterion) {
    let server = openbao::DevServer::start();
    server.put("bench/db", serde_json::json!({"password": "bench-value"}));
    let dir = tempfile::tempdir().unwrap();
    let resolver = |extra: &str| {
        let path = dir.path().join("secret-cascade.yml");
        std::fs::write(
            &path,
            format!(
                "providers:\n  - kind: vault\n    address: {}\n    path: bench\n    auth: \
                 {{method: token, token: {}}}\n{extra}",
                server.address,
                openbao::ROOT_TOKEN
            ),
        )
        .unwrap();
        Resolver::from_config_file(&path).unwrap()
    };
    let uncached = resolver("");
    let cached = resolver("    cache_ttl_ms: 3600000\n");
    let request = SecretRequest::new("db.password");
    for resolver in [&uncached, &cached] {
        assert_eq!(
            resolver.resolve(&request).unwrap().expose_secret(),
            "bench-value"
        );
    }
    let lookup = |resolver: &Resolver| {
        resolver
            .resolve(black_box(&request))
            .unwrap()
            .expose_secret()
            .len()
    };
    let mut group = c.benchmark_group("vault");
    group.bench_function("cached", |b| b.iter(|| lookup(&cached)));
    group.bench_function("uncached, sequential", |b| b.iter(|| lookup(&uncached)));
    group.bench_function("uncached, 8 threads (per lookup)", |b| {
        b.iter_custom(|iters| {
            let per_thread = iters.div_ceil(8).max(1);
            let started = Instant::now();
            std::thread::scope(|scope| {
                for _ in 0..8 {
                    scope.spawn(|| {
                        for _ in 0..per_thread {
                            lookup(&uncached);
                        }
                    });
                }
            });
            started
                .elapsed()
                .div_f64((per_thread * 8) as f64 / iters as f64)
        })
    });
    group.finish();
    drop(server);
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = vault
}
criterion_main!(benches);
