//! What the lookup benchmarks share: timing warm lookups through a resolver.

use std::hint::black_box;

use criterion::Criterion;
use secret_cascade::{ExposeSecret, Resolver, SecretRequest};

/// Benchmarks each case's lookup through its resolver in the group `group`: the value found and
/// the record dropped (its buffer zeroized) each time.
pub fn lookups(c: &mut Criterion, group: &str, cases: &[(&str, &Resolver, SecretRequest)]) {
    let mut group = c.benchmark_group(group);
    for (name, resolver, request) in cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                resolver
                    .resolve(black_box(request))
                    .unwrap()
                    .expose_secret()
                    .len()
            })
        });
    }
    group.finish();
}
