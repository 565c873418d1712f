//! `exec`: run a command with secrets in its environment.
//!
//! `exec --env VAR=NAME... -- CMD [ARGS]` resolves every NAME through the same resolver as `get`
//! (same `--config`, same discovery, same `--scope`) before anything starts; one missing or broken
//! secret fails the whole command with `get`'s exit codes and CMD never runs. Then each VAR is
//! added to the inherited environment and CMD runs with stdin, stdout and stderr passed through.
//!
//! # Why the process is replaced
//!
//! On Unix this process *becomes* CMD
//! ([`CommandExt::exec`](std::os::unix::process::CommandExt::exec), i.e. `execvp`). CMD keeps our
//! process id, so:
//!
//! - every signal sent to us (Ctrl-C from the terminal, `kill`, a supervisor's `SIGTERM`) is a
//!   signal sent to CMD. Nothing is forwarded, so there is no window in which a signal arrives
//!   between our start and the child's and is lost, and no signal we could forget to relay;
//! - CMD's exit status, including death by a signal, *is* the status our caller waits for;
//! - the terminal, stdio and process group are CMD's own, with no parent in between;
//! - this process's memory, including the resolver, its caches and the plaintext it read, is
//!   discarded by the kernel together with the old program image.
//!
//! Rust's `exec` also restores the signal mask and `SIGPIPE` (which the Rust runtime ignores) to
//! their defaults, so CMD starts as it would from a shell.
//!
//! Elsewhere the command is spawned as a child; we wait for it and exit with its code. Console
//! interrupts reach both processes there, but nothing else is relayed.
//!
//! # Where the values go
//!
//! Values are never put in CMD's argv, which every user can read (`ps`, `/proc/PID/cmdline`).
//! CMD's environment necessarily holds them: `/proc/PID/environ` is readable by the same user and
//! by root, and CMD hands its environment down to its own children unless it clears it. On the
//! way there, [`Command`] keeps its own copies of the values, which are not zeroized: on Unix they
//! go away with the process image, and when `exec` fails we exit at once.
//!
//! `SOPS_AGE_KEY`, an age private key that opens every file encrypted to it, is removed from CMD's
//! environment unless `--keep-key-env` asks for it: CMD gets the values it was given, not the key
//! to all the others.
//!
//! # Exit codes
//!
//! Before CMD starts: `1` not found, `2` usage or config error, `3` decryption error or an
//! unusable value (one with a NUL byte, which no environment variable can hold). CMD not found is
//! `127`, found but not runnable is `126`, as in a shell. Once CMD runs, its status is ours.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;
use secret_cascade::sops::{self, Format};
use secret_cascade::{Answer, ExposeSecret, Resolver, SecretRequest, SecretString};

use crate::Failure;
use crate::files::ConfigArg;

pub(crate) const EXAMPLES: &str = "\
Examples:
  secret-cascade exec --env PGPASSWORD=database.password -- psql -h db
  secret-cascade exec --scope mail --env SMTP_PASSWORD=smtp.password -- ./send-report --daily
  secret-cascade exec --config ./secret-cascade.yml --env A=a.token --env B=b.token -- env
  secret-cascade exec --file app.enc.env -- ./server          # every value, as sops exec-env
  secret-cascade exec --all-from-layer encrypted-file:team.enc -- ./job

--file FILE puts every top-level value of a SOPS file in the environment under its key, as
`sops exec-env` does (a map or list value is refused); --all-from-layer LABEL every secret of a
layer that can list its names (memory, encrypted-file, vault). A key or name that is not a
variable name is refused (bind it with --env). A variable set twice, by any two of these, is an
error rather than a silent choice.

Every NAME is resolved before CMD starts: if one is missing or cannot be decrypted, CMD does not
run. Each VAR is added to the inherited environment, replacing a variable of the same name.

