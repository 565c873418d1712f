//! The `secret-cascade` command: a thin layer over the library that parses arguments, calls it,
//! prints, and maps errors to exit codes. One module per command.
#![forbid(unsafe_code)]

mod decrypt;
mod doctor;
mod edit;
mod exec;
mod files;
mod get;
mod init;
mod keyring;
mod shred;
mod store;
mod updatekeys;
mod vault;
mod vault_file;

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secret_cascade::{Error, PlaintextBuffer};
use tracing_subscriber::EnvFilter;
use zeroize::Zeroizing;

const OVERVIEW: &str = "\
Examples:
  secret-cascade get database.password --config secret-cascade.yml --json
  secret-cascade init
  secret-cascade encrypt secrets.yaml --output secrets.enc.yaml --shred
  printf %s \"$NEW_PASSWORD\" | secret-cascade set secrets.enc.yaml database.password
  secret-cascade exec --env PGPASSWORD=database.password -- psql -h db
  secret-cascade doctor

Exit codes: 0 done, 1 not found, 2 usage or config error, 3 decryption or integrity error (wrong
key, tampered file), 4 a backend the command needs is unavailable (`keyring`), 5 a server
denied access (a Vault/OpenBao 403), 6 a file whose keys are all of types this build cannot
open (GCP KMS, Azure Key Vault); `exec` exits with its command's status.
`secret-cascade help COMMAND` has each command's examples and details.

Logs go to stderr: -v for debug, -vv for trace; or set SECRET_CASCADE_LOG to a tracing filter.
Values are never logged.";

