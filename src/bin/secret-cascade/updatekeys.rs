//! `updatekeys`: give existing SOPS files the master keys their `.sops.yaml` creation rule names,
//! as `sops updatekeys` does, for files and whole folders. The data key is kept, so no value
//! changes; only its wrapping does.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use secret_cascade::sops::{self, DecryptionError, Format, inspect};

use crate::Failure;
use crate::files::{LockArgs, edit_keys};

pub(crate) const EXAMPLES: &str = "\
Examples:
  secret-cascade updatekeys secrets.enc.yaml
  secret-cascade updatekeys --yes secrets/

Each file gets the keys (and Shamir threshold) of the first creation rule of the nearest
.sops.yaml whose path_regex matches it, as `sops updatekeys` does: the data key is wrapped for
the new keys and the old wrappings are dropped; values keep their ciphertext. A folder is walked
recursively (not into .git or symbolic links); its files that are not SOPS files, or that no
creation rule matches, are left alone and counted. Every change is shown and confirmed on the
terminal unless --yes is given. A removed key's holder may still have the data key: rotate
afterwards (`secret-cascade rotate FILE`) to cut them off.
Exit codes: 0 done, 2 usage error (no rule for a named file, no terminal to confirm on), 3 a
file cannot be decrypted, 6 a file's keys are all of unsupported types, 1 a write failed.";

// Files and folders whose keys to update.
#[derive(Args)]
pub(crate) struct UpdateKeysArgs {
    /// SOPS files, or folders to walk.
    #[arg(required = true, value_name = "FILE|DIR")]
    paths: Vec<PathBuf>,

    /// Apply every change without asking.
    #[arg(long, short)]
    yes: bool,

    /// Allow a change after which no identity available here opens the file.
    #[arg(long)]
    force: bool,

    /// The files' store [default: by extension, binary for others].
    #[arg(long, value_name = "TYPE")]
    input_type: Option<Format>,

    #[command(flatten)]
    lock: LockArgs,
}

/// What happened to the files, for the summary.
#[derive(Default)]
struct Tally {
    updated: usize,
    current: usize,
    declined: usize,
    not_sops: usize,
    no_rule: usize,
    failures: Vec<Failure>,
}

pub(crate) fn run(args: UpdateKeysArgs) -> Result<(), Failure> {
    let mut tally = Tally::default();

    for path in &args.paths {
        if path.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files).map_err(|e| Failure {
                code: 1,
                message: format!("cannot read the folder {}: {e}", path.display()),
            })?;
            for file in files {
                update(&file, false, &args, &mut tally);
            }
        } else {
            update(path, true, &args, &mut tally);
        }
    }
    eprintln!(
        "updatekeys: {} updated, {} already up to date, {} declined, {} without a creation \
         rule, {} not SOPS files, {} failed",
        tally.updated,
        tally.current,
        tally.declined,
        tally.no_rule,
        tally.not_sops,
        tally.failures.len()
    );
    let mut failures = tally.failures.into_iter();
    match failures.next() {
        None => Ok(()),
        // Each failure was printed as it happened; the exit code is the first one's.
        Some(first) => Err(Failure {
            message: String::new(),
            code: first.code,
        }),
    }
}