On Unix, secret-cascade replaces itself with CMD (execve): CMD keeps this process's id, so every
signal sent to it (Ctrl-C, kill, a supervisor's SIGTERM) reaches CMD directly, with nothing in
between to forward it; CMD's exit status, or its death by a signal, is what the caller sees; stdin,
stdout, stderr and the terminal are CMD's own; and this process's memory, with the resolved
plaintext, is gone with the old program image. Elsewhere CMD runs as a child and its exit code is
passed on.

Values never appear in CMD's arguments, which any user can read (ps, /proc/PID/cmdline). CMD's
environment does hold them: /proc/PID/environ is readable by the same user and root, and CMD passes
its environment on to the programs it starts.

SOPS_AGE_KEY (an age private key, which opens every file encrypted to it) is removed from CMD's
environment unless --keep-key-env is given; SOPS_AGE_KEY_FILE and SOPS_AGE_KEY_CMD, which only name
where the key is, are passed on.

Exit codes:
  any  CMD's own status, once it runs
  1    a NAME was not found (stderr names every layer tried and why it missed)
  2    usage or config error (a bad or repeated VAR, no CMD)
  3    decryption or integrity error, or a layer that answered with an unusable value
  126  CMD was found but could not be run (not executable, permission denied)
  127  CMD was not found";

#[derive(Args)]
pub(crate) struct ExecArgs {
    /// Set environment variable VAR to the secret NAME; repeat for more. VAR is made of letters,
    /// digits and _, and does not start with a digit.
    #[arg(long = "env", value_name = "VAR=NAME", value_parser = EnvBinding::parse)]
    env: Vec<EnvBinding>,

    /// The config file [default: $SECRET_CASCADE_CONFIG, ./secret-cascade.yml,
    /// $XDG_CONFIG_HOME/secret-cascade/config.yml, else kstlib's kstlib.conf.yml, else the environment only].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Namespace for every NAME (env: PREFIX__SCOPE__NAME; keyring user: scope:name).
    #[arg(long, value_name = "SCOPE")]
    scope: Option<String>,

    /// Put every top-level value of this SOPS file in the environment, each under its key (as
    /// `sops exec-env`); a map or list value is refused.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,

    /// The store of --file [default: by extension].
    #[arg(long, value_name = "TYPE", requires = "file")]
    format: Option<Format>,

    /// Put every secret of this layer of the config in the environment, each under its name
    /// (layers that can list their names: memory, encrypted-file, vault).
    #[arg(long, value_name = "LABEL")]
    all_from_layer: Option<String>,

    /// Pass SOPS_AGE_KEY (an age private key) on to CMD; by default it is removed from CMD's
    /// environment.
    #[arg(long)]
    keep_key_env: bool,

    /// The command to run and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

pub(crate) fn run(args: ExecArgs) -> Result<(), Failure> {
    reject_repeated_variables(&args.env)?;
    let resolver = match &args.config {
        Some(path) => Resolver::from_config_file(path)?,
        None => Resolver::discover()?,
    };
    crate::one_lookup_per_process(&resolver);
    // Every variable with where it came from, for messages: --file's, the layer's, then --env's.
    let mut values: Vec<Exported> = Vec::new();
    if let Some(file) = &args.file {
        let config = ConfigArg::new(args.config.clone());
        values.extend(from_file(file, args.format, &config)?);
    }
    if let Some(label) = &args.all_from_layer {
        values.extend(from_layer(&resolver, label)?);
    }
    let mut resolved = Vec::with_capacity(args.env.len());
    for binding in &args.env {
        let mut request = SecretRequest::new(&binding.name);
        if let Some(scope) = &args.scope {
            request = request.with_scope(scope);
        }
        let record = resolver.resolve(&request).map_err(|error| {
            let mut failure = Failure::from(error);
            failure.message = format!("--env {binding}: {}", failure.message);
            failure
        })?;
        if record.expose_secret().contains('\0') {
            return Err(Failure {
                message: format!(
                    "--env {binding}: the value of `{}` contains a NUL byte, which an \
                     environment variable cannot hold",
                    request.qualified_name()
                ),
                code: 3,
            });
        }
        resolved.push((binding, record));
    }
    // Where CMD runs as a child, the resolver and its decrypted documents would outlive the wait.
    drop(resolver);
    for (variable, origin, value) in &values {
        if let Some(other) = values.iter().find(|(v, o, _)| v == variable && o != origin) {
            return Err(Failure::usage(format!(
                "{variable} would be set twice, from {origin} and from {}",
                other.1
            )));
        }
        if let Some(binding) = args.env.iter().find(|b| &b.variable == variable) {
            return Err(Failure::usage(format!(
                "{variable} would be set twice, from {origin} and by --env {binding}"
            )));
        }
        if value.expose_secret().contains('\0') {
            return Err(Failure {
                message: format!(
                    "{variable} (from {origin}): the value contains a NUL byte, which an \
                     environment variable cannot hold"
                ),
                code: 3,
            });
        }
    }

    let (program, arguments) = args
        .command
        .split_first()
        .expect("clap requires at least one CMD word");
    let mut command = Command::new(program);
    command.args(arguments);
    if !args.keep_key_env {
        // Before the bindings: an explicit `--env SOPS_AGE_KEY=NAME` still reaches CMD.
        command.env_remove(AGE_KEY_VARIABLE);
    }
    for (variable, _, value) in &values {
        command.env(variable, value.expose_secret());
    }
    for (binding, record) in &resolved {
        command.env(&binding.variable, record.expose_secret());
    }
    // The command holds its own copies now; wipe ours before handing over.
    drop(values);
    drop(resolved);
    hand_over(command, program)
}

/// A variable, where its value comes from (for messages), and the value.
type Exported = (String, String, SecretString);

/// Every top-level value of a SOPS file, under its key, as `sops exec-env` exports them.
fn from_file(
    file: &Path,
    format: Option<Format>,
    config: &ConfigArg,
) -> Result<Vec<Exported>, Failure> {
    let origin = format!("--file {}", file.display());
    let identities = config.identities_for(file)?;
    let document = sops::decrypt_file(file, format, &identities).map_err(|e| Failure {
        code: if matches!(e, sops::DecryptionError::Read(_)) {
            2
        } else {
            crate::decryption_code(&e)
        },
        message: format!("{origin}: {e}"),
    })?;
    let entries = document.top_level_scalars().map_err(|key| {
        Failure::usage(format!(
            "{origin}: the value of `{key}` is a map or list, which no environment variable can \
             hold (as in sops exec-env); use --env VAR={key}.NAME for its parts"
        ))
    })?;
    entries
        .into_iter()
        .map(|(key, value)| {
            let variable = variable_name(&key, &origin)?;
            let text = String::from_utf8(value.to_vec()).map_err(|_| Failure {
                code: 3,
                message: format!("{origin}: the value of `{key}` is not UTF-8"),
            })?;
            Ok((variable, origin.clone(), SecretString::from(text)))
        })
        .collect()
}

/// Every secret of the layer labelled `label`, under its name.
fn from_layer(resolver: &Resolver, label: &str) -> Result<Vec<Exported>, Failure> {
    let origin = format!("--all-from-layer {label}");
    let layer = resolver.layer(label).ok_or_else(|| {
        let labels: Vec<String> = resolver.layers().map(|l| format!("`{l}`")).collect();
        Failure::usage(format!(
            "{origin}: no such layer; the config's are {}",
            labels.join(", ")
        ))
    })?;
    let management = layer.management().ok_or_else(|| {
        Failure::usage(format!(
            "{origin}: this layer cannot list its names (layers that can: memory, \
             encrypted-file, vault); for a SOPS file use --file, or name each with --env"
        ))
    })?;
    let mut values = Vec::new();
    for name in management.list()? {
        let variable = variable_name(&name, &origin)?;
        match layer.fetch(&SecretRequest::new(&name))? {
            Answer::Hit(record) => values.push((
                variable,
                origin.clone(),
                SecretString::from(record.expose_secret().to_owned()),
            )),
            // Listed, then gone (deleted meanwhile): nothing to export.
            Answer::Miss(_) | Answer::Unavailable(_) => {}
        }
    }
    Ok(values)
}

/// `name` when it is a variable name a shell can use; else an error saying how to bind it.
fn variable_name(name: &str, origin: &str) -> Result<String, Failure> {
    EnvBinding::parse(&format!("{name}={name}"))
        .map(|binding| binding.variable)
        .map_err(|_| {
            Failure::usage(format!(
                "{origin}: `{name}` is not a variable name (letters, digits and _, not starting \
                 with a digit); bind it with --env VAR={name} instead"
            ))
        })
}

/// The variable holding an age private key itself (not a path to one) for us and for sops.
const AGE_KEY_VARIABLE: &str = "SOPS_AGE_KEY";

/// Replaces this process with `command`; returns only if that fails.
#[cfg(unix)]
fn hand_over(mut command: Command, program: &OsStr) -> Result<(), Failure> {
    use std::os::unix::process::CommandExt;

    let error = command.exec();
    Err(launch_failure(program, &error))
}

/// Runs `command` as a child, waits, and exits with its code: without `exec`, the closest we get.
#[cfg(not(unix))]
fn hand_over(mut command: Command, program: &OsStr) -> Result<(), Failure> {
    let mut child = command
        .spawn()
        .map_err(|error| launch_failure(program, &error))?;
    drop(command);
    let status = child.wait().map_err(|error| Failure {
        message: format!("lost track of `{}`: {error}", program.to_string_lossy()),
        code: 1,
    })?;
    std::process::exit(status.code().unwrap_or(1))
}

/// CMD could not be started: 127 when it does not exist, 126 when it cannot be run, as in a shell.
fn launch_failure(program: &OsStr, error: &std::io::Error) -> Failure {
    let shown = program.to_string_lossy();
    let is_path = shown.contains(std::path::MAIN_SEPARATOR) || shown.contains('/');
    let (code, reason) = match error.kind() {
        ErrorKind::NotFound if is_path => (
            127,
            "no such file (or its #! interpreter is missing)".to_owned(),
        ),
        ErrorKind::NotFound => (127, "command not found in PATH".to_owned()),
        ErrorKind::PermissionDenied => (
            126,
            "permission denied (not executable, or a directory)".to_owned(),
        ),
        _ => (126, error.to_string()),
    };
    Failure {
        message: format!("cannot run `{shown}`: {reason}"),
        code,
    }
}

/// Two `--env` for one VAR would leave one of them silently unused.
fn reject_repeated_variables(bindings: &[EnvBinding]) -> Result<(), Failure> {
    let mut seen: BTreeMap<&str, &EnvBinding> = BTreeMap::new();
    for binding in bindings {
        if let Some(first) = seen.insert(&binding.variable, binding) {
            return Err(Failure::usage(format!(
                "--env {} is given twice ({first} and {binding})",
                binding.variable
            )));
        }
    }
    Ok(())
}

/// One `--env VAR=NAME`: which variable gets which secret. Holds names only, never a value, so it
/// may be shown in messages.
#[derive(Clone)]
struct EnvBinding {
    variable: String,
    name: String,
}

impl EnvBinding {
    /// Splits at the first `=` and checks VAR; NAME is checked by the resolver, like `get`'s.
    fn parse(argument: &str) -> Result<Self, String> {
        let Some((variable, name)) = argument.split_once('=') else {
            return Err("expected VAR=NAME, e.g. PGPASSWORD=database.password".to_owned());
        };
        if variable.is_empty() {
            return Err("VAR is empty: expected VAR=NAME".to_owned());
        }
        let mut characters = variable.chars();
        let starts_well = characters
            .next()
            .is_some_and(|first| first == '_' || first.is_ascii_alphabetic());
        if !starts_well || !characters.all(|c| c == '_' || c.is_ascii_alphanumeric()) {
            return Err(format!(
                "`{variable}` is not a variable name: use letters, digits and _, \
                 not starting with a digit"
            ));
        }
        Ok(Self {
            variable: variable.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for EnvBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.variable, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::EnvBinding;

    #[test]
    fn variable_names_are_shell_names() {
        for good in ["A=x", "_=x", "a_1=x", "PGPASSWORD=db.password", "X=a=b"] {
            assert!(EnvBinding::parse(good).is_ok(), "{good}");
        }
        for bad in ["A", "=a", "1X=a", "A-B=a", "A B=a", "É=a", "A\0=a", ""] {
            assert!(EnvBinding::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_name_is_everything_after_the_first_equals_sign() {
        let binding = EnvBinding::parse("TOKEN=a=b").unwrap();
        assert_eq!(
            (binding.variable.as_str(), binding.name.as_str()),
            ("TOKEN", "a=b")
        );
    }
}
