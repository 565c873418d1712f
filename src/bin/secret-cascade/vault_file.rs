//! `vault-file init|add|get|list|search|update|delete|passwd|rotate|split|recover|lock|unlock|import`:
//! our master-password vault, thin over `secret_cascade::vault_file`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use secret_cascade::providers::VaultFileProvider;
use secret_cascade::vault_file::sv_vault::SvVault;
use secret_cascade::vault_file::{
    KdfParams, Password, SeenGenerations, Share, Vault, VaultError, unlock,
};
use zeroize::Zeroizing;

use crate::Failure;

const EXAMPLES: &str = "\
Examples:
  secret-cascade vault-file init
  printf %s \"$DB_PASSWORD\" | secret-cascade vault-file add db.password --tag db --note 'prod'
  secret-cascade vault-file get db.password
  secret-cascade vault-file search prod
  secret-cascade vault-file unlock --timeout 15m
  secret-cascade vault-file split --shares 5 --threshold 3 > shares.txt
  secret-cascade vault-file recover < three-shares.txt
  secret-cascade vault-file import --from-sv-vault ~/.sv-vault --sv-password-file pw.txt

The vault is --vault PATH, else the `path` of the first `kind: vault-file` layer of the config
(found as for `get`), else $XDG_DATA_HOME/secret-cascade/vault (~/.local/share/...). Values are
read from stdin (one trailing newline removed), never argv; passwords from the terminal, or from
the first line of --password-file F (--new-password-file F for a new one), never argv. A key kept
by `unlock` (in the kernel keyring, until `lock` or the timeout) opens the vault without the
password; `rotate` always asks for it. Argon2id parameters below 64 MiB, 3 passes, 4 lanes are
refused.
Exit codes: 0 done, 1 no such secret or no vault, 2 usage error or the name/vault exists
already, 3 wrong password, corrupt or truncated file, failed integrity check (a modified,
dropped, swapped or rolled-back entry), unsupported version, weak Argon2 parameters, bad
shares, or a failed write, 4 locked (no password can be asked: no terminal and no
--password-file) or the kernel keyring unavailable (`unlock`).";

/// What to do with the vault.
#[derive(Subcommand)]
#[command(after_help = EXAMPLES, defer = true)]
pub(crate) enum VaultFileCommand {
    /// Create a new vault, asking for its password twice.
    #[command(after_help = EXAMPLES)]
    Init(VaultArgs),
    /// Add a secret, its value read from stdin.
    #[command(after_help = EXAMPLES)]
    Add(AddArgs),
    /// Print a secret's value.
    #[command(after_help = EXAMPLES)]
    Get(NameArgs),
    /// Print every secret's name, tags and note (never values).
    #[command(after_help = EXAMPLES)]
    List(VaultArgs),
    /// Print the secrets whose name, tags or note contain TEXT (ignoring case; never values).
    #[command(after_help = EXAMPLES)]
    Search(SearchArgs),
    /// Change a secret's value (from stdin), tags or note.
    #[command(after_help = EXAMPLES)]
    Update(UpdateArgs),
    /// Remove a secret.
    #[command(after_help = EXAMPLES)]
    Delete(NameArgs),
    /// Change the password (the data key is re-wrapped; secrets and shares are untouched).
    #[command(after_help = EXAMPLES)]
    Passwd(NewPasswordArgs),
    /// Make a new data key and epoch, re-encrypt every secret, replace the file in one step.
    #[command(after_help = EXAMPLES)]
    Rotate(VaultArgs),
    /// Print recovery shares of the data key, any THRESHOLD of which recover it.
    #[command(after_help = EXAMPLES)]
    Split(SplitArgs),
    /// Recover the data key from shares (read from stdin, one per line) and set a new password.
    #[command(after_help = EXAMPLES)]
    Recover(NewPasswordArgs),
    /// Keep the data key in the kernel keyring until `lock` or the timeout.
    #[command(after_help = EXAMPLES)]
    Unlock(UnlockArgs),
    /// Remove the kept data key from the kernel keyring.
    #[command(after_help = EXAMPLES)]
    Lock(VaultArgs),
    /// Copy every secret of an sv-vault vault into this vault (names, tags and notes kept).
    #[command(after_help = EXAMPLES)]
    Import(ImportArgs),
}

