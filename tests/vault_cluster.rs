//! `kind: vault` against a real 3-node OpenBao Raft cluster on 127.0.0.1: four threads resolve in
//! a loop while a writer updates the value through the same layer and the leader is SIGKILLed and
//! restarted. No resolve fails, no read returns a value older than the last write that completed
//! before the read began (the layer sends its writes' `X-Vault-Index`, so a standby that has not
//! caught up answers 412/429 and the read goes on), and once every node is stopped the layer is
//! unavailable within its `timeout_ms`.

mod support;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use secret_cascade::{Error, ExposeSecret, Resolver, SecretRequest};
use support::openbao::Cluster;

/// How long a resolve may take while a leader is replaced: `timeout_ms` of the layer below. An
/// election takes about a second here (performance_multiplier 1).
const TIMEOUT_MS: u64 = 8000;

#[test]
fn reads_stay_fresh_and_answer_while_the_leader_is_killed_and_restarted() {
    let mut cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let addresses = cluster.addresses().join(", ");
    let config = dir.path().join("secret-cascade.yml");
    std::fs::write(
        &config,
        format!(
            "providers:\n  - kind: vault\n    addresses: [{addresses}]\n    path: fleet\n    \
             timeout_ms: {TIMEOUT_MS}\n    auth: {{method: token, token: {}}}\n",
            cluster.token
        ),
    )
    .unwrap();
    let resolver = Resolver::from_config_file(&config).unwrap();
    let (_, layer) = resolver.managed_layers().next().unwrap();
    layer.set("app.counter", "0".into()).unwrap();

    let completed = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let failures = Mutex::new(Vec::new());
    let reads = AtomicU64::new(0);
    let request = SecretRequest::new("app.counter");
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut next = 1;
            while !stop.load(Ordering::Acquire) {
                match layer.set("app.counter", next.to_string().into()) {
                    Ok(()) => {
                        completed.store(next, Ordering::Release);
                        next += 1;
                    }
                    Err(error) => failures
                        .lock()
                        .unwrap()
                        .push(format!("write {next}: {error}")),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        for _ in 0..4 {
            scope.spawn(|| {
                while !stop.load(Ordering::Acquire) {
                    let before = completed.load(Ordering::Acquire);
                    match resolver.resolve(&request) {
                        Ok(record) => {
                            let seen: u64 = record.expose_secret().parse().unwrap();
                            if seen < before {
                                failures.lock().unwrap().push(format!(
                                    "stale read: {seen} after write {before} had completed"
                                ));
                            }
                            reads.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(error) => failures.lock().unwrap().push(format!("read: {error}")),
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_secs(2));
        let leader = cluster.leader().expect("an active node");
        cluster.kill(leader);
        std::thread::sleep(Duration::from_secs(3));
        cluster.restart(leader);
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::Release);
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failure(s): {failures:#?}",
        failures.len()
    );
    assert!(
        completed.load(Ordering::Acquire) > 10,
        "the writer kept writing"
    );
    assert!(
        reads.load(Ordering::Relaxed) > 100,
        "the readers kept reading"
    );

    // The whole cluster down: unavailable (not an error) within the timeout, and the chain goes
    // on to the request's default.
    cluster.stop_all();
    let started = Instant::now();
    let record = resolver
        .resolve(&SecretRequest::new("app.counter").with_default("fallback"))
        .unwrap();
    assert_eq!(record.expose_secret(), "fallback");
    assert!(
        started.elapsed() < Duration::from_millis(TIMEOUT_MS + 2000),
        "{:?}",
        started.elapsed()
    );
    let error = resolver.resolve(&request).unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("unavailable"), "{error}");
}
