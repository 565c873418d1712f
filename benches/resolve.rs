//! Lookup cost of the layers that need no files: overrides and the environment.
//!
//! kstlib 3.8.2 on this machine kind: 0.95 µs from overrides, 2.3-3.5 µs from the environment
//! (KSTLIB_REFERENCE.md). Results are recorded in docs/performance.md.

mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use secret_cascade::providers::EnvProvider;
use secret_cascade::{Resolver, SecretRequest};

fn layers(c: &mut Criterion) {
    // SAFETY: set before any benchmark runs; nothing else touches the environment.
    unsafe { std::env::set_var("BENCH__MAIL__SMTP__PASSWORD", "from-env") };
    let resolver = Resolver::builder()
        .override_secret("api.token", "from-code")
        .provider(EnvProvider::new().with_prefix("BENCH"))
        .build();
    let env_only = Resolver::builder()
        .provider(EnvProvider::new().with_prefix("BENCH"))
        .build();
    let cases = [
        ("override", &resolver, SecretRequest::new("api.token")),
        (
            "env only",
            &env_only,
            SecretRequest::new("smtp.password").with_scope("mail"),
        ),
        (
            "env after an override miss",
            &resolver,
            SecretRequest::new("smtp.password").with_scope("mail"),
        ),
        (
            "default after two misses",
            &resolver,
            SecretRequest::new("absent.name").with_default("fallback"),
        ),
    ];
    support::lookups(c, "resolve", &cases);
}

criterion_group!(benches, layers);
criterion_main!(benches);
