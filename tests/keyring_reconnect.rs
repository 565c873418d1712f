//! A `kind: keyring` layer in a long-running process, through the library: the Secret Service
//! goes away and comes back (a daemon or session bus restart), and the same provider must serve
//! again. In a test binary of its own because the provider finds the bus through the
//! process-wide `DBUS_SESSION_BUS_ADDRESS`, which its one test sets before anything else.
//!
//! The address is a symlink in a temporary folder (`unix:path=LINK`) that is pointed at each
//! private Secret Service's socket in turn (`tests/support/secret_service.rs`, started by
//! `scripts/with-secret-service`), so the "same" bus restarts with a fresh daemon behind it.

mod support;

use std::path::Path;
use std::time::Duration;

use secret_cascade::providers::KeyringProvider;
use secret_cascade::{Answer, ExposeSecret, Provider, SecretRequest};
use support::secret_service::SecretService;

/// Makes `link` the process's session bus address. Called once, by the only test here, before
/// any provider exists.
fn use_bus_at(link: &Path) {
    // SAFETY: this binary's only test calls it first thing, while no other thread of this process
    // reads the environment.
    unsafe {
        std::env::set_var(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", link.display()),
        );
    }
}

/// Points `link` at `service`'s bus.
fn route(link: &Path, service: &SecretService) {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(service.socket(), link).unwrap();
}

fn describe(answer: &Result<Answer, secret_cascade::Error>) -> String {
    match answer {
        Ok(Answer::Hit(record)) => format!("hit ({} bytes)", record.expose_secret().len()),
        Ok(Answer::Miss(reason)) => format!("miss: {reason:?}"),
        Ok(Answer::Unavailable(reason)) => format!("unavailable: {reason:?}"),
        Err(error) => format!("error: {error}"),
    }
}

#[test]
fn a_provider_serves_again_after_the_secret_service_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("bus");
    use_bus_at(&link);
    let request = SecretRequest::new("token").with_scope("app");
    let provider = KeyringProvider::new("reconnect").with_timeout(Duration::from_secs(10));

    let first = SecretService::start();
    route(&link, &first);
    provider.set(&request, "first-value").unwrap();
    let answer = provider.fetch(&request);
    assert!(
        matches!(answer, Ok(Answer::Hit(_))),
        "{}",
        describe(&answer)
    );

    drop(first);
    let answer = provider.fetch(&request);
    assert!(
        matches!(answer, Ok(Answer::Unavailable(_))),
        "while the service is gone: {}",
        describe(&answer)
    );

    // A fresh daemon (an empty keyring) behind the same address.
    let second = SecretService::start();
    route(&link, &second);
    let fresh = KeyringProvider::new("reconnect").fetch(&request);
    assert!(
        matches!(fresh, Ok(Answer::Miss(_))),
        "a new provider reaches the new service: {}",
        describe(&fresh)
    );
    let answer = provider.fetch(&request);
    assert!(
        matches!(answer, Ok(Answer::Miss(_))),
        "the old provider must reconnect: {}",
        describe(&answer)
    );
    provider
        .set(&request, "second-value")
        .unwrap_or_else(|e| panic!("the old provider must write again: {e}"));
}
