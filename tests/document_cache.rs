//! The document cache: valid while the file's identity is unchanged, bounded, single-flight.
//!
//! Decryptions are counted through the real identity path: every test's layer gets its identity
//! from `SOPS_AGE_KEY_CMD`, a command that appends a line to a counter file each time it runs, and
//! it runs once per decryption. The tests share that counter, so they take turns.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, Mutex, MutexGuard, Once};

use filetime::FileTime;
use secret_cascade::providers::SopsProvider;
use secret_cascade::sops::DecryptionError;
use secret_cascade::{DocumentCache, Error, ExposeSecret, Resolver, SecretRequest};
use support::Sandbox;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sops/enc")
        .join(name)
}

fn counter() -> PathBuf {
    std::env::temp_dir().join(format!("secret-cascade-decryptions-{}", std::process::id()))
}

/// Takes the counter for this test and resets it.
fn exclusive() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sops/key.txt");
        // Run as words, not by a shell (as sops runs it): the shell is asked for by name.
        let command = format!(
            "sh -c \"sleep 0.2; echo >> '{}'; cat '{}'\"",
            counter().display(),
            key.display()
        );
        // SAFETY: set once, before any test of this binary decrypts (each takes `exclusive` first).
        unsafe {
            std::env::set_var("SOPS_AGE_KEY_CMD", command);
            std::env::remove_var("SOPS_AGE_KEY");
            std::env::remove_var("SOPS_AGE_KEY_FILE");
        }
    });
    let turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    std::fs::write(counter(), "").unwrap();
    turn
}

/// Takes the counter, and makes a sandbox with a copy of nested.yaml as `s.yaml`.
fn nested_copy() -> (MutexGuard<'static, ()>, Sandbox, PathBuf) {
    let turn = exclusive();
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("s.yaml");
    std::fs::copy(fixture("nested.yaml"), &file).unwrap();
    (turn, sandbox, file)
}

fn decryptions() -> usize {
    std::fs::read_to_string(counter()).unwrap().lines().count()
}

fn resolver(files: &[&Path], max_documents: usize) -> Resolver {
    let builder = Resolver::builder().max_documents(max_documents);
    let cache = builder.document_cache();
    files
        .iter()
        .fold(builder, |b, file| {
            b.provider(SopsProvider::new(*file, Arc::clone(&cache)))
        })
        .build()
}

fn get(resolver: &Resolver, name: &str) -> Result<String, Error> {
    resolver
        .resolve(&SecretRequest::new(name))
        .map(|r| r.expose_secret().to_owned())
}

/// Replaces the file's content in place (same inode) and puts its modification time back.
fn rewrite_keeping_mtime(file: &Path, content: &[u8]) {
    let before = FileTime::from_last_modification_time(&std::fs::metadata(file).unwrap());
    std::fs::write(file, content).unwrap();
    filetime::set_file_mtime(file, before).unwrap();
}

#[test]
fn warm_lookups_do_not_decrypt_again() {
    let (_turn, _sandbox, file) = nested_copy();
    let resolver = resolver(&[&file], 4);
    for _ in 0..5 {
        assert_eq!(get(&resolver, "token").unwrap(), "tok-123");
        assert_eq!(get(&resolver, "database.port").unwrap(), "5432");
    }
    assert_eq!(decryptions(), 1);
}

#[test]
fn touching_the_file_reloads_it() {
    let (_turn, _sandbox, file) = nested_copy();
    let resolver = resolver(&[&file], 4);
    get(&resolver, "token").unwrap();
    filetime::set_file_mtime(&file, FileTime::from_unix_time(1_000_000_000, 123)).unwrap();
    get(&resolver, "token").unwrap();
    assert_eq!(decryptions(), 2);
}

