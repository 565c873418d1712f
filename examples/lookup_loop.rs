//! Resolves one secret many times from a reused resolver: the hot path of a service that looks a
//! secret up per request. `benches/instructions.sh` runs it under callgrind to count instructions
//! per lookup, a figure that, unlike wall time, does not move with machine load.
//!
//! usage: lookup_loop CASE COUNT, CASE one of
//!   env             the env layer alone answers
//!   override        an override answers, before the env layer
//!   env-after-miss  the env layer answers after an override miss
//!   default         the request's default, after both layers miss
//!   env-then-sops   chain env -> sops (benches/data/large.enc.yaml, warm): env misses, sops answers
//!   chain-env-hit   the same chain, the env layer answers
//!   chain-miss      the same chain, every layer misses (`lookup` returns `None`)

use secret_cascade::providers::{EnvProvider, SopsProvider};
use secret_cascade::{ExposeSecret, Resolver, SecretRequest};
use std::hint::black_box;
use std::path::Path;

const CASES: &str = "env|override|env-after-miss|default|env-then-sops|chain-env-hit|chain-miss";

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(case), Some(count)) = (
        args.next(),
        args.next().and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: lookup_loop ({CASES}) COUNT");
        std::process::exit(2);
    };
    // SAFETY: single-threaded, before any lookup.
    unsafe {
        std::env::set_var("BENCH__MAIL__SMTP__PASSWORD", "from-env");
        std::env::set_var("BENCH__SERVICES__PAYMENTS__DB__USER", "from-env");
    }
    let (resolver, request) = match case.as_str() {
        "env" => (
            Resolver::builder()
                .provider(EnvProvider::new().with_prefix("BENCH"))
                .build(),
            SecretRequest::new("smtp.password").with_scope("mail"),
        ),
        "override" => (overrides(), SecretRequest::new("api.token")),
        "env-after-miss" => (
            overrides(),
            SecretRequest::new("smtp.password").with_scope("mail"),
        ),
        "default" => (
            overrides(),
            SecretRequest::new("absent.name").with_default("fallback"),
        ),
        "env-then-sops" => (
            env_then_sops(),
            SecretRequest::new("services.payments.db.password"),
        ),
        "chain-env-hit" => (
            env_then_sops(),
            SecretRequest::new("services.payments.db.user"),
        ),
        "chain-miss" => (
            env_then_sops(),
            SecretRequest::new("services.payments.db.absent"),
        ),
        _ => {
            eprintln!("lookup_loop: unknown case {case:?}; one of {CASES}");
            std::process::exit(2);
        }
    };
    // The first lookup decrypts the SOPS file; it is in both the COUNT and the 0 run, so the
    // difference is warm lookups only.
    let mut total = lookup_len(&resolver, &request);
    for _ in 0..count {
        total += lookup_len(&resolver, black_box(&request));
    }
    println!("{total}");
}

/// An override for `api.token`, then the env layer.
fn overrides() -> Resolver {
    Resolver::builder()
        .override_secret("api.token", "from-code")
        .provider(EnvProvider::new().with_prefix("BENCH"))
        .build()
}

/// The service chain of `benches/chain.rs`: env (prefix `BENCH`), then the 2000-leaf SOPS file.
fn env_then_sops() -> Resolver {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let builder = Resolver::builder();
    let cache = builder.document_cache();
    builder
        .provider(EnvProvider::new().with_prefix("BENCH"))
        .provider(
            SopsProvider::new(root.join("benches/data/large.enc.yaml"), cache)
                .with_age_key_file(root.join("fixtures/sops/key.txt")),
        )
        .build()
}

/// The value's length, or 0 when no layer has it; the record is dropped (zeroized) each time.
fn lookup_len(resolver: &Resolver, request: &SecretRequest) -> usize {
    resolver
        .lookup(request)
        .expect("lookup failed")
        .map_or(0, |record| record.expose_secret().len())
}