/// Every regular file under `folder`, sorted, not entering `.git` or following symbolic links.
fn walk(folder: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(folder)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() && entry.file_name() != ".git" {
            walk(&path, files)?;
        } else if kind.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// Updates one file; `named` when the user named it (then not being a SOPS file, or having no
/// rule, is an error rather than a count).
fn update(file: &Path, named: bool, args: &UpdateKeysArgs, tally: &mut Tally) {
    match plan(file, args.input_type) {
        Ok(Plan::Current) => tally.current += 1,
        Ok(Plan::NotSops) if !named => tally.not_sops += 1,
        Ok(Plan::NoRule) if !named => tally.no_rule += 1,
        Ok(Plan::NotSops) => fail(
            tally,
            Failure::usage(format!(
                "{}: not a SOPS file (no `sops` metadata)",
                file.display()
            )),
        ),
        Ok(Plan::NoRule) => fail(
            tally,
            Failure::usage(format!(
                "{}: no creation rule of a .sops.yaml matches it; add one with the keys it should have",
                file.display()
            )),
        ),
        Ok(Plan::Change {
            rule,
            changes,
            threshold,
        }) => {
            eprintln!("{}: {}", file.display(), changes.join("; "));
            match confirm(args.yes) {
                Ok(false) => tally.declined += 1,
                Err(failure) => fail(tally, failure),
                Ok(true) => {
                    let groups = rule.options.key_groups;
                    let outcome = edit_keys(file, args.input_type, &args.lock, args.force, |f| {
                        f.set_recipients(&groups, Some(threshold))
                    });
                    match outcome {
                        Ok(()) => tally.updated += 1,
                        Err(failure) => fail(tally, failure),
                    }
                }
            }
        }
        Err(failure) => fail(tally, failure),
    }
}

fn fail(tally: &mut Tally, failure: Failure) {
    eprintln!("secret-cascade: {}", failure.message);
    tally.failures.push(failure);
}

enum Plan {
    Current,
    NotSops,
    NoRule,
    Change {
        rule: sops::CreationRule,
        /// Per group, the keys added and removed, in words.
        changes: Vec<String>,
        threshold: usize,
    },
}

/// What the file's creation rule would change, read from its metadata alone (no key needed).
fn plan(file: &Path, format: Option<Format>) -> Result<Plan, Failure> {
    let format = format.unwrap_or_else(|| Format::from_path(file));
    let text = sops::read_file(file).map_err(|e| Failure {
        code: 1,
        message: format!("{}: {e}", file.display()),
    })?;
    let current = match inspect::key_groups(&text, format) {
        Ok(current) => current,
        Err(DecryptionError::MissingMetadata | DecryptionError::Parse(_)) => {
            return Ok(Plan::NotSops);
        }
        Err(e) => {
            return Err(Failure {
                code: crate::decryption_code(&e),
                message: format!("{}: {e}", file.display()),
            });
        }
    };
    let rule = match sops::find_creation_rule(file) {
        Ok(Some(rule)) => rule,
        Ok(None) | Err(sops::CreationRuleError::NoMatch { .. }) => return Ok(Plan::NoRule),
        Err(e) => return Err(Failure::usage(format!("{}: {e}", file.display()))),
    };
    let wanted: Vec<Vec<String>> = rule
        .options
        .key_groups
        .iter()
        .filter(|group| !group.is_empty())
        .map(|group| group.iter().map(ToString::to_string).collect())
        .collect();
    let threshold = if wanted.len() == 1 {
        1
    } else {
        rule.options.shamir_threshold.unwrap_or(wanted.len())
    };
    let mut changes = Vec::new();
    for index in 0..wanted.len().max(current.groups.len()) {
        let now = current
            .groups
            .get(index)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let then = wanted.get(index).map(Vec::as_slice).unwrap_or_default();
        let added: Vec<String> = then
            .iter()
            .filter(|k| !now.contains(k))
            .map(|k| format!("+{k}"))
            .collect();
        let removed: Vec<String> = now
            .iter()
            .filter(|k| !then.contains(k))
            .map(|k| format!("-{k}"))
            .collect();
        if !added.is_empty() || !removed.is_empty() {
            let words = [added, removed].concat().join(", ");
            changes.push(if wanted.len().max(current.groups.len()) > 1 {
                format!("key group {}: {words}", index + 1)
            } else {
                words
            });
        }
    }
    if threshold != current.threshold {
        changes.push(format!(
            "Shamir threshold {} -> {threshold}",
            current.threshold
        ));
    }
    if changes.is_empty() {
        return Ok(Plan::Current);
    }
    Ok(Plan::Change {
        rule,
        changes,
        threshold,
    })
}

/// Asks on the terminal whether to apply a change; `--yes` answers for the user.
fn confirm(yes: bool) -> Result<bool, Failure> {
    if yes {
        return Ok(true);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::usage(
            "not on a terminal, so the change cannot be confirmed; pass --yes to apply it",
        ));
    }
    eprint!("Apply this change? [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer).map_err(Failure::from)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
