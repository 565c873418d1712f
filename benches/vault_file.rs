//! The vault-file kind (`secret-cascade vault-file`, `kind: vault-file`):
//!
//! - locked get: open with the password (Argon2id at the floor, 64 MiB, 3 passes, 4 lanes, which
//!   dominates), check the manifest, decrypt one entry;
//! - unlocked get: the data key already at hand (as the kernel keyring gives it), read the file,
//!   check the manifest, decrypt one entry;
//! - keyring read: the data key fetched from the kernel keyring (run inside `keyctl session -`).
//!
//! `cargo bench --bench vault_file -- --test` runs each once. Results are in docs/performance.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use secret_cascade::vault_file::{KdfParams, Vault, unlock};

const PASSWORD: &[u8] = b"correct horse battery staple";

fn gets(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault");
    let mut vault = Vault::create(&path, PASSWORD, KdfParams::FLOOR, KdfParams::FLOOR).unwrap();
    for i in 0..100 {
        vault
            .add(&format!("service{i}.token"), "s3cr3t-value", &[], "")
            .unwrap();
    }
    vault.save().unwrap();
    let key = vault.data_key().clone();

    let mut locked = c.benchmark_group("vault-file locked");
    locked
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    locked.bench_function("get (argon2id 64 MiB t=3 p=4)", |b| {
        b.iter(|| {
            let vault = Vault::open_with_password(&path, PASSWORD, KdfParams::FLOOR).unwrap();
            black_box(vault.get("service50.token").unwrap().len())
        })
    });
    locked.finish();

    c.bench_function("vault-file unlocked get (100 entries)", |b| {
        b.iter(|| {
            let vault = Vault::open_with_key(&path, key.clone()).unwrap();
            black_box(vault.get("service50.token").unwrap().len())
        })
    });

    let identity = vault.identity();
    match unlock::remember(&identity, &key, Duration::from_secs(600)) {
        Ok(()) => {
            c.bench_function("vault-file kernel keyring read", |b| {
                b.iter(|| black_box(unlock::recall(&identity).unwrap().is_some()))
            });
            let _ = unlock::forget(&identity.id);
        }
        Err(e) => {
            eprintln!("vault-file kernel keyring read: skipped ({e}); run in `keyctl session -`")
        }
    }
}

criterion_group!(benches, gets);
criterion_main!(benches);
