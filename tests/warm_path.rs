//! The warm path does no work for misses that a later layer makes irrelevant: a miss allocates
//! nothing and its reason is put in words only when the whole chain misses.
//!
//! Allocations are counted by this test binary's global allocator, for the current thread only
//! (other tests run on other threads at the same time). No test here turns logging on: with
//! trace logging on, misses are put in words as they happen (tests/resolution.rs checks that).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use secret_cascade::providers::{EnvProvider, SopsProvider};
use secret_cascade::{
    Answer, Error, ExposeSecret, Provider, Reason, Resolver, SecretRequest, SecretSource,
};
use support::Sandbox;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts, on threads that asked to.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|count| count.set(count.get() + 1));
        }
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: memory this allocator handed out, with its layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// How many allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|count| count.set(0));
    COUNTING.with(|counting| counting.set(true));
    f();
    COUNTING.with(|counting| counting.set(false));
    COUNT.with(Cell::get)
}

fn sops_layer(sandbox: &Sandbox, resolver: &secret_cascade::ResolverBuilder) -> SopsProvider {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sops");
    let file = sandbox.path().join("s.enc.yaml");
    if !file.exists() {
        std::fs::copy(fixtures.join("enc/nested.yaml"), &file).unwrap();
    }
    SopsProvider::new(file, resolver.document_cache()).with_age_key_file(fixtures.join("key.txt"))
}

#[test]
fn misses_before_a_hit_allocate_nothing() {
    let sandbox = Sandbox::new();
    let builder = Resolver::builder();
    let layer = sops_layer(&sandbox, &builder);
    let alone = builder.provider(layer).build();
    let builder = Resolver::builder();
    let layer = sops_layer(&sandbox, &builder);
    let chain = builder
        .provider(EnvProvider::new().with_prefix("WARM_PATH_UNSET"))
        .provider(EnvProvider::new().with_prefix("WARM_PATH_OTHER"))
        .provider(layer)
        .build();
    let request = SecretRequest::new("token");
    for resolver in [&alone, &chain] {
        // Warm: the document decrypted, the request's paths and names made.
        assert_eq!(
            resolver.resolve(&request).unwrap().expose_secret(),
            "tok-123"
        );
    }
    let hit = |resolver: &Resolver| {
        allocations(|| {
            let record = resolver.resolve(&request).unwrap();
            assert_eq!(record.source(), SecretSource::Sops);
        })
    };
    let (alone, chain) = (hit(&alone), hit(&chain));
    assert!(alone > 0, "a hit allocates its record");
    assert_eq!(chain, alone, "two env misses before the SOPS hit");
}

/// A layer that always misses with a deferred reason, counting how often it is asked to explain.
struct Explaining(Arc<AtomicUsize>);

impl Provider for Explaining {
    fn label(&self) -> &str {
        "explaining"
    }

    fn fetch(&self, _: &SecretRequest) -> Result<Answer, Error> {
        Ok(Answer::Miss(Reason::deferred()))
    }

    fn explain(&self, request: &SecretRequest) -> String {
        self.0.fetch_add(1, Ordering::SeqCst);
        format!("nothing for `{}` here", request.name())
    }
}

#[test]
fn reasons_are_put_in_words_only_when_nothing_answers() {
    let asked = Arc::new(AtomicUsize::new(0));
    let resolver = Resolver::builder()
        .provider(Explaining(Arc::clone(&asked)))
        .provider(EnvProvider::new().with_prefix("WARM_PATH_UNSET"))
        .build();
    let found = SecretRequest::new("x").with_default("d");
    assert_eq!(
        resolver.resolve(&found).unwrap().source(),
        SecretSource::Default
    );
    assert_eq!(asked.load(Ordering::SeqCst), 0, "a default answered");
    let Err(Error::NotFound { tried, .. }) = resolver.resolve(&SecretRequest::new("x")) else {
        panic!("expected NotFound");
    };
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    let reasons: Vec<&str> = tried
        .iter()
        .map(|attempt| attempt.reason.as_str())
        .collect();
    assert_eq!(
        reasons,
        ["nothing for `x` here", "WARM_PATH_UNSET__X is not set"]
    );
}