#[test]
fn rewrite_with_restored_mtime_is_seen() {
    let (_turn, _sandbox, file) = nested_copy();
    let resolver = resolver(&[&file], 4);
    assert_eq!(get(&resolver, "token").unwrap(), "tok-123");
    rewrite_keeping_mtime(&file, &std::fs::read(fixture("simple.yaml")).unwrap());
    assert_eq!(get(&resolver, "hello").unwrap(), "world");
    assert!(matches!(
        get(&resolver, "token"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn same_size_rewrite_with_restored_mtime_is_seen() {
    let (_turn, _sandbox, file) = nested_copy();
    let resolver = resolver(&[&file], 4);
    assert_eq!(get(&resolver, "api.key_unencrypted").unwrap(), "visible");
    let tampered = std::fs::read_to_string(&file)
        .unwrap()
        .replace("key_unencrypted: visible", "key_unencrypted: VISIBLE");
    rewrite_keeping_mtime(&file, tampered.as_bytes());
    // Were the stale document served, this would still say "visible".
    let error = get(&resolver, "api.key_unencrypted").unwrap_err();
    assert!(
        matches!(
            error,
            Error::Decryption {
                reason: DecryptionError::MacMismatch,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn replacement_by_rename_is_seen() {
    let (_turn, sandbox, file) = nested_copy();
    let resolver = resolver(&[&file], 4);
    get(&resolver, "token").unwrap();
    let staged = sandbox.path().join("staged.yaml");
    std::fs::copy(fixture("simple.yaml"), &staged).unwrap();
    let mtime = FileTime::from_last_modification_time(&std::fs::metadata(&file).unwrap());
    filetime::set_file_mtime(&staged, mtime).unwrap();
    std::fs::rename(&staged, &file).unwrap();
    assert_eq!(get(&resolver, "hello").unwrap(), "world");
}

#[test]
fn a_deleted_file_becomes_unavailable() {
    let (_turn, _sandbox, file) = nested_copy();
    let resolver = resolver(&[&file], 4);
    get(&resolver, "token").unwrap();
    std::fs::remove_file(&file).unwrap();
    let error = get(&resolver, "token").unwrap_err();
    assert!(error.to_string().contains("does not exist"), "{error}");
}

#[test]
fn the_least_recently_used_document_is_evicted_first() {
    let _turn = exclusive();
    let sandbox = Sandbox::new();
    let files: Vec<PathBuf> = ["a", "b", "c"]
        .iter()
        .map(|name| {
            let file = sandbox.path().join(format!("{name}.yaml"));
            std::fs::copy(fixture("simple.yaml"), &file).unwrap();
            file
        })
        .collect();
    let cache = Arc::new(DocumentCache::new(2));
    let layers: Vec<Resolver> = files
        .iter()
        .map(|file| {
            Resolver::builder()
                .provider(SopsProvider::new(file, Arc::clone(&cache)))
                .build()
        })
        .collect();
    let touch = |i: usize| get(&layers[i], "hello").unwrap();
    touch(0);
    touch(1);
    touch(0); // a is now more recent than b
    touch(2); // evicts b
    assert_eq!((decryptions(), cache.len()), (3, 2));
    touch(0);
    assert_eq!(decryptions(), 3, "a was kept");
    touch(1);
    assert_eq!(decryptions(), 4, "b was evicted");
}

#[test]
fn concurrent_misses_decrypt_once() {
    let (_turn, _sandbox, file) = nested_copy();
    let resolver = Arc::new(resolver(&[&file], 4));
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (resolver, barrier) = (Arc::clone(&resolver), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                get(&resolver, "token").unwrap()
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), "tok-123");
    }
    assert_eq!(decryptions(), 1);
}

#[test]
fn purging_drops_documents() {
    let (_turn, _sandbox, file) = nested_copy();
    let resolver = resolver(&[&file], 4);
    let record = resolver.resolve(&SecretRequest::new("token")).unwrap();
    let canonical = PathBuf::from(record.metadata().get("path").unwrap());
    resolver.document_cache().purge(&canonical);
    assert!(resolver.document_cache().is_empty());
    get(&resolver, "token").unwrap();
    resolver.document_cache().purge_all();
    get(&resolver, "token").unwrap();
    assert_eq!(decryptions(), 3);
}

#[test]
fn a_sensitive_scope_can_purge_the_records_document() {
    let (_turn, _sandbox, file) = nested_copy();
    let resolver = resolver(&[&file], 4);
    let record = resolver.resolve(&SecretRequest::new("token")).unwrap();
    assert_eq!(resolver.document_cache().len(), 1);
    let length =
        secret_cascade::with_sensitive_purging(record, resolver.document_cache(), |token: &str| {
            token.len()
        });
    assert_eq!((length, resolver.document_cache().len()), (7, 0));
}

#[test]
fn two_paths_to_one_file_share_an_entry() {
    let (_turn, sandbox, file) = nested_copy();
    let indirect = sandbox.path().join("sub/../s.yaml");
    std::fs::create_dir(sandbox.path().join("sub")).unwrap();
    let resolver = resolver(&[&file, &indirect], 4);
    get(&resolver, "token").unwrap();
    let other = Resolver::builder()
        .provider(SopsProvider::new(
            &indirect,
            Arc::clone(resolver.document_cache()),
        ))
        .build();
    get(&other, "token").unwrap();
    assert_eq!((decryptions(), resolver.document_cache().len()), (1, 1));
}