// Which vault, and its password.
#[derive(Args)]
pub(crate) struct VaultArgs {
    /// The vault file [default: the config's vault-file layer, else
    /// ~/.local/share/secret-cascade/vault].
    #[arg(long, value_name = "PATH")]
    vault: Option<PathBuf>,

    /// The config file whose first `kind: vault-file` layer names the vault [default: as `get`
    /// finds it].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Read the password from the first line of this file instead of the terminal.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,

    /// Accept a vault older than one seen before on this machine (a backup restored on purpose).
    #[arg(long)]
    accept_older: bool,
}

// A secret of the vault.
#[derive(Args)]
pub(crate) struct NameArgs {
    /// The secret's name (flat: `db.password` is one name).
    name: String,

    #[command(flatten)]
    vault: VaultArgs,
}

// A new secret.
#[derive(Args)]
pub(crate) struct AddArgs {
    /// The secret's name.
    name: String,

    /// A tag (repeat for several).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,

    /// A note (searchable; not secret).
    #[arg(long, value_name = "TEXT", default_value = "")]
    note: String,

    #[command(flatten)]
    vault: VaultArgs,
}

// What to change in a secret.
#[derive(Args)]
pub(crate) struct UpdateArgs {
    /// The secret's name.
    name: String,

    /// Keep the value (change only tags or note); else it is read from stdin.
    #[arg(long)]
    keep_value: bool,

    /// Replace the tags with these (repeat for several).
    #[arg(long = "tag", value_name = "TAG", conflicts_with = "clear_tags")]
    tags: Vec<String>,

    /// Remove every tag.
    #[arg(long)]
    clear_tags: bool,

    /// Replace the note.
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,

    #[command(flatten)]
    vault: VaultArgs,
}

// A search.
#[derive(Args)]
pub(crate) struct SearchArgs {
    /// The text to look for in names, tags and notes.
    text: String,

    #[command(flatten)]
    vault: VaultArgs,
}

// A command that sets a new password.
#[derive(Args)]
pub(crate) struct NewPasswordArgs {
    /// Read the new password from the first line of this file instead of the terminal.
    #[arg(long, value_name = "FILE")]
    new_password_file: Option<PathBuf>,

    #[command(flatten)]
    vault: VaultArgs,
}

// How to split.
#[derive(Args)]
pub(crate) struct SplitArgs {
    /// How many shares to print (2-255).
    #[arg(long, value_name = "N")]
    shares: usize,

    /// How many shares recover the key (2-N).
    #[arg(long, value_name = "K")]
    threshold: usize,

    #[command(flatten)]
    vault: VaultArgs,
}

// How long to stay unlocked.
#[derive(Args)]
pub(crate) struct UnlockArgs {
    /// How long the key is kept: seconds, or a number with s, m, h or d.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration)]
    timeout: Duration,

    #[command(flatten)]
    vault: VaultArgs,
}

// Where to import from.
#[derive(Args)]
pub(crate) struct ImportArgs {
    /// The sv-vault directory (sv-vault's ~/.sv-vault).
    #[arg(long, value_name = "DIR")]
    from_sv_vault: PathBuf,

    /// The file whose first line is the sv-vault's password [default: asked on the terminal].
    #[arg(long, value_name = "FILE")]
    sv_password_file: Option<PathBuf>,

    /// Open the sv-vault with its recovery shares instead of its password: a file of lines
    /// `share <i>: <base64>` (as sv-vault prints them) or `<i>:<base64>`.
    #[arg(long, value_name = "FILE", conflicts_with = "sv_password_file")]
    sv_shares_file: Option<PathBuf>,

    #[command(flatten)]
    vault: VaultArgs,
}

