//! `get`: print one secret.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use secret_cascade::{
    ExposeSecret, PlaintextBuffer, Resolver, SecretRecord, SecretRequest, config,
};

use crate::Failure;

pub(crate) const EXAMPLES: &str = "\
Examples:
  secret-cascade get mail.smtp.password
  secret-cascade get password --scope database --config ./secret-cascade.yml
  secret-cascade get api.token --default dev-token --json
  printf %s \"$FALLBACK_TOKEN\" | secret-cascade get api.token --default-from-stdin

Exit codes:
  0  found
  1  not found (stderr names every layer tried and why it missed)
  2  usage or config error
  3  decryption or integrity error, or a layer that answered with an unusable value
  4  a backend the command needs is unavailable
  5  a server denied access (a Vault/OpenBao 403; `on_denied: skip` passes the layer over)

Logs go to stderr: -v for debug (which layer answered), -vv for trace; or set SECRET_CASCADE_LOG
to a tracing filter. Values are never logged.";

#[derive(Args)]
pub(crate) struct GetArgs {
    /// The secret's dotted name, e.g. mail.smtp.password.
    name: String,

    /// The config file [default: $SECRET_CASCADE_CONFIG, ./secret-cascade.yml,
    /// $XDG_CONFIG_HOME/secret-cascade/config.yml, else kstlib's kstlib.conf.yml, else the environment only].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Namespace for the name (env: PREFIX__SCOPE__NAME; keyring user: scope:name).
    #[arg(long, value_name = "SCOPE")]
    scope: Option<String>,

    /// Value to print when no layer has the secret. Other users can read it in the process list
    /// (ps, /proc/PID/cmdline): for a default that is itself secret, use --default-from-stdin.
    #[arg(long, value_name = "VALUE")]
    default: Option<String>,

    /// Read the value to print when no layer has the secret from stdin (one trailing newline
    /// removed), so that it never appears in the process list.
    #[arg(long, conflicts_with = "default")]
    default_from_stdin: bool,

    /// Print {"name","source","value","metadata"} as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: GetArgs) -> Result<(), Failure> {
    let path = args.config.clone().or_else(config::discover);
    let kstlib = match path {
        Some(_) => None,
        None => config::discover_kstlib().map_err(secret_cascade::Error::from)?,
    };
    let no_config = path.is_none() && kstlib.is_none();
    let resolver = match (path, kstlib) {
        (Some(path), _) => Resolver::from_config_file(path)?,
        (None, Some(kstlib)) => kstlib
            .build(Resolver::builder())
            .map_err(secret_cascade::Error::from)?
            .build(),
        (None, None) => config::default_chain(Resolver::builder()).build(),
    };
    crate::one_lookup_per_process(&resolver);
    let mut request = SecretRequest::new(&args.name);
    if let Some(scope) = &args.scope {
        request = request.with_scope(scope);
    }
    if let Some(default) = args.default {
        request = request.with_default(default);
    }
    if args.default_from_stdin {
        let default = crate::value_from_stdin(&format!("the default of {}", args.name))?;
        let text = std::str::from_utf8(&default)
            .map_err(|_| Failure::usage("--default-from-stdin: the value is not UTF-8"))?;
        request = request.with_default(text);
    }
    let record = resolver.resolve(&request).map_err(|error| {
        let mut failure = Failure::from(error);
        if no_config && failure.code == 1 {
            failure.message.push_str(&format!(
                "\nno config file was found (searched {}), so only the environment was asked; \
                 create one with `secret-cascade init` or pass --config",
                config::searched()
            ));
        }
        failure
    })?;
    print_record(&request, &record, args.json)
}

/// Prints a record as `get` does: the value and a newline, or the `--json` object.
pub(crate) fn print_record(
    request: &SecretRequest,
    record: &SecretRecord,
    json: bool,
) -> Result<(), Failure> {
    let value = record.expose_secret();
    // The whole output is built in one wiping buffer, sized for the plain case, and written once.
    let mut out = PlaintextBuffer::with_capacity(value.len() + 1);
    if json {
        serde_json::to_writer(&mut out, &JsonRecord::new(request, record))
            .map_err(std::io::Error::from)?;
    } else {
        out.extend_from_slice(value.as_bytes());
    }
    out.push(b'\n');
    crate::print_plaintext(&out)
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
