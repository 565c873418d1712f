//! `edit FILE`: decrypt a SOPS file into a private temporary file, run the user's editor on it,
//! and encrypt what changed back into the file, as `sops edit` does.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use secret_cascade::atomic_write;
use secret_cascade::sops::{self, EditableFile, EncryptionError, Format};
use zeroize::Zeroizing;

use crate::Failure;
use crate::files::{LockArgs, edit_failure};

pub(crate) const EXAMPLES: &str = "\
Examples:
  secret-cascade edit secrets.enc.yaml
  EDITOR='code --wait' secret-cascade edit app.enc.env

The file is decrypted into a private folder (mode 0700; on /dev/shm, a memory file system, where
there is one) as a file of mode 0600, and $VISUAL, else $EDITOR, else vi is run on it. When the
editor exits, every value that did not change keeps its ciphertext and the rest are encrypted
anew; an unchanged file is not rewritten. Invalid cleartext can be edited again (on a terminal)
or is refused. The temporary folder's files are overwritten with zeros and removed afterwards, on
errors and on SIGINT, SIGTERM or SIGHUP too. If the file changed while it was being edited, the
edit is refused rather than overwriting the other change.
Exit codes: 0 saved or unchanged, 1 the editor failed or the file changed meanwhile, 2 usage error
(invalid cleartext), 3 the file cannot be decrypted or was modified, 130 interrupted.";

// A SOPS file to edit.
#[derive(Args)]
pub(crate) struct EditArgs {
    /// The encrypted file.
    file: PathBuf,

    /// The file's store [default: by extension, binary for others].
    #[arg(long, value_name = "TYPE")]
    input_type: Option<Format>,

    #[command(flatten)]
    lock: LockArgs,
}

pub(crate) fn run(args: EditArgs) -> Result<(), Failure> {
    let file = &args.file;
    if !file.is_file() {
        return Err(Failure::usage(format!("{}: no such file", file.display())));
    }
    let failed = |error: EncryptionError| edit_failure(file, error);
    let original = sops::read_file(file).map_err(|e| failed(e.into()))?;
    let format = args.input_type.unwrap_or_else(|| Format::from_path(file));
    let identities = args.lock.config.identities_for(file)?;
    let mut editable = EditableFile::open(&original, format, &identities).map_err(failed)?;
    let cleartext = editable.plaintext().map_err(|e| Failure {
        code: 2,
        message: format!("{}: {e}", file.display()),
    })?;

    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::clone(&interrupted)).map_err(|e| Failure {
            code: 1,
            message: format!("cannot watch for signals: {e}"),
        })?;
    }
    let scratch = Scratch::new(file)?;
    scratch.write(&cleartext)?;
    loop {
        let edited = run_editor(&scratch.file);
        if interrupted.load(Ordering::SeqCst) {
            return Err(Failure {
                code: 130,
                message: format!("interrupted; {} was not changed", file.display()),
            });
        }
        edited?;
        let edited = scratch.read()?;
        if edited.as_slice() == cleartext.as_slice() {
            eprintln!("{}: no changes; the file was not rewritten", file.display());
            return Ok(());
        }
        match editable.replace_plaintext(&edited) {
            Ok(()) => break,
            Err(error) if std::io::stdin().is_terminal() => {
                eprintln!("secret-cascade: {}: {error}", file.display());
                if !ask("Edit again? [Y/n] ") {
                    return Err(failed(error));
                }
            }
            Err(error) => return Err(failed(error)),
        }
    }
    let written = editable.to_bytes().map_err(failed)?;
    let _lock = atomic_write::lock(file, args.lock.timeout()).map_err(|e| Failure {
        code: 1,
        message: format!("{}: cannot take the edit lock: {e}", file.display()),
    })?;
    if sops::read_file(file).map_err(|e| failed(e.into()))? != original {
        return Err(Failure {
            code: 1,
            message: format!(
                "{} changed while it was being edited; the edit was not saved, to keep the \
                 other change: edit it again",
                file.display()
            ),
        });
    }
    atomic_write::write(file, &written, atomic_write::Mode::KeepOr(0o600)).map_err(|e| Failure {
        code: 1,
        message: format!("cannot write {}: {e}", file.display()),
    })
}

