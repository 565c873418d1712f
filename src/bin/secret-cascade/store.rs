//! `store set|list|delete`: change the secrets of a layer that can be written (memory,
//! encrypted-file, ...), as ModelMesh's `SecretManagement` does.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use secret_cascade::{Management, Resolver, SecretString};

use crate::Failure;

const EXAMPLES: &str = "\
Examples:
  printf %s \"$TOKEN\" | secret-cascade store set api.token
  secret-cascade store set OPENAI_API_KEY --layer encrypted-file:team.enc < key.txt
  secret-cascade store list --config secret-cascade.yml
  secret-cascade store delete old.token

The layers that can be written are those of the config (found as for `get`) whose kind supports
it; --layer names one by its label (as `doctor` shows it) and may be left out when only one can
be written. Names are the layer's own, flat (`api.key` is one name). `set` reads the value from
stdin (one trailing newline removed), never argv; `list` prints names, never values.
Exit codes: 0 done, 1 no such name (delete), 2 usage or config error (no such layer, none
writable), 3 the layer's file cannot be decrypted or written back.";

/// What to do in the store.
#[derive(Subcommand)]
#[command(after_help = EXAMPLES, defer = true)]
pub(crate) enum StoreCommand {
    /// Insert or replace a secret, its value read from stdin.
    #[command(after_help = EXAMPLES)]
    Set(NamedArgs),
    /// Print the names the layer holds, one per line.
    #[command(after_help = EXAMPLES)]
    List(LayerArgs),
    /// Remove a secret.
    #[command(after_help = EXAMPLES)]
    Delete(NamedArgs),
}

// Which writable layer.
#[derive(Args)]
pub(crate) struct LayerArgs {
    /// The config file [default: as `get` finds it].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// The layer's label (`memory`, `encrypted-file:/srv/team.enc`); needed when several layers
    /// can be written.
    #[arg(long, value_name = "LABEL")]
    layer: Option<String>,
}

// A name in a writable layer.
#[derive(Args)]
pub(crate) struct NamedArgs {
    /// The secret's name in the layer.
    name: String,

    #[command(flatten)]
    layer: LayerArgs,
}

pub(crate) fn run(command: StoreCommand) -> Result<(), Failure> {
    match command {
        StoreCommand::Set(args) => {
            let mut value = crate::value_from_stdin(&args.name)?;
            // The bytes move into the secret without a copy; on failure they are wiped.
            let text = String::from_utf8(std::mem::take(&mut *value)).map_err(|e| {
                drop(zeroize::Zeroizing::new(e.into_bytes()));
                Failure::usage("the value on stdin is not valid UTF-8")
            })?;
            with_layer(&args.layer, |layer| {
                layer.set(&args.name, SecretString::from(text))
            })
        }
        StoreCommand::List(args) => with_layer(&args, |layer| {
            let mut out = String::new();
            for name in layer.list()? {
                out.push_str(&name);
                out.push('\n');
            }
            print!("{out}");
            Ok(())
        }),
        StoreCommand::Delete(args) => with_layer(&args.layer, |layer| layer.delete(&args.name)),
    }
}

/// Runs `action` on the chosen writable layer of the config.
fn with_layer(
    args: &LayerArgs,
    action: impl FnOnce(&dyn Management) -> Result<(), secret_cascade::Error>,
) -> Result<(), Failure> {
    let resolver = match &args.config {
        Some(path) => Resolver::from_config_file(path)?,
        None => Resolver::discover()?,
    };
    let writable: Vec<(&str, &dyn Management)> = resolver.managed_layers().collect();
    let (_, chosen) = args.choose(
        writable,
        |(label, _)| label,
        "no layer of the config can be written (kinds that can: memory, encrypted-file, vault)",
    )?;
    Ok(action(chosen)?)
}

impl LayerArgs {
    /// The config file given, or the one `get` would find.
    pub(crate) fn config_file(&self) -> Result<PathBuf, Failure> {
        match &self.config {
            Some(path) => Ok(path.clone()),
            None => secret_cascade::config::discover()
                .ok_or_else(|| Failure::usage("no config file found; pass --config FILE")),
        }
    }

    /// The layer `--layer` names among `layers`, or the only one; `none` says what is missing
    /// when there is none.
    pub(crate) fn choose<T>(
        &self,
        layers: Vec<T>,
        label: impl Fn(&T) -> &str,
        none: &str,
    ) -> Result<T, Failure> {
        let labels = || {
            layers
                .iter()
                .map(|layer| format!("`{}`", label(layer)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let index = match (&self.layer, layers.len()) {
            (_, 0) => return Err(Failure::usage(none)),
            (None, 1) => 0,
            (None, _) => {
                return Err(Failure::usage(format!(
                    "several layers fit ({}); choose one with --layer",
                    labels()
                )));
            }
            (Some(wanted), _) => layers
                .iter()
                .position(|layer| label(layer) == wanted)
                .ok_or_else(|| {
                    Failure::usage(format!(
                        "no layer `{wanted}`; the config's are {}",
                        labels()
                    ))
                })?,
        };
        layers
            .into_iter()
            .nth(index)
            .ok_or_else(|| Failure::usage("the chosen layer vanished"))
    }
}
