//! Warm lookups through a real chain, `env -> sops`, the usual service setup: an `EnvProvider`
//! with the prefix `BENCH`, then a `SopsProvider` on the 2000-leaf file of `benches/data/`:
//!
//! - env miss, sops hit: the name has no `BENCH__...` variable and is answered by the SOPS layer
//!   (its document cached, the file watched: no `stat`), built in code and from a config file,
//!   and with `freshness: strict` (one `stat` of the file per lookup);
//! - env hit: the env layer answers and the SOPS layer is never asked;
//! - chain miss: every layer misses, `lookup` returns `Ok(None)`;
//! - threads: one `Arc<Resolver>` shared by 1, 2 and 8 threads, each doing warm env-miss/sops-hit
//!   lookups; one iteration is one lookup per thread, so the throughput is lookups/s in total.
//!   Scaling shows only when both cores are free: on the shared CI VM, check with
//!   `perf stat -e task-clock` (about 1.9 CPUs used by the 2-thread case) or run it twice.
//!
//! kstlib's side is `benches/kstlib/chain_lookup.py`; instructions per lookup are in
//! `benches/instructions.sh` (the cases `env-then-sops` and `chain-miss` of `lookup_loop`).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use secret_cascade::providers::{EnvProvider, SopsProvider};
use secret_cascade::{ExposeSecret, Freshness, Resolver, SecretRequest};

/// Answered by the SOPS layer: no `BENCH__SERVICES__PAYMENTS__DB__PASSWORD` is set.
const SOPS_NAME: &str = "services.payments.db.password";
/// Answered by the env layer, from `BENCH__SERVICES__PAYMENTS__DB__USER`.
const ENV_NAME: &str = "services.payments.db.user";
/// In no layer.
const MISSING_NAME: &str = "services.payments.db.absent";

fn paths() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    (
        root.join("benches/data/large.enc.yaml"),
        root.join("fixtures/sops/key.txt"),
    )
}

fn chain_in_code(file: &Path, key: &Path, freshness: Freshness) -> Resolver {
    let builder = Resolver::builder().freshness(freshness);
    let cache = builder.document_cache();
    builder
        .provider(EnvProvider::new().with_prefix("BENCH"))
        .provider(SopsProvider::new(file, cache).with_age_key_file(key))
        .build()
}

/// The same chain from a config file (absolute paths, so the file can live anywhere).
fn chain_from_config(file: &Path, key: &Path) -> Resolver {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("secret-cascade.yml");
    let text = format!(
        "name: bench\nproviders:\n  - kind: env\n    prefix: BENCH\n  - kind: sops\n    \
         path: {}\n    age_key_file: {}\n",
        file.display(),
        key.display()
    );
    std::fs::write(&config, text).unwrap();
    Resolver::from_config_file(&config).unwrap()
}

/// The value's length: the record is dropped (its buffer zeroized) each time, as in a service.
fn lookup_len(resolver: &Resolver, request: &SecretRequest) -> usize {
    resolver
        .lookup(black_box(request))
        .unwrap()
        .map_or(0, |record| record.expose_secret().len())
}

/// Warms the resolver's cache and checks that `request` is answered by `source` (`None`: by no
/// layer), so that a benchmark cannot time the wrong path.
fn check(resolver: &Resolver, request: &SecretRequest, source: Option<&str>) {
    let found = resolver.lookup(request).unwrap();
    assert_eq!(
        found.as_ref().map(|record| record.source().to_string()),
        source.map(str::to_string),
        "{} answered by the wrong layer",
        request.name()
    );
}

fn single_thread(c: &mut Criterion) {
    // SAFETY: set before any benchmark runs or thread starts; nothing else touches the environment.
    unsafe { std::env::set_var("BENCH__SERVICES__PAYMENTS__DB__USER", "from-env") };
    let (file, key) = paths();
    let in_code = chain_in_code(&file, &key, Freshness::Watch);
    let strict = chain_in_code(&file, &key, Freshness::Strict);
    let from_config = chain_from_config(&file, &key);
    let sops_hit = SecretRequest::new(SOPS_NAME);
    let env_hit = SecretRequest::new(ENV_NAME);
    let miss = SecretRequest::new(MISSING_NAME);
    for resolver in [&in_code, &strict, &from_config] {
        check(resolver, &sops_hit, Some("sops"));
        check(resolver, &env_hit, Some("env"));
        check(resolver, &miss, None);
    }
    let cases = [
        ("env miss, sops hit", &in_code, &sops_hit),
        ("env miss, sops hit (config file)", &from_config, &sops_hit),
        ("env miss, sops hit (freshness: strict)", &strict, &sops_hit),
        ("env hit", &in_code, &env_hit),
        ("chain miss", &in_code, &miss),
    ];
    let mut group = c.benchmark_group("chain env -> sops");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (name, resolver, request) in cases {
        group.bench_function(name, |b| b.iter(|| lookup_len(resolver, request)));
    }
    group.finish();
}

/// `iters` env-miss/sops-hit lookups on each of `threads` threads sharing `resolver`: the time
/// from the first thread's start to the last thread's end (thread start-up left out).
fn concurrent(resolver: &Arc<Resolver>, threads: usize, iters: u64) -> Duration {
    let barrier = Arc::new(Barrier::new(threads));
    let spans: Vec<(Instant, Instant)> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (resolver, barrier) = (Arc::clone(resolver), Arc::clone(&barrier));
                scope.spawn(move || {
                    let request = SecretRequest::new(SOPS_NAME);
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(lookup_len(&resolver, &request));
                    }
                    (start, Instant::now())
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let start = spans.iter().map(|span| span.0).min().unwrap();
    let end = spans.iter().map(|span| span.1).max().unwrap();
    end - start
}

fn many_threads(c: &mut Criterion) {
    let (file, key) = paths();
    let resolver = Arc::new(chain_in_code(&file, &key, Freshness::Watch));
    check(&resolver, &SecretRequest::new(SOPS_NAME), Some("sops"));
    let mut group = c.benchmark_group("chain env -> sops, one Arc<Resolver>");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for threads in [1, 2, 8] {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(format!("{threads} threads"), |b| {
            b.iter_custom(|iters| concurrent(&resolver, threads, iters))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Plotting took longer than measuring (45 s of a 70 s run on the 2-core CI machine kind).
    config = Criterion::default().without_plots();
    targets = single_thread, many_threads
}
criterion_main!(benches);
