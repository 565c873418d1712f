//! Resolves one secret many times from a reused resolver: the hot path of a service that looks a
//! secret up per request. `benches/instructions.sh` runs it under callgrind to count instructions
//! per lookup, a figure that, unlike wall time, does not move with machine load.
//!
//! usage: lookup_loop (env|override|env-after-miss|default) COUNT

use secret_cascade::providers::EnvProvider;
use secret_cascade::{ExposeSecret, Resolver, SecretRequest};
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(case), Some(count)) = (
        args.next(),
        args.next().and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: lookup_loop (env|override|env-after-miss|default) COUNT");
        std::process::exit(2);
    };
    // SAFETY: single-threaded, before any lookup.
    unsafe { std::env::set_var("BENCH__MAIL__SMTP__PASSWORD", "from-env") };
    let env_only = Resolver::builder()
        .provider(EnvProvider::new().with_prefix("BENCH"))
        .build();
    let chain = Resolver::builder()
        .override_secret("api.token", "from-code")
        .provider(EnvProvider::new().with_prefix("BENCH"))
        .build();
    let (resolver, request) = match case.as_str() {
        "env" => (
            &env_only,
            SecretRequest::new("smtp.password").with_scope("mail"),
        ),
        "override" => (&chain, SecretRequest::new("api.token")),
        "env-after-miss" => (
            &chain,
            SecretRequest::new("smtp.password").with_scope("mail"),
        ),
        _ => (
            &chain,
            SecretRequest::new("absent.name").with_default("fallback"),
        ),
    };
    let mut total = 0;
    for _ in 0..count {
        total += resolver
            .resolve(black_box(&request))
            .map_or(0, |r| r.expose_secret().len());
    }
    println!("{total}");
}