pub(crate) fn run(command: VaultFileCommand) -> Result<(), Failure> {
    match command {
        VaultFileCommand::Init(args) => {
            let path = args.path()?;
            if path.symlink_metadata().is_ok() {
                return Err(failure(VaultError::VaultExists { path }));
            }
            let password = new_password(args.password_file.as_deref(), &path)?;
            let mut vault = Vault::create(&path, &password, KdfParams::FLOOR, KdfParams::FLOOR)
                .map_err(failure)?;
            save(&mut vault)?;
            eprintln!("created the vault {}", path.display());
            Ok(())
        }
        VaultFileCommand::Add(args) => {
            let mut vault = args.vault.open()?;
            let value = value_from_stdin(&args.name)?;
            vault
                .add(&args.name, &value, &args.tags, &args.note)
                .map_err(failure)?;
            save(&mut vault)
        }
        VaultFileCommand::Get(args) => {
            let vault = args.vault.open()?;
            let value = vault.get(&args.name).map_err(failure)?;
            let mut line = Zeroizing::new(Vec::with_capacity(value.len() + 1));
            line.extend_from_slice(value.as_bytes());
            line.push(b'\n');
            crate::print_plaintext(&line)
        }
        VaultFileCommand::List(args) => {
            let vault = args.open()?;
            print_entries(vault.entries());
            Ok(())
        }
        VaultFileCommand::Search(args) => {
            let vault = args.vault.open()?;
            let found = vault.search(&args.text);
            if found.is_empty() {
                return Err(Failure {
                    message: format!("no secret's name, tags or note contain `{}`", args.text),
                    code: 1,
                });
            }
            print_entries(found.into_iter());
            Ok(())
        }
        VaultFileCommand::Update(args) => {
            let mut vault = args.vault.open()?;
            let value = if args.keep_value {
                None
            } else {
                Some(value_from_stdin(&args.name)?)
            };
            let tags = (args.clear_tags || !args.tags.is_empty()).then_some(&args.tags[..]);
            vault
                .update(
                    &args.name,
                    value.as_deref().map(|v| v.as_str()),
                    tags,
                    args.note.as_deref(),
                )
                .map_err(failure)?;
            save(&mut vault)
        }
        VaultFileCommand::Delete(args) => {
            let mut vault = args.vault.open()?;
            vault.delete(&args.name).map_err(failure)?;
            save(&mut vault)
        }
        VaultFileCommand::Passwd(args) => {
            let mut vault = args.vault.open()?;
            let password = new_password(args.new_password_file.as_deref(), vault.path())?;
            vault
                .change_password(&password, KdfParams::FLOOR, KdfParams::FLOOR)
                .map_err(failure)?;
            save(&mut vault)?;
            eprintln!("changed the password of {}", vault.path().display());
            Ok(())
        }
        VaultFileCommand::Rotate(args) => {
            let path = args.path()?;
            let password = args.password(&path)?;
            let mut vault = args.checked(
                Vault::open_with_password(&path, &password, KdfParams::FLOOR).map_err(failure)?,
            )?;
            let old = vault.identity();
            vault
                .rotate(&password, KdfParams::FLOOR, KdfParams::FLOOR)
                .map_err(failure)?;
            save(&mut vault)?;
            // The old epoch's key opens nothing now; a kept one goes.
            let _ = unlock::forget(&old.id);
            eprintln!(
                "rotated {}: key epoch {} -> {}; shares made before no longer apply, make new \
                 ones with `split`",
                path.display(),
                old.epoch,
                vault.identity().epoch
            );
            Ok(())
        }
        VaultFileCommand::Split(args) => {
            let vault = args.vault.open()?;
            let shares = vault.split(args.shares, args.threshold).map_err(failure)?;
            let mut text = Zeroizing::new(String::new());
            for share in shares {
                text.push_str(&share.to_string());
                text.push('\n');
            }
            crate::print_plaintext(text.as_bytes())?;
            eprintln!(
                "any {} of these {} shares recover the data key of {} (`vault-file recover`); \
                 give each to a different person",
                args.threshold,
                args.shares,
                vault.path().display()
            );
            Ok(())
        }
        VaultFileCommand::Recover(args) => {
            let path = args.vault.path()?;
            let input = crate::value_from_stdin("the shares")?;
            let input = std::str::from_utf8(&input)
                .map_err(|_| Failure::usage("the shares on stdin are not text"))?;
            let shares = input
                .lines()
                .filter(|line| !line.trim().is_empty())
                .map(Share::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(failure)?;
            let mut vault = args
                .vault
                .checked(Vault::recover(&path, &shares).map_err(failure)?)?;
            let password = new_password(args.new_password_file.as_deref(), &path)?;
            vault
                .change_password(&password, KdfParams::FLOOR, KdfParams::FLOOR)
                .map_err(failure)?;
            save(&mut vault)?;
            eprintln!(
                "recovered {} from {} shares; its password is the new one",
                path.display(),
                shares.len()
            );
            Ok(())
        }
        VaultFileCommand::Unlock(args) => {
            let vault = args.vault.open()?;
            unlock::remember(&vault.identity(), vault.data_key(), args.timeout).map_err(failure)?;
            eprintln!(
                "unlocked {} for {} s (the data key is in the kernel keyring; `vault-file lock` \
                 removes it)",
                vault.path().display(),
                args.timeout.as_secs().max(1)
            );
            Ok(())
        }
        VaultFileCommand::Lock(args) => {
            let path = args.path()?;
            let identity = Vault::identify(&path).map_err(failure)?;
            let removed = unlock::forget(&identity.id).map_err(failure)?;
            eprintln!(
                "{} {}",
                if removed {
                    "locked"
                } else {
                    "was not unlocked:"
                },
                path.display()
            );
            Ok(())
        }
        VaultFileCommand::Import(args) => import(args),
    }
}

/// `import --from-sv-vault`: every record copied; a name already in the vault is left alone and
/// reported.
fn import(args: ImportArgs) -> Result<(), Failure> {
    let dir = &args.from_sv_vault;
    let source = match (&args.sv_shares_file, &args.sv_password_file) {
        (Some(file), _) => {
            let text = Password::File(file.clone()).read().map_err(failure)?;
            let text = std::str::from_utf8(&text)
                .map_err(|_| Failure::usage("the shares file is not text"))?;
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let key = SvVault::recover_master_key(dir, &lines).map_err(failure)?;
            SvVault::open_with_master_key(dir, &key)
        }
        (None, Some(file)) => {
            SvVault::open(dir, &Password::File(file.clone()).read().map_err(failure)?)
        }
        (None, None) => SvVault::open(
            dir,
            &prompt(
                dir,
                &format!("Password of the sv-vault {}: ", dir.display()),
            )?,
        ),
    }
    .map_err(failure)?;
    let mut vault = args.vault.open()?;
    let (mut added, mut skipped) = (0, Vec::new());
    for entry in source.entries() {
        match vault.add(&entry.name, &entry.value, &entry.tags, &entry.note) {
            Ok(()) => added += 1,
            Err(VaultError::AlreadyExists { .. }) => skipped.push(entry.name.as_str()),
            Err(e) => return Err(failure(e)),
        }
    }
    save(&mut vault)?;
    eprintln!(
        "imported {added} of {} secrets from {} into {}",
        source.entries().len(),
        args.from_sv_vault.display(),
        vault.path().display()
    );
    if !skipped.is_empty() {
        eprintln!(
            "kept the vault's own value of {} (already there): {}",
            skipped.len(),
            skipped.join(", ")
        );
    }
    Ok(())
}

impl VaultArgs {
    /// `--vault`, else the config's vault-file layer's path, else the default path.
    fn path(&self) -> Result<PathBuf, Failure> {
        if let Some(path) = &self.vault {
            return Ok(path.clone());
        }
        let config = self
            .config
            .clone()
            .or_else(secret_cascade::config::discover);
        if let Some(config) = config.filter(|c| self.config.is_some() || c.exists()) {
            let layer = secret_cascade::config::read_layer(&config, "vault-file", |options| {
                VaultFileProvider::from_options(options)
            })?;
            if let Some(layer) = layer {
                return Ok(layer.path().to_path_buf());
            }
        }
        secret_cascade::vault_file::default_path().ok_or_else(|| {
            Failure::usage("no --vault given and neither XDG_DATA_HOME nor HOME is set")
        })
    }

    /// The current password: from --password-file, else asked on the terminal.
    fn password(&self, path: &Path) -> Result<Zeroizing<Vec<u8>>, Failure> {
        match &self.password_file {
            Some(file) => Password::File(file.clone()).read().map_err(failure),
            None => prompt(path, &format!("Password of the vault {}: ", path.display())),
        }
    }

    /// The vault opened: with the key `unlock` kept, else with the password; refused when it is
    /// older than a copy seen before on this machine.
    fn open(&self) -> Result<Vault, Failure> {
        let path = self.path()?;
        let identity = Vault::identify(&path).map_err(failure)?;
        if self.password_file.is_none()
            && let Ok(Some(key)) = unlock::recall(&identity)
            && let Ok(vault) = Vault::open_with_key(&path, key)
        {
            return self.checked(vault);
        }
        let password = self.password(&path)?;
        self.checked(
            Vault::open_with_password(&path, &password, KdfParams::FLOOR).map_err(failure)?,
        )
    }

    /// `vault` unless it is older than a generation of it seen on this machine (then accepted and
    /// recorded with --accept-older); its generation recorded.
    fn checked(&self, vault: Vault) -> Result<Vault, Failure> {
        if let Some(seen) = SeenGenerations::default_location() {
            if !self.accept_older {
                seen.check(&vault).map_err(failure)?;
            }
            remember_generation(&seen, &vault);
        }
        Ok(vault)
    }
}

/// Saves `vault` and records its new generation.
fn save(vault: &mut Vault) -> Result<(), Failure> {
    vault.save().map_err(failure)?;
    if let Some(seen) = SeenGenerations::default_location() {
        remember_generation(&seen, vault);
    }
    Ok(())
}

/// Records the generation seen; a failure to do so is said, not fatal (the vault is fine).
fn remember_generation(seen: &SeenGenerations, vault: &Vault) {
    if let Err(e) = seen.record(vault) {
        eprintln!("secret-cascade: warning: rollback detection: {e}");
    }
}

/// A new password: from `file`, else asked twice on the terminal. Empty is refused.
fn new_password(file: Option<&Path>, vault: &Path) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let password = match file {
        Some(file) => Password::File(file.to_path_buf()).read().map_err(failure)?,
        None => {
            let question = format!("New password for the vault {}: ", vault.display());
            let first = prompt(vault, &question)?;
            let second = prompt(vault, "The same password again: ")?;
            if first != second {
                return Err(Failure::usage(
                    "the two passwords differ; nothing was changed",
                ));
            }
            first
        }
    };
    if password.is_empty() {
        return Err(Failure::usage("the password is empty; nothing was changed"));
    }
    Ok(password)
}

