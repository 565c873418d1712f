//! Warm lookups in the plain local stores: dotenv (environment first, then the file), JSON and
//! memory, each through a resolver of one layer, with and without the value cache. Results are
//! recorded in docs/performance.md ("Local stores").

mod support;

use std::fmt::Write as _;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use secret_cascade::providers::{DotenvProvider, JsonProvider, MemoryProvider};
use secret_cascade::{ExposeSecret, Provider, Resolver, SecretRequest};

fn local_stores(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    // 50 entries each, the one looked up in the middle, as a small application's file holds.
    let mut dotenv = String::from("# bench\n");
    let mut json = String::from("{\"app\": {");
    for i in 0..50 {
        writeln!(dotenv, "APP__KEY_{i}=\"value-{i}\"").unwrap();
        write!(
            json,
            "{}\"key_{i}\": \"value-{i}\"",
            if i > 0 { ", " } else { "" }
        )
        .unwrap();
    }
    json.push_str("}}");
    let dotenv_path = dir.path().join("bench.env");
    let json_path = dir.path().join("bench.json");
    std::fs::write(&dotenv_path, dotenv).unwrap();
    std::fs::write(&json_path, json).unwrap();
    let hour = Duration::from_secs(3600);
    let one = |provider: Box<dyn Provider>| Resolver::builder().boxed_provider(provider).build();
    let memory = (0..50).fold(MemoryProvider::new(), |memory, i| {
        memory.with_secret(format!("app.key_{i}"), format!("value-{i}"))
    });
    let resolvers = [
        one(Box::new(DotenvProvider::new(&dotenv_path))),
        one(Box::new(
            DotenvProvider::new(&dotenv_path).with_cache_ttl(hour),
        )),
        one(Box::new(JsonProvider::new(&json_path))),
        one(Box::new(JsonProvider::new(&json_path).with_cache_ttl(hour))),
        one(Box::new(memory)),
    ];
    let (mapped, dotted) = ("app.key-25", "app.key_25");
    let cases = [
        ("dotenv (env miss, then the file)", &resolvers[0], mapped),
        ("dotenv, cache_ttl_ms", &resolvers[1], mapped),
        ("json", &resolvers[2], dotted),
        ("json, cache_ttl_ms", &resolvers[3], dotted),
        ("memory", &resolvers[4], dotted),
    ]
    .map(|(name, resolver, request)| (name, resolver, SecretRequest::new(request)));
    for (name, resolver, request) in &cases {
        let value = resolver.resolve(request).unwrap();
        assert_eq!(value.expose_secret(), "value-25", "{name}");
    }
    support::lookups(c, "local stores", &cases);
}

criterion_group!(benches, local_stores);
criterion_main!(benches);
