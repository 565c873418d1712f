//! `vault set|get|list|delete`: the secrets of a `kind: vault` layer, for a team and a job, as a
//! team secrets service offers them.

use clap::{Args, Subcommand};
use secret_cascade::providers::VaultProvider;
use secret_cascade::{
    Answer, ExposeSecret, Management, PlaintextBuffer, Provider, SecretRequest, SecretString,
    config,
};

use crate::Failure;
use crate::get::print_record;

const EXAMPLES: &str = "\
Examples:
  printf %s \"$PASSWORD\" | secret-cascade vault set db.password --team payments --job nightly
  secret-cascade vault get db.password --team payments --job nightly
  secret-cascade vault list --team payments              # names, values masked
  secret-cascade vault list --team payments --show       # names and values
  secret-cascade vault delete db.password --layer vault:http://10.0.0.5:8200/secret/teams/{team}

The layer is the config's `kind: vault` layer (found as for `get`; --layer chooses one by its
label when there are several); --team and --job fill its path template instead of its `team` and
`job` options. `set` reads the value from stdin (one trailing newline removed), never argv, and
writes with check-and-set, so two writers never lose an update silently. Names map as for lookups:
`a.b.c` is the key `c` of the secret at `<path>/a/b`.
Exit codes: 0 done, 1 no such name, 2 usage or config error, 3 unusable answer, 4 the server is
unavailable, 5 access denied.";

/// What to do in the vault layer.
#[derive(Subcommand)]
#[command(after_help = EXAMPLES, defer = true)]
pub(crate) enum VaultCommand {
    /// Insert or replace a secret, its value read from stdin.
    #[command(after_help = EXAMPLES)]
    Set(NamedArgs),
    /// Print a secret, like `get` restricted to the vault layer.
    #[command(after_help = EXAMPLES)]
    Get(GetArgs),
    /// Print the names under the layer's path, values masked.
    #[command(after_help = EXAMPLES)]
    List(ListArgs),
    /// Remove a secret.
    #[command(after_help = EXAMPLES)]
    Delete(NamedArgs),
}

// Which vault layer, for which team and job.
#[derive(Args)]
pub(crate) struct TeamLayer {
    #[command(flatten)]
    target: crate::store::LayerArgs,

    /// The team filled into the path template (instead of the layer's `team`).
    #[arg(long, value_name = "TEAM")]
    team: Option<String>,

    /// The job filled into the path template (instead of the layer's `job`).
    #[arg(long, value_name = "JOB")]
    job: Option<String>,
}

// A name in the vault layer.
#[derive(Args)]
pub(crate) struct NamedArgs {
    /// The secret's dotted name.
    name: String,

    #[command(flatten)]
    layer: TeamLayer,
}

// `get`'s arguments.
#[derive(Args)]
pub(crate) struct GetArgs {
    #[command(flatten)]
    named: NamedArgs,

    /// Print {"name","source","value","metadata"} as JSON.
    #[arg(long)]
    json: bool,
}

// `list`'s arguments.
#[derive(Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    layer: TeamLayer,

    /// Print the values too (they are masked by default).
    #[arg(long)]
    show: bool,
}

pub(crate) fn run(command: VaultCommand) -> Result<(), Failure> {
    match command {
        VaultCommand::Set(args) => {
            let mut value = crate::value_from_stdin(&args.name)?;
            let text = String::from_utf8(std::mem::take(&mut *value)).map_err(|e| {
                drop(zeroize::Zeroizing::new(e.into_bytes()));
                Failure::usage("the value on stdin is not valid UTF-8")
            })?;
            Ok(layer(&args.layer)?.set(&args.name, SecretString::from(text))?)
        }
        VaultCommand::Get(args) => {
            let vault = layer(&args.named.layer)?;
            let request = SecretRequest::new(&args.named.name);
            match vault.fetch(&request)? {
                Answer::Hit(record) => print_record(&request, &record, args.json),
                Answer::Miss(reason) => Err(Failure {
                    code: 1,
                    message: format!(
                        "secret `{}` not found: {}",
                        args.named.name,
                        reason.describe(&vault, &request)
                    ),
                }),
                Answer::Unavailable(reason) => Err(Failure {
                    code: 4,
                    message: format!(
                        "{} (unavailable: {})",
                        vault.label(),
                        reason.describe(&vault, &request)
                    ),
                }),
            }
        }
        VaultCommand::List(args) => {
            let vault = layer(&args.layer)?;
            let mut out = PlaintextBuffer::new();
            for name in vault.list()? {
                out.extend_from_slice(name.as_bytes());
                if args.show {
                    out.extend_from_slice(b" = ");
                    if let Answer::Hit(record) = vault.fetch(&SecretRequest::new(&name))? {
                        out.extend_from_slice(record.expose_secret().as_bytes());
                    }
                } else {
                    out.extend_from_slice(b" = ********");
                }
                out.push(b'\n');
            }
            crate::print_plaintext(&out)
        }
        VaultCommand::Delete(args) => Ok(layer(&args.layer)?.delete(&args.name)?),
    }
}

/// The chosen vault layer of the config, for the team and job asked.
fn layer(args: &TeamLayer) -> Result<VaultProvider, Failure> {
    let path = args.target.config_file()?;
    let layers = config::read_layers(&path, "vault", VaultProvider::from_options)?;
    let none = format!("{} has no `kind: vault` layer", path.display());
    args.target
        .choose(layers, |layer| layer.label(), &none)?
        .for_team_and_job(args.team.clone(), args.job.clone())
        .map_err(Failure::usage)
}
