//! `shred`: overwrite a file in place, then delete it, after asking (or with `--force`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use secret_cascade::shred::{self, Method, ShredError, ShredOptions, ShredOutcome};

use crate::Failure;

pub(crate) const SHRED_EXAMPLES: &str = "\
Examples:
  secret-cascade shred secrets.yaml                          asks first; 3 passes, the last zeros
  secret-cascade shred secrets.yaml --force --passes 1
  secret-cascade shred dump.json --force --method command    with GNU coreutils `shred`

Not guaranteed: old copies that overwriting in place cannot reach, on copy-on-write or journaling
filesystems (btrfs, ZFS), SSDs (wear levelling), snapshots, backups and swap.
Exit codes: 0 shredded or already removed, 1 I/O error or `shred` failed or missing,
2 usage error or refused (directory, symbolic link, not confirmed).";

#[derive(Args)]
pub(crate) struct ShredArgs {
    /// The file to overwrite and delete. Directories and symbolic links are refused.
    file: PathBuf,

    /// How many times the whole file is written, in total (a zeroing last pass is one of them).
    #[arg(short = 'n', long, value_name = "N", default_value_t = 3)]
    passes: u32,

    /// auto (the native overwrite), overwrite (the same), or command (GNU coreutils `shred`,
    /// an error when it is not on PATH).
    #[arg(long, value_name = "METHOD", default_value_t = Method::Auto)]
    method: Method,

    /// Write zeros in the last pass, so the file does not look shredded [default].
    #[arg(long, overrides_with = "no_zero_last_pass")]
    zero_last_pass: bool,

    /// Write random bytes in every pass.
    #[arg(long, overrides_with = "zero_last_pass")]
    no_zero_last_pass: bool,

    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(short, long)]
    force: bool,
}

pub(crate) fn run(args: ShredArgs) -> Result<(), Failure> {
    let options = ShredOptions {
        passes: args.passes,
        method: args.method,
        zero_last_pass: !args.no_zero_last_pass,
    };
    let file = args.file.display();
    // Check before asking: a missing file needs no confirmation, a directory no question.
    let Some(bytes) = shred::check(&args.file, &options).map_err(failure)? else {
        println!("{file}: already removed");
        return Ok(());
    };
    if !args.force {
        confirm(&format!("Shred {file} ({bytes} bytes)? [y/N] "), &file)?;
    }
    match shred::shred(&args.file, &options).map_err(failure)? {
        ShredOutcome::Removed { bytes, passes } => {
            let plural = if passes == 1 { "" } else { "es" };
            println!("{file}: shredded ({bytes} bytes, {passes} pass{plural}) and removed");
        }
        ShredOutcome::AlreadyRemoved => println!("{file}: already removed"),
    }
    Ok(())
}

/// Asks `question` on stderr and reads one line; anything but `y` or `yes` is a no.
fn confirm(question: &str, file: &impl std::fmt::Display) -> Result<(), Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::usage(format!(
            "not shredding {file} without confirmation: stdin is not a terminal; pass --force to \
             shred without asking"
        )));
    }
    let mut stderr = std::io::stderr().lock();
    // A prompt that cannot be shown cannot be answered; the read below then decides.
    let _ = write!(stderr, "{question}").and_then(|()| stderr.flush());
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|error| Failure {
            message: format!("cannot read the confirmation for {file}: {error}"),
            code: 1,
        })?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Failure::usage(format!(
            "not confirmed; {file} was left as it was"
        ))),
    }
}

fn failure(error: ShredError) -> Failure {
    let code = match error {
        ShredError::Symlink { .. }
        | ShredError::Directory { .. }
        | ShredError::NotARegularFile { .. }
        | ShredError::InvalidPasses { .. } => 2,
        _ => 1,
    };
    Failure {
        message: error.to_string(),
        code,
    }
}
