//! File validity without a system call per lookup: inotify watches (Linux) that bump one
//! process-wide generation counter when a watched file may have changed.
//!
//! A lookup reads the counter with one atomic load; while it still holds the value it had when
//! the file's identity was last confirmed by `stat`, nothing watched has happened since, so the
//! cached document is still the file's content. When it moved, the lookup checks the file with
//! `stat` again (the identity in [`crate::cache::FileIdentity`] decides, as in strict mode).
//!
//! What is watched for a path: every folder the kernel looks a name up in while resolving it
//! (each ancestor, and the folders that symbolic links on the way lead through), for that name,
//! and the file itself. So a rewrite (also one that restores the modification time), a
//! `chmod`/`touch`, a rename over the file, a delete and re-create, a retargeted symbolic link
//! (Kubernetes' `..data` swap) and a renamed parent folder all bump the counter; events for
//! other names in those folders do not. A queue overflow bumps it too.
//!
//! The guarantee, stated exactly: the kernel queues the event before the writer's call returns,
//! and a thread of ours reads it and bumps the counter; a lookup that starts after that sees the
//! change. Between the two (the time for the kernel to run that thread, microseconds on an idle
//! machine, longer under load) a lookup may still return the previous content, as a lookup that
//! started just before the change would. [`settle`] closes that window on demand: it reads the
//! pending events itself, so a lookup after it sees every change made before it was called.
//! Strict mode (`stat` on every lookup) has no window.
//!
//! Watches are only used where they see every change: on local file systems (ext2/3/4, XFS,
//! Btrfs, tmpfs, ZFS, F2FS, overlayfs, ramfs). On NFS, SMB, FUSE and others a change made on
//! another machine raises no event, so [`watch`] refuses and the caller keeps checking with
//! `stat`, as it does when inotify is missing or the watch limit is reached. Writes through a
//! shared memory mapping raise no event either (nor do they update the modification time
//! reliably); a file edited that way needs strict mode.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a path cannot be watched; the caller falls back to `stat`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Unwatchable(pub(crate) String);

/// Bumped whenever something watched may have changed; [`STOPPED`] set once watching stopped.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The bit of [`GENERATION`] that says no thread reads the events any more (a child made by
/// `fork`, or the thread failed): every watched file is then checked with `stat`.
const STOPPED: u64 = 1 << 63;

/// The current generation (one atomic load), or `None` once watching stopped.
pub(crate) fn generation() -> Option<u64> {
    let generation = GENERATION.load(Ordering::Acquire);
    (generation & STOPPED == 0).then_some(generation)
}

fn bump() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Stops relying on watches in this process: every SOPS layer checks its file with `stat` on
/// each lookup from now on, and no new watch is set up. For a child made by `fork` without
/// `exec`, where the watching thread does not exist; the Python package calls it through
/// `os.register_at_fork`. A Rust program that forks and goes on using a resolver in the child
/// must call it there first.
pub fn stop() {
    GENERATION.fetch_or(STOPPED, Ordering::AcqRel);
}

/// Watches what resolving `path` consults, until the process ends. Idempotent; a folder or file
/// already watched costs one cheap system call. An error says why the path cannot be watched.
pub(crate) fn watch(path: &Path) -> Result<(), Unwatchable> {
    if path.is_relative() {
        // Its `stat` follows the working directory; watches would stay where it was.
        return Err(Unwatchable(
            "a relative path follows the working directory".to_owned(),
        ));
    }
    if generation().is_none() {
        return Err(Unwatchable(
            "watching stopped in this process (a forked child)".to_owned(),
        ));
    }
    imp::watch(path)
}

/// Reads the events the kernel has queued and not yet handed to the watching thread, so that a
/// lookup that starts after this returns sees every change made before it was called. One
/// system call when nothing is pending; nothing at all when no path is watched.
pub fn settle() {
    imp::settle();
}