/// The private folder and file the cleartext is edited in; wiped and removed on drop.
struct Scratch {
    folder: PathBuf,
    file: PathBuf,
}

impl Scratch {
    /// A new folder of mode 0700 under /dev/shm (else the temporary folder), holding a file named
    /// after `original` without its `.enc` part, so that the editor recognizes the type.
    fn new(original: &Path) -> Result<Self, Failure> {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| Failure {
            code: 1,
            message: format!("cannot draw a random folder name: {e}"),
        })?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let folder = base.join(format!("secret-cascade-edit-{suffix}"));
        DirBuilder::new()
            .mode(0o700)
            .create(&folder)
            .map_err(|e| Failure {
                code: 1,
                message: format!("cannot create {}: {e}", folder.display()),
            })?;
        let name = original
            .file_name()
            .map(|n| n.to_string_lossy().replace(".enc.", "."))
            .unwrap_or_else(|| "secrets".to_owned());
        let file = folder.join(name);
        Ok(Self { folder, file })
    }

    fn write(&self, bytes: &[u8]) -> Result<(), Failure> {
        let io = |e: std::io::Error| Failure {
            code: 1,
            message: format!("cannot write {}: {e}", self.file.display()),
        };
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.file)
            .map_err(io)?;
        out.write_all(bytes).map_err(io)
    }

    fn read(&self) -> Result<Zeroizing<Vec<u8>>, Failure> {
        sops::read_file(&self.file).map_err(|e| Failure {
            code: 1,
            message: format!("cannot read back {}: {e}", self.file.display()),
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Every file the editor left (its swap and backup files too) is overwritten, then removed.
        if let Ok(entries) = fs::read_dir(&self.folder) {
            for entry in entries.flatten() {
                let path = entry.path();
                if entry.file_type().is_ok_and(|t| t.is_file()) {
                    wipe(&path);
                }
                let _ = fs::remove_file(&path).or_else(|_| fs::remove_dir_all(&path));
            }
        }
        if let Err(e) = fs::remove_dir(&self.folder) {
            eprintln!(
                "secret-cascade: could not remove {}: {e}; remove it by hand",
                self.folder.display()
            );
        }
    }
}

/// Overwrites a file's bytes with zeros in place, and flushes them.
fn wipe(path: &Path) {
    let Ok(mut file) = OpenOptions::new().write(true).open(path) else {
        return;
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let zeros = vec![0u8; 64 * 1024];
    let mut left = length;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        if file.write_all(&zeros[..n]).is_err() {
            return;
        }
        left -= n as u64;
    }
    let _ = File::sync_all(&file);
}

/// Runs $VISUAL, else $EDITOR, else vi, on `file` (the variable split into words, no shell).
fn run_editor(file: &Path) -> Result<(), Failure> {
    let chosen = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_owned());
    let words = shlex::split(&chosen)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| {
            Failure::usage(format!(
                "the editor `{chosen}` ($VISUAL or $EDITOR) cannot be split into words"
            ))
        })?;
    let status = Command::new(&words[0])
        .args(&words[1..])
        .arg(file)
        .status()
        .map_err(|e| Failure {
            code: 1,
            message: format!("cannot run the editor `{}`: {e}", words[0]),
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure {
            code: 1,
            message: format!(
                "the editor `{}` exited with {status}; nothing was saved",
                words[0]
            ),
        })
    }
}

/// Asks a yes/no question on the terminal; yes unless the answer starts with n.
fn ask(question: &str) -> bool {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    !answer.trim().to_ascii_lowercase().starts_with('n')
}
