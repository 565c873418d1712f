//! `keyring set|get|delete`: manage the OS keyring entries a `kind: keyring` layer reads.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use secret_cascade::providers::{Backend, KeyringProvider};
use secret_cascade::{Answer, Provider, SecretRequest, config};

use crate::Failure;
use crate::get::print_record;

const EXAMPLES: &str = "\
Examples:
  printf %s \"$TOKEN\" | secret-cascade keyring set api.token
  secret-cascade keyring set smtp.password --scope mail --service kstlib < password.txt
  secret-cascade keyring get smtp.password --scope mail --config secret-cascade.yml
  secret-cascade keyring delete api.token

The entry is service SERVICE, user \"{scope or 'default'}:{name}\" (kstlib's rule). With --config,
the first `kind: keyring` layer of that file is used; else --service (default secret-cascade)
and --backend. `set` reads the value from stdin (one trailing newline removed), never argv.
Exit codes: 0 done, 1 no such entry, 2 usage or config error, 3 unusable entry, 4 keyring
unavailable.";

/// What to do in the keyring.
#[derive(Subcommand)]
#[command(after_help = EXAMPLES, defer = true)]
pub(crate) enum KeyringCommand {
    /// Store a value read from stdin.
    #[command(after_help = EXAMPLES)]
    Set(KeyringArgs),
    /// Print a value, like `get` restricted to the keyring.
    #[command(after_help = EXAMPLES)]
    Get(GetArgs),
    /// Remove an entry.
    #[command(after_help = EXAMPLES)]
    Delete(KeyringArgs),
}

// Which entry, in which keyring.
#[derive(Args)]
pub(crate) struct KeyringArgs {
    /// The secret's dotted name, e.g. smtp.password.
    name: String,

    /// Namespace for the name (the user is scope:name; default:name without one).
    #[arg(long, value_name = "SCOPE")]
    scope: Option<String>,

    /// Use the first `kind: keyring` layer of this config file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["service", "backend"])]
    config: Option<PathBuf>,

    /// The keyring service [default: secret-cascade].
    #[arg(long, value_name = "SERVICE")]
    service: Option<String>,

    /// The keyring backend: secret-service or keyutils [default: secret-service].
    #[arg(long, value_name = "BACKEND", value_parser = parse_backend)]
    backend: Option<Backend>,

    /// How long the keyring may take to answer, in milliseconds [default: 2000].
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
}

// `keyring get`'s arguments.
#[derive(Args)]
pub(crate) struct GetArgs {
    #[command(flatten)]
    entry: KeyringArgs,

    /// Print {"name","source","value","metadata"} as JSON.
    #[arg(long)]
    json: bool,
}

/// A backend for these commands: an in-memory `mock` store would forget at once.
fn parse_backend(word: &str) -> Result<Backend, String> {
    match word.parse() {
        Ok(Backend::Mock) | Err(_) => Err(format!(
            "unknown backend `{word}`; expected secret-service or keyutils"
        )),
        Ok(backend) => Ok(backend),
    }
}

pub(crate) fn run(command: KeyringCommand) -> Result<(), Failure> {
    match command {
        KeyringCommand::Set(args) => {
            let (keyring, request) = open(&args)?;
            let value = crate::value_from_stdin(&request.qualified_name())?;
            let value = std::str::from_utf8(&value)
                .map_err(|_| Failure::usage("the value on stdin is not valid UTF-8"))?;
            Ok(keyring.set(&request, value)?)
        }
        KeyringCommand::Delete(args) => {
            let (keyring, request) = open(&args)?;
            if keyring.delete(&request)? {
                Ok(())
            } else {
                Err(Failure {
                    code: 1,
                    message: format!("no keyring entry for user `{}`", keyring.username(&request)),
                })
            }
        }
        KeyringCommand::Get(args) => {
            let (keyring, request) = open(&args.entry)?;
            match keyring.fetch(&request)? {
                Answer::Hit(record) => print_record(&request, &record, args.json),
                Answer::Miss(reason) => Err(Failure {
                    code: 1,
                    message: format!(
                        "secret `{}` not found: {}",
                        request.qualified_name(),
                        reason.describe(&keyring, &request)
                    ),
                }),
                // The keyring is all this command asks: its absence is exit 4, not "not found".
                Answer::Unavailable(reason) => Err(Failure {
                    code: 4,
                    message: format!(
                        "{} (unavailable: {})",
                        keyring.label(),
                        reason.describe(&keyring, &request)
                    ),
                }),
            }
        }
    }
}

/// The chosen keyring, and the request for the name.
fn open(args: &KeyringArgs) -> Result<(KeyringProvider, SecretRequest), Failure> {
    let mut keyring = match &args.config {
        Some(path) => config::read_layer(path, "keyring", KeyringProvider::from_options)?
            .ok_or_else(|| {
                Failure::usage(format!("{} has no `kind: keyring` layer", path.display()))
            })?,
        None => KeyringProvider::with_backend(
            args.service
                .clone()
                .unwrap_or_else(|| KeyringProvider::DEFAULT_SERVICE.to_owned()),
            args.backend.unwrap_or(Backend::SecretService),
        ),
    };
    if let Some(ms) = args.timeout_ms {
        keyring = keyring.with_timeout(Duration::from_millis(ms));
    }
    let mut request = SecretRequest::new(&args.name);
    if let Some(scope) = &args.scope {
        request = request.with_scope(scope);
    }
    Ok((keyring, request))
}