/// Asks on the terminal without echo; without a terminal, the vault at `path` is locked (exit 4).
fn prompt(path: &Path, question: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let answer = rpassword::prompt_password(question).map_err(|e| {
        failure(VaultError::Locked {
            path: path.to_path_buf(),
            how: format!(
                "no password can be asked ({e}); give --password-file FILE, or run `vault-file \
                 unlock` in a terminal first"
            ),
        })
    })?;
    Ok(Zeroizing::new(answer.into_bytes()))
}

/// The value on stdin as text.
fn value_from_stdin(name: &str) -> Result<Zeroizing<String>, Failure> {
    let mut bytes = crate::value_from_stdin(name)?;
    String::from_utf8(std::mem::take(&mut *bytes))
        .map(Zeroizing::new)
        .map_err(|e| {
            drop(Zeroizing::new(e.into_bytes()));
            Failure::usage("the value on stdin is not valid UTF-8")
        })
}

fn print_entries<'a>(entries: impl Iterator<Item = secret_cascade::vault_file::EntryInfo<'a>>) {
    let mut out = String::new();
    for entry in entries {
        out.push_str(entry.name);
        if !entry.tags.is_empty() {
            out.push_str(&format!("\t[{}]", entry.tags.join(", ")));
        }
        if !entry.note.is_empty() {
            out.push_str(&format!("\t{}", entry.note));
        }
        out.push('\n');
    }
    print!("{out}");
}

/// The exit code of a vault error (see EXAMPLES).
fn failure(error: VaultError) -> Failure {
    let code = match &error {
        VaultError::NotFound { .. } | VaultError::NoVault { .. } => 1,
        VaultError::VaultExists { .. }
        | VaultError::AlreadyExists { .. }
        | VaultError::Invalid { .. } => 2,
        VaultError::Locked { .. } | VaultError::KeyringUnavailable { .. } => 4,
        _ => 3,
    };
    Failure {
        message: error.to_string(),
        code,
    }
}

/// `90`, `90s`, `15m`, `2h`, `1d`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let seconds_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => {
            return Err(format!(
                "`{text}`: expected seconds, or a number with s, m, h or d"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(seconds_per))
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}`: expected a positive whole number with s, m, h or d"))
}
