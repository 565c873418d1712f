//! The `secret-cascade` command: a thin layer over the library that parses arguments, calls it,
//! prints, and maps errors to exit codes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use secret_cascade::sops::{self, AgeIdentities, Format};
use secret_cascade::{Error, ExposeSecret, Resolver, SecretRecord, SecretRequest};
use tracing_subscriber::EnvFilter;

const EXAMPLES: &str = "\
Examples:
  secret-cascade get mail.smtp.password
  secret-cascade get password --scope database --config ./secret-cascade.yml
  secret-cascade get api.token --default dev-token --json

Exit codes:
  0  found
  1  not found (stderr names every layer tried and why it missed)
  2  usage or config error
  3  decryption or integrity error, or a layer that answered with an unusable value

Logs go to stderr: -v for debug (which layer answered), -vv for trace; or set SECRET_CASCADE_LOG
to a tracing filter. Values are never logged.";

/// Resolve secrets through an ordered chain of sources.
#[derive(Parser)]
#[command(name = "secret-cascade", version, after_help = EXAMPLES)]
struct Cli {
    /// Log to stderr: -v debug, -vv trace.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the value of one secret.
    #[command(after_help = EXAMPLES)]
    Get(GetArgs),
    /// Decrypt a SOPS file natively and print it, like `sops decrypt`.
    #[command(after_help = DECRYPT_EXAMPLES)]
    Decrypt(DecryptArgs),
}

const DECRYPT_EXAMPLES: &str = "\
Examples:
  secret-cascade decrypt secrets.enc.yaml
  secret-cascade decrypt secrets.enc.yaml --output-type json
  secret-cascade decrypt secrets.enc.yaml --extract '[\"database\"][\"password\"]'
  SOPS_AGE_KEY_FILE=keys.txt secret-cascade decrypt app.env

Age identities come from SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD, then
~/.config/sops/age/keys.txt, as in sops. Exit code 3 when no identity opens the file or the file
was modified (MAC mismatch, a value failed authentication).";

#[derive(Args)]
struct DecryptArgs {
    /// The encrypted file.
    file: PathBuf,

    /// The file's store [default: by extension, binary for others].
    #[arg(long, value_name = "TYPE", value_parser = parse_format)]
    input_type: Option<Format>,

    /// The output's store [default: the input's].
    #[arg(long, value_name = "TYPE", value_parser = parse_format)]
    output_type: Option<Format>,

    /// Print only the value at this path, e.g. '["database"]["password"]' or '["hosts"][0]'.
    #[arg(long, value_name = "PATH")]
    extract: Option<String>,
}

fn parse_format(word: &str) -> Result<Format, String> {
    word.parse()
}

#[derive(Args)]
struct GetArgs {
    /// The secret's dotted name, e.g. mail.smtp.password.
    name: String,

    /// The config file [default: $SECRET_CASCADE_CONFIG, ./secret-cascade.yml,
    /// $XDG_CONFIG_HOME/secret-cascade/config.yml, else the environment only].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Namespace for the name (env: PREFIX__SCOPE__NAME; keyring user: scope:name).
    #[arg(long, value_name = "SCOPE")]
    scope: Option<String>,

    /// Value to print when no layer has the secret.
    #[arg(long, value_name = "VALUE")]
    default: Option<String>,

    /// Print {"name","source","value","metadata"} as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let outcome = match cli.command {
        Command::Get(args) => get(args),
        Command::Decrypt(args) => decrypt(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("secret-cascade: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// A failed command: what to print and the exit code.
struct Failure {
    message: String,
    code: u8,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let code = match &error {
            Error::NotFound { .. } => 1,
            Error::Config(_) | Error::InvalidRequest { .. } => 2,
            Error::Decryption { .. } | Error::Provider { .. } => 3,
            _ => 3,
        };
        Self {
            message: error.to_string(),
            code,
        }
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

fn get(args: GetArgs) -> Result<(), Failure> {
    let resolver = match &args.config {
        Some(path) => Resolver::from_config_file(path)?,
        None => Resolver::discover()?,
    };
    let mut request = SecretRequest::new(&args.name);
    if let Some(scope) = &args.scope {
        request = request.with_scope(scope);
    }
    if let Some(default) = args.default {
        request = request.with_default(default);
    }
    let record = resolver.resolve(&request)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &JsonRecord::new(&request, &record))
            .map_err(std::io::Error::from)?;
    } else {
        out.write_all(record.expose_secret().as_bytes())?;
    }
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

fn decrypt(args: DecryptArgs) -> Result<(), Failure> {
    let usage = |message: String| Failure { message, code: 2 };
    let extract = args
        .extract
        .as_deref()
        .map(sops::parse_extract)
        .transpose()
        .map_err(usage)?;
    let failed = |error: sops::DecryptionError| Failure {
        code: if matches!(error, sops::DecryptionError::Read(_)) {
            2
        } else {
            3
        },
        message: format!("cannot decrypt {}: {error}", args.file.display()),
    };
    let identities = AgeIdentities::discover(None).map_err(failed)?;
    let document = sops::decrypt_file(&args.file, args.input_type, &identities).map_err(failed)?;
    let format = args.output_type.unwrap_or(document.format());
    let output = document
        .emit(format, extract.as_deref())
        .map_err(|reason| Failure {
            message: format!("cannot write {} as {format}: {reason}", args.file.display()),
            code: 2,
        })?;
    let mut out = std::io::stdout().lock();
    out.write_all(&output)?;
    out.flush()?;
    Ok(())
}

/// The `--json` shape of a record.
#[derive(serde::Serialize)]
struct JsonRecord<'a> {
    name: String,
    source: &'static str,
    value: &'a str,
    metadata: BTreeMap<&'static str, &'a str>,
}

impl<'a> JsonRecord<'a> {
    fn new(request: &SecretRequest, record: &'a SecretRecord) -> Self {
        Self {
            name: request.qualified_name(),
            source: record.source().as_str(),
            value: record.expose_secret(),
            metadata: record.metadata().iter().collect(),
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
