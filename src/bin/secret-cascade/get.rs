//! `get`: print one secret.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use secret_cascade::{ExposeSecret, Resolver, SecretRecord, SecretRequest};

use crate::Failure;

pub(crate) const EXAMPLES: &str = "\
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

#[derive(Args)]
pub(crate) struct GetArgs {
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

pub(crate) fn run(args: GetArgs) -> Result<(), Failure> {
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
    print_record(&request, &record, args.json)
}

/// Prints a record as `get` does: the value and a newline, or the `--json` object.
pub(crate) fn print_record(
    request: &SecretRequest,
    record: &SecretRecord,
    json: bool,
) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &JsonRecord::new(request, record))
            .map_err(std::io::Error::from)?;
    } else {
        out.write_all(record.expose_secret().as_bytes())?;
    }
    out.write_all(b"\n")?;
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