/// The (folder, name) pairs the kernel consults to resolve `path`, and the file it leads to:
/// like `realpath`, one component at a time, following symbolic links (at most 40).
fn resolution(path: &Path) -> std::io::Result<(Vec<(PathBuf, OsString)>, PathBuf)> {
    /// A component still to resolve, owned: a link's target is spliced in front of the rest.
    enum Part {
        Root,
        Parent,
        Name(OsString),
    }
    fn parts(path: &Path) -> impl DoubleEndedIterator<Item = Part> + '_ {
        path.components().filter_map(|component| match component {
            Component::RootDir | Component::Prefix(_) => Some(Part::Root),
            Component::CurDir => None,
            Component::ParentDir => Some(Part::Parent),
            Component::Normal(name) => Some(Part::Name(name.to_owned())),
        })
    }
    let mut pending: VecDeque<Part> = parts(&std::path::absolute(path)?).collect();
    let mut current = PathBuf::from("/");
    let mut lookups = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        let name = match part {
            Part::Root => {
                current = PathBuf::from("/");
                continue;
            }
            Part::Parent => {
                current.pop();
                continue;
            }
            Part::Name(name) => name,
        };
        let next = current.join(&name);
        lookups.push((current.clone(), name));
        if !std::fs::symlink_metadata(&next)?.is_symlink() {
            current = next;
            continue;
        }
        hops += 1;
        if hops > 40 {
            return Err(std::io::Error::other("too many levels of symbolic links"));
        }
        let target = std::fs::read_link(&next)?;
        for part in parts(&target).rev() {
            pending.push_front(part);
        }
    }
    Ok((lookups, current))
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::{HashMap, HashSet};
    use std::ffi::OsString;
    use std::mem::MaybeUninit;
    use std::os::fd::OwnedFd;
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

    use rustix::event::{PollFd, PollFlags};
    use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
    use rustix::io::Errno;
    use tracing::debug;

    use super::{Unwatchable, bump, resolution};

    /// The process's one inotify instance and what each of its watches is for.
    struct Watcher {
        fd: OwnedFd,
        state: Mutex<State>,
    }

    struct State {
        /// Per watch descriptor: the names that matter in a watched folder; `None` for a
        /// watched file, whose every event matters.
        interest: HashMap<i32, Option<HashSet<OsString>>>,
        buffer: Vec<MaybeUninit<u8>>,
    }

    static WATCHER: OnceLock<Result<Watcher, String>> = OnceLock::new();

    fn watcher() -> Result<&'static Watcher, Unwatchable> {
        let watcher = WATCHER.get_or_init(|| {
            let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)
                .map_err(|e| format!("inotify is not available: {e}"))?;
            std::thread::Builder::new()
                .name("secret-cascade-watch".to_owned())
                .spawn(run)
                .map_err(|e| format!("cannot start the watching thread: {e}"))?;
            Ok(Watcher {
                fd,
                state: Mutex::new(State {
                    interest: HashMap::new(),
                    buffer: vec![MaybeUninit::uninit(); 16 * 1024],
                }),
            })
        });
        watcher.as_ref().map_err(|e| Unwatchable(e.clone()))
    }

    /// The watching thread: waits for events without holding the lock, then reads and handles
    /// them under it, so that [`settle`] never returns while this thread holds events it read.
    fn run() {
        // `watcher()` stores the watcher right after starting this thread.
        let watcher = loop {
            match WATCHER.get() {
                Some(Ok(watcher)) => break watcher,
                Some(Err(_)) => return,
                None => std::thread::yield_now(),
            }
        };
        loop {
            let mut fds = [PollFd::new(&watcher.fd, PollFlags::IN)];
            match rustix::event::poll(&mut fds, None) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => {
                    debug!(error = %e, "watching stopped; files are checked with stat from now on");
                    super::stop();
                    return;
                }
            }
            drain(watcher, &mut lock(&watcher.state));
        }
    }

    pub(super) fn settle() {
        if let Some(Ok(watcher)) = WATCHER.get() {
            drain(watcher, &mut lock(&watcher.state));
        }
    }

    /// Reads every queued event; bumps the generation once if any of them matters.
    fn drain(watcher: &Watcher, state: &mut State) {
        let State { interest, buffer } = state;
        let mut changed = false;
        let mut reader = inotify::Reader::new(&watcher.fd, buffer);
        loop {
            let event = match reader.next() {
                Ok(event) => event,
                Err(Errno::AGAIN) => break,
                Err(Errno::INTR) => continue,
                Err(e) => {
                    debug!(error = %e, "reading inotify events failed; counting it as a change");
                    changed = true;
                    break;
                }
            };
            let flags = event.events();
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                changed = true;
                continue;
            }
            let name = event.file_name().map(|name| name.to_bytes());
            changed |= match (interest.get(&event.wd()), name) {
                (Some(Some(names)), Some(name)) => {
                    names.iter().any(|known| known.as_bytes() == name)
                }
                (Some(_), _) => true,
                (None, _) => false,
            };
            if flags.contains(ReadFlags::IGNORED) {
                // The watched folder or file is gone, and its watch with it.
                interest.remove(&event.wd());
                changed = true;
            }
        }
        if changed {
            bump();
        }
    }

    pub(super) fn watch(path: &Path) -> Result<(), Unwatchable> {
        let watcher = watcher()?;
        let (lookups, file) =
            resolution(path).map_err(|e| Unwatchable(format!("cannot resolve the path: {e}")))?;
        let mut folders: Vec<(PathBuf, Vec<OsString>)> = Vec::new();
        for (folder, name) in lookups {
            match folders.iter_mut().find(|(known, _)| *known == folder) {
                Some((_, names)) => names.push(name),
                None => folders.push((folder, vec![name])),
            }
        }
        for path in folders.iter().map(|(folder, _)| folder).chain([&file]) {
            local_file_system(path)?;
        }
        let file_mask = WatchFlags::MODIFY
            | WatchFlags::ATTRIB
            | WatchFlags::CLOSE_WRITE
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
            | WatchFlags::DONT_FOLLOW;
        let folder_mask = file_mask
            | WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO
            | WatchFlags::ONLYDIR;
        let add = |path: &Path, mask| {
            inotify::add_watch(&watcher.fd, path, mask).map_err(|e| {
                let hint = if e == Errno::NOSPC {
                    " (the inotify watch limit is reached: fs.inotify.max_user_watches)"
                } else {
                    ""
                };
                Unwatchable(format!("cannot watch {}: {e}{hint}", path.display()))
            })
        };
        let mut state = lock(&watcher.state);
        for (folder, names) in folders {
            // Adding a folder again returns its descriptor (and sets the same mask).
            let wd = add(&folder, folder_mask)?;
            match state.interest.get_mut(&wd) {
                Some(Some(known)) => known.extend(names),
                _ => {
                    state.interest.insert(wd, Some(names.into_iter().collect()));
                }
            }
        }
        let wd = add(&file, file_mask)?;
        state.interest.insert(wd, None);
        Ok(())
    }

    /// Refuses file systems where a change can happen without an inotify event (made by another
    /// machine or by a user-space server).
    fn local_file_system(path: &Path) -> Result<(), Unwatchable> {
        const LOCAL: [i64; 10] = [
            0xEF53,      // ext2/3/4
            0x5846_5342, // XFS
            0x9123_683E, // Btrfs
            0x0102_1994, // tmpfs
            0x2FC1_2FC1, // ZFS
            0xF2F5_2010, // F2FS
            0x794C_7630, // overlayfs
            0x8584_58F6, // ramfs
            0x5265_4973, // ReiserFS
            0x3153_464A, // JFS
        ];
        let stats = rustix::fs::statfs(path)
            .map_err(|e| Unwatchable(format!("cannot statfs {}: {e}", path.display())))?;
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        let kind = i64::from(stats.f_type as i64);
        if LOCAL.contains(&kind) {
            return Ok(());
        }
        Err(Unwatchable(format!(
            "{} is on a file system (type {kind:#x}) where inotify may miss changes (a network \
             or FUSE file system)",
            path.display()
        )))
    }

    fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::path::Path;

    use super::Unwatchable;

    pub(super) fn watch(_path: &Path) -> Result<(), Unwatchable> {
        Err(Unwatchable(
            "file watching is only implemented on Linux (inotify)".to_owned(),
        ))
    }

    pub(super) fn settle() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_follows_links_one_name_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("v1")).unwrap();
        std::fs::write(root.join("v1/s.yaml"), "").unwrap();
        std::os::unix::fs::symlink("v1", root.join("data")).unwrap();
        std::os::unix::fs::symlink("data/./s.yaml", root.join("s.yaml")).unwrap();
        let (lookups, file) = resolution(&root.join("v1/../s.yaml")).unwrap();
        assert_eq!(file, root.join("v1/s.yaml"));
        // Every ancestor is consulted first, for the next name down.
        assert_eq!(
            lookups[0],
            (PathBuf::from("/"), root.iter().nth(1).unwrap().into())
        );
        let last: Vec<(PathBuf, &str)> = lookups[lookups.len() - 4..]
            .iter()
            .map(|(folder, name)| (folder.clone(), name.to_str().unwrap()))
            .collect();
        let expected = [
            (root.clone(), "s.yaml"),
            (root.clone(), "data"),
            (root.clone(), "v1"),
            (root.join("v1"), "s.yaml"),
        ];
        assert_eq!(last, expected);
    }

    #[test]
    fn file_systems_that_can_miss_changes_are_refused() {
        // procfs: its files change without events.
        let refused = watch(Path::new("/proc/self/status")).unwrap_err();
        assert!(refused.0.contains("file system"), "{refused}");
    }
}
