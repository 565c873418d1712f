//! The document cache: valid while the file's identity is unchanged, bounded, single-flight.
//!
//! Every test of a change runs in both freshness modes: `strict` (`stat` on every lookup) and
//! `watch` (inotify; a lookup calls `stat` only after an event). In watch mode the kernel queues
//! the event before the writer's call returns, and the watching thread hands it on a moment
//! later; the tests call `settle_watches` after each change, which reads the queued events
//! itself, so that "the next lookup sees it" is asserted exactly. One test also shows that without
//! it the change is seen within moments.
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
use secret_cascade::{DocumentCache, Error, ExposeSecret, Freshness, Resolver, SecretRequest};
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
    reset_counter();
    turn
}

fn reset_counter() {
    std::fs::write(counter(), "").unwrap();
}

/// Both modes, strict first.
const MODES: [Freshness; 2] = [Freshness::Strict, Freshness::Watch];

/// Takes the counter, and makes a sandbox with a copy of nested.yaml as `s.yaml`.
fn nested_copy() -> (MutexGuard<'static, ()>, Sandbox, PathBuf) {
    let turn = exclusive();
    let (sandbox, file) = nested_sandbox();
    (turn, sandbox, file)
}

/// A sandbox with a copy of nested.yaml as `s.yaml`, the decryption counter reset.
fn nested_sandbox() -> (Sandbox, PathBuf) {
    reset_counter();
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("s.yaml");
    std::fs::copy(fixture("nested.yaml"), &file).unwrap();
    (sandbox, file)
}

/// What a test does after changing a file, before the lookup that must see the change.
fn changed(mode: Freshness) {
    if mode == Freshness::Watch {
        secret_cascade::settle_watches();
    }
}

fn decryptions() -> usize {
    std::fs::read_to_string(counter()).unwrap().lines().count()
}

fn resolver(files: &[&Path], max_documents: usize) -> Resolver {
    resolver_in(Freshness::default(), files, max_documents)
}

fn resolver_in(mode: Freshness, files: &[&Path], max_documents: usize) -> Resolver {
    let builder = Resolver::builder()
        .max_documents(max_documents)
        .freshness(mode);
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
    let _turn = exclusive();
    for mode in MODES {
        let (_sandbox, file) = nested_sandbox();
        let resolver = resolver_in(mode, &[&file], 4);
        get(&resolver, "token").unwrap();
        filetime::set_file_mtime(&file, FileTime::from_unix_time(1_000_000_000, 123)).unwrap();
        changed(mode);
        get(&resolver, "token").unwrap();
        assert_eq!(decryptions(), 2, "{mode:?}");
    }
}

#[test]
fn rewrite_with_restored_mtime_is_seen() {
    let _turn = exclusive();
    for mode in MODES {
        let (_sandbox, file) = nested_sandbox();
        let resolver = resolver_in(mode, &[&file], 4);
        assert_eq!(get(&resolver, "token").unwrap(), "tok-123");
        rewrite_keeping_mtime(&file, &std::fs::read(fixture("simple.yaml")).unwrap());
        changed(mode);
        assert_eq!(get(&resolver, "hello").unwrap(), "world", "{mode:?}");
        assert!(matches!(
            get(&resolver, "token"),
            Err(Error::NotFound { .. })
        ));
    }
}

#[test]
fn same_size_rewrite_with_restored_mtime_is_seen() {
    let _turn = exclusive();
    for mode in MODES {
        let (_sandbox, file) = nested_sandbox();
        let resolver = resolver_in(mode, &[&file], 4);
        assert_eq!(get(&resolver, "api.key_unencrypted").unwrap(), "visible");
        let tampered = std::fs::read_to_string(&file)
            .unwrap()
            .replace("key_unencrypted: visible", "key_unencrypted: VISIBLE");
        rewrite_keeping_mtime(&file, tampered.as_bytes());
        changed(mode);
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
            "{mode:?}: {error}"
        );
    }
}

#[test]
fn replacement_by_rename_is_seen() {
    let _turn = exclusive();
    for mode in MODES {
        let (sandbox, file) = nested_sandbox();
        let resolver = resolver_in(mode, &[&file], 4);
        get(&resolver, "token").unwrap();
        let staged = sandbox.path().join("staged.yaml");
        std::fs::copy(fixture("simple.yaml"), &staged).unwrap();
        let mtime = FileTime::from_last_modification_time(&std::fs::metadata(&file).unwrap());
        filetime::set_file_mtime(&staged, mtime).unwrap();
        std::fs::rename(&staged, &file).unwrap();
        changed(mode);
        assert_eq!(get(&resolver, "hello").unwrap(), "world", "{mode:?}");
    }
}

