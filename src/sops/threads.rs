//! When opening a file uses a second core, and how: one scoped worker thread, whose panic the
//! caller reports as an error rather than propagating it. Decrypting the values uses it
//! (`values`). Building the YAML tree on a worker while this thread parses was measured and did
//! not pay (docs/performance.md, "Cold path, threads and copies").

use std::num::NonZeroUsize;
use std::sync::OnceLock;
use std::thread;

/// How many threads this machine runs at once, asked once per process (the answer reads cgroup
/// files on Linux).
pub(crate) fn available() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

/// The one rule for a second thread: the caller allows two (`max_threads`, [`available`]
/// outside tests) and there is at least `enough` work to pay for starting one.
pub(crate) fn second_thread_pays(max_threads: usize, work: usize, enough: usize) -> bool {
    max_threads >= 2 && work >= enough
}

/// Runs `here` on this thread while `there` runs on a new one. `there`'s result is `None` if it
/// panicked; if no thread can be started, `there` runs here after `here`.
pub(crate) fn side_by_side<A, B: Send>(
    here: impl FnOnce() -> A,
    there: impl FnOnce() -> B + Send,
) -> (A, Option<B>) {
    let mut there = Some(there);
    let slot = &mut there;
    let (mine, theirs) = thread::scope(|scope| {
        let worker = thread::Builder::new()
            .name("sops-worker".to_owned())
            .spawn_scoped(scope, move || slot.take().map(|work| work()));
        let mine = here();
        // `Some(None)`: it panicked; `None`: it never started, and `there` is still to run.
        let theirs = worker.ok().map(|worker| worker.join().ok().flatten());
        (mine, theirs)
    });
    match theirs {
        Some(theirs) => (mine, theirs),
        None => (mine, there.map(|work| work())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_that_panics_is_reported_not_propagated() {
        assert_eq!(side_by_side(|| 1, || 2), (1, Some(2)));
        let (mine, theirs) = side_by_side(|| 1, || -> u8 { panic!("a worker fails") });
        assert_eq!((mine, theirs), (1, None));
    }

    #[test]
    fn a_second_thread_needs_a_second_core_and_enough_work() {
        assert!(second_thread_pays(2, 64, 64));
        assert!(!second_thread_pays(1, 1000, 64));
        assert!(!second_thread_pays(8, 63, 64));
    }
}