/// Resolve secrets through an ordered chain of sources.
#[derive(Parser)]
#[command(name = "secret-cascade", version, after_help = OVERVIEW)]
struct Cli {
    /// Log to stderr: -v debug, -vv trace.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

/// Each command's arguments are built only when that command runs (`defer`), which saves every
/// start building all the others (0.2 ms and 60 page faults of a `decrypt`'s 8). The description
/// of a command is on its variant here: clap applies an `Args` struct's doc comment after the
/// variant's when building is deferred, so those structs carry plain comments.
#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    /// Print the value of one secret.
    #[command(after_help = get::EXAMPLES)]
    Get(get::GetArgs),
    /// Decrypt a SOPS file natively and print it, like `sops decrypt`.
    #[command(after_help = decrypt::DECRYPT_EXAMPLES)]
    Decrypt(decrypt::DecryptArgs),
    /// Encrypt a file into the SOPS format, like `sops encrypt`.
    #[command(after_help = files::ENCRYPT_EXAMPLES)]
    Encrypt(files::EncryptArgs),
    /// Set one value of a SOPS file, reading the value from stdin.
    #[command(after_help = files::SET_EXAMPLES)]
    Set(files::SetArgs),
    /// Edit a SOPS file's cleartext in $EDITOR, like `sops edit`.
    #[command(after_help = edit::EXAMPLES)]
    Edit(edit::EditArgs),
    /// Remove one value from a SOPS file.
    Unset(files::UnsetArgs),
    /// Re-encrypt a SOPS file under a new data key, optionally changing recipients.
    #[command(after_help = files::ROTATE_EXAMPLES)]
    Rotate(files::RotateArgs),
    /// Give SOPS files the keys of their .sops.yaml creation rule, like `sops updatekeys`.
    #[command(after_help = updatekeys::EXAMPLES)]
    Updatekeys(updatekeys::UpdateKeysArgs),
    /// Overwrite a file, then delete it.
    #[command(after_help = shred::SHRED_EXAMPLES)]
    Shred(shred::ShredArgs),
    /// Check that the config is sound and every configured source can serve.
    #[command(after_help = doctor::EXAMPLES)]
    Doctor(doctor::DoctorArgs),
    /// Create an age identity, a .sops.yaml and a starter config.
    #[command(after_help = init::INIT_EXAMPLES)]
    Init(init::InitArgs),
    /// Set, get or delete a secret in the OS keyring.
    #[command(subcommand)]
    Keyring(keyring::KeyringCommand),
    /// Set, list or delete the secrets of a layer that can be written (memory, encrypted-file).
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Set, get, list or delete the secrets of a vault layer, for a team and a job.
    #[command(subcommand)]
    Vault(vault::VaultCommand),
    /// A master-password vault file: add, get, search, unlock for a while, split into recovery
    /// shares, import an sv-vault.
    #[command(subcommand)]
    VaultFile(vault_file::VaultFileCommand),
    /// Run a command with secrets in its environment, resolving all of them first.
    #[command(after_help = exec::EXAMPLES)]
    Exec(exec::ExecArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let outcome = match cli.command {
        Command::Get(args) => get::run(args),
        Command::Decrypt(args) => decrypt::run(args),
        Command::Encrypt(args) => files::encrypt(args),
        Command::Set(args) => files::set(args),
        Command::Edit(args) => edit::run(args),
        Command::Unset(args) => files::unset(args),
        Command::Rotate(args) => files::rotate(args),
        Command::Updatekeys(args) => updatekeys::run(args),
        Command::Shred(args) => shred::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Init(args) => init::run(args),
        Command::Exec(args) => exec::run(args),
        Command::Keyring(command) => keyring::run(command),
        Command::Store(command) => store::run(command),
        Command::Vault(command) => vault::run(command),
        Command::VaultFile(command) => vault_file::run(command),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("secret-cascade: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}

/// A failed command: what to print and the exit code.
pub(crate) struct Failure {
    /// Printed to stderr after `secret-cascade: `; nothing is printed when empty.
    pub(crate) message: String,
    pub(crate) code: u8,
}

impl Failure {
    /// A usage error (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 2,
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let code = match &error {
            Error::NotFound { .. } => 1,
            Error::Config(_) | Error::InvalidRequest { .. } => 2,
            Error::Decryption { reason, .. } => decryption_code(reason),
            Error::Provider { .. } => 3,
            Error::Unavailable { .. } => 4,
            Error::Denied { .. } => 5,
            _ => 3,
        };
        Self {
            message: error.to_string(),
            code,
        }
    }
}

/// The exit code of a file that does not open: 6 when none of its keys is of a type this build
/// supports, 3 otherwise (a wrong key, a modified file).
pub(crate) fn decryption_code(error: &secret_cascade::sops::DecryptionError) -> u8 {
    if error.is_unsupported_key_type() {
        6
    } else {
        3
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Self {
            message: format!("cannot write the output: {error}"),
            code: 1,
        }
    }
}

fn init_logging(verbose: u8) {
    let filter = match verbose {
        0 => {
            EnvFilter::try_from_env("SECRET_CASCADE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"))
        }
        1 => EnvFilter::new("secret_cascade=debug"),
        _ => EnvFilter::new("secret_cascade=trace"),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// A command that resolves once and exits checks SOPS files with `stat`: a watch would cost a
/// thread and its setup and could never pay off.
pub(crate) fn one_lookup_per_process(resolver: &secret_cascade::Resolver) {
    resolver
        .document_cache()
        .set_freshness(secret_cascade::Freshness::Strict);
}

/// The value from stdin, one trailing newline removed, in a zeroizing buffer.
pub(crate) fn value_from_stdin(name: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    if std::io::stdin().is_terminal() {
        eprintln!(
            "Type the value for {}, then Ctrl-D (it is shown as you type):",
            name
        );
    }
    let unreadable =
        |e: std::io::Error| Failure::usage(format!("cannot read the value from stdin: {e}"));
    // Read through a duplicate of file descriptor 0 rather than `std::io::stdin()`, whose buffer
    // would keep a copy of the value for the life of the process.
    let mut stdin = File::from(
        std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(unreadable)?,
    );
    // A value is at most as large as a SOPS file may be: `yes | secret-cascade set ...` stops
    // there instead of growing until memory runs out.
    let limit = secret_cascade::sops::MAX_FILE_BYTES;
    let mut value = PlaintextBuffer::new();
    value
        .read_from(&mut (&mut stdin).take(limit + 1))
        .map_err(unreadable)?;
    if value.len() as u64 > limit {
        return Err(Failure::usage(format!(
            "the value on stdin is larger than {limit} bytes"
        )));
    }
    if value.ends_with(b"\n") {
        value.pop();
        if value.ends_with(b"\r") {
            value.pop();
        }
    }
    Ok(value.into())
}

/// Writes plaintext to stdout through a duplicate of file descriptor 1, in one piece.
///
/// `std::io::stdout()` would pass it through its `LineWriter`, whose buffer keeps the bytes for
/// the life of the process and is never wiped; a `File` on the same descriptor has no buffer.
pub(crate) fn print_plaintext(bytes: &[u8]) -> Result<(), Failure> {
    // Whatever went through std's stdout before must come out first.
    std::io::stdout().flush()?;
    let mut stdout = File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    stdout.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks a command line's definition only when a subcommand is parsed; this checks
    /// every subcommand's at once (a flattened group named twice, a clashing flag).
    #[test]
    fn every_subcommand_is_defined_consistently() {
        super::Cli::command().debug_assert();
    }
}