#[test]
fn a_deleted_file_becomes_unavailable_and_a_recreated_one_is_read() {
    let _turn = exclusive();
    for mode in MODES {
        let (_sandbox, file) = nested_sandbox();
        let resolver = resolver_in(mode, &[&file], 4);
        get(&resolver, "token").unwrap();
        std::fs::remove_file(&file).unwrap();
        changed(mode);
        let error = get(&resolver, "token").unwrap_err();
        assert!(
            error.to_string().contains("does not exist"),
            "{mode:?}: {error}"
        );
        std::fs::copy(fixture("simple.yaml"), &file).unwrap();
        changed(mode);
        assert_eq!(get(&resolver, "hello").unwrap(), "world", "{mode:?}");
    }
}

/// Kubernetes' atomic writer: `s.yaml -> ..data/s.yaml`, `..data -> ..v1`; an update writes
/// `..v2` and renames a new `..data` link over the old one.
#[test]
fn a_retargeted_link_in_the_path_is_seen() {
    let _turn = exclusive();
    for mode in MODES {
        reset_counter();
        let sandbox = Sandbox::new();
        let root = sandbox.path();
        for (version, fixture_name) in [("..v1", "nested.yaml"), ("..v2", "simple.yaml")] {
            std::fs::create_dir(root.join(version)).unwrap();
            std::fs::copy(fixture(fixture_name), root.join(version).join("s.yaml")).unwrap();
        }
        std::os::unix::fs::symlink("..v1", root.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/s.yaml", root.join("s.yaml")).unwrap();
        let resolver = resolver_in(mode, &[&root.join("s.yaml")], 4);
        assert_eq!(get(&resolver, "token").unwrap(), "tok-123");
        std::os::unix::fs::symlink("..v2", root.join("..data_tmp")).unwrap();
        std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
        changed(mode);
        assert_eq!(get(&resolver, "hello").unwrap(), "world", "{mode:?}");
    }
}

/// A deployment that swaps a whole folder: `mv app app.old; mv app.new app`.
#[test]
fn a_replaced_parent_folder_is_seen() {
    let _turn = exclusive();
    for mode in MODES {
        reset_counter();
        let sandbox = Sandbox::new();
        let (app, next) = (sandbox.path().join("app"), sandbox.path().join("app.new"));
        for (folder, fixture_name) in [(&app, "nested.yaml"), (&next, "simple.yaml")] {
            std::fs::create_dir(folder).unwrap();
            std::fs::copy(fixture(fixture_name), folder.join("s.yaml")).unwrap();
        }
        let resolver = resolver_in(mode, &[&app.join("s.yaml")], 4);
        assert_eq!(get(&resolver, "token").unwrap(), "tok-123");
        std::fs::rename(&app, sandbox.path().join("app.old")).unwrap();
        std::fs::rename(&next, &app).unwrap();
        changed(mode);
        assert_eq!(get(&resolver, "hello").unwrap(), "world", "{mode:?}");
    }
}

/// How many lookups of a layer checked its file with `stat` (its trace events).
fn stat_checks(logs: &str) -> usize {
    logs.matches("checked with stat").count()
}

#[test]
fn watched_lookups_check_the_file_only_after_a_change() {
    let (_turn, sandbox, file) = nested_copy();
    let watched = resolver_in(Freshness::Watch, &[&file], 4);
    let strict = resolver_in(Freshness::Strict, &[&file], 4);
    let lookups = |resolver: &Resolver| {
        support::capture_logs(|| {
            for _ in 0..50 {
                assert_eq!(get(resolver, "token").unwrap(), "tok-123");
            }
        })
    };
    assert_eq!(stat_checks(&lookups(&strict)), 50);
    // Events of earlier tests' sandboxes (deleted folders this process watched) are read first.
    secret_cascade::settle_watches();
    // The first lookup checks and sets the watches; the other 49 read the counter only.
    assert_eq!(stat_checks(&lookups(&watched)), 1);
    // Other files in the folder do not count...
    std::fs::write(sandbox.path().join("other.txt"), "noise").unwrap();
    secret_cascade::settle_watches();
    assert_eq!(stat_checks(&lookups(&watched)), 0);
    // ... a change to this one does, once.
    filetime::set_file_mtime(&file, FileTime::from_unix_time(1_000_000_000, 0)).unwrap();
    secret_cascade::settle_watches();
    assert_eq!(stat_checks(&lookups(&watched)), 1);
}

#[test]
fn without_settling_a_watched_change_is_seen_within_moments() {
    let (_turn, _sandbox, file) = nested_copy();
    let resolver = resolver_in(Freshness::Watch, &[&file], 4);
    assert_eq!(get(&resolver, "token").unwrap(), "tok-123");
    rewrite_keeping_mtime(&file, &std::fs::read(fixture("simple.yaml")).unwrap());
    let started = std::time::Instant::now();
    // Until the watching thread has run, the previous document, whole; then the new one.
    loop {
        match get(&resolver, "hello") {
            Ok(value) => {
                assert_eq!(value, "world");
                break;
            }
            Err(Error::NotFound { .. }) => assert_eq!(get(&resolver, "token").unwrap(), "tok-123"),
            Err(error) => panic!("{error}"),
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the change was not seen within 10 s"
        );
        std::thread::yield_now();
    }
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
