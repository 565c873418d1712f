//! `encrypt`, `set`, `unset` and `rotate`: writing SOPS files natively, in the format the real
//! sops 3.11 reads.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{ArgGroup, Args};
use secret_cascade::atomic_write;
use secret_cascade::config;
use secret_cascade::providers::SopsProvider;
use secret_cascade::shred::{self, ShredOptions};
use secret_cascade::sops::{
    self, DecryptionError, EncryptOptions, EncryptionError, EncryptionRule, Format, Identities,
};

use crate::Failure;

pub(crate) const ENCRYPT_EXAMPLES: &str = "\
Examples:
  secret-cascade encrypt secrets.yaml --output secrets.enc.yaml --shred
  secret-cascade encrypt app.env --age age1... --encrypted-regex '^DB_' > app.enc.env
  secret-cascade encrypt blob.bin --input-type binary --output blob.enc.json

Recipients: --age (repeatable, or comma-separated), else SOPS_AGE_RECIPIENTS, else the first
creation rule of the nearest .sops.yaml (walking up from FILE's folder) whose path_regex matches
FILE's path, or --filename-override's, relative to that .sops.yaml, as in sops.
The output is written atomically (a new file gets mode 0600); the cleartext never touches disk.
Exit codes: 0 done, 2 usage error (no recipients, unreadable or malformed input), 1 write failure.";

// Where values go: named as sops names them.
#[derive(Args)]
#[command(group(ArgGroup::new("rule").multiple(false)))]
pub(crate) struct EncryptArgs {
    /// The cleartext file.
    file: PathBuf,

    #[command(flatten)]
    recipients: RecipientArgs,

    /// The input's store [default: by extension, binary for others].
    #[arg(long, value_name = "TYPE")]
    input_type: Option<Format>,

    /// The output's store [default: the input's].
    #[arg(long, value_name = "TYPE")]
    output_type: Option<Format>,

    /// Encrypt only values under keys matching this regular expression.
    #[arg(long, value_name = "REGEX", group = "rule")]
    encrypted_regex: Option<String>,

    /// Encrypt all values except under keys matching this regular expression.
    #[arg(long, value_name = "REGEX", group = "rule")]
    unencrypted_regex: Option<String>,

    /// Encrypt only values under keys ending with this suffix.
    #[arg(long, value_name = "SUFFIX", group = "rule")]
    encrypted_suffix: Option<String>,

    /// Encrypt all values except under keys ending with this suffix [sops's default: _unencrypted].
    #[arg(long, value_name = "SUFFIX", group = "rule")]
    unencrypted_suffix: Option<String>,

    /// Encrypt only the keys below a comment matching this regular expression.
    #[arg(long, value_name = "REGEX", group = "rule")]
    encrypted_comment_regex: Option<String>,

    /// Encrypt all keys except those below a comment matching this regular expression.
    #[arg(long, value_name = "REGEX", group = "rule")]
    unencrypted_comment_regex: Option<String>,

    /// Compute the MAC over the encrypted values only (plaintext values are then not protected).
    #[arg(long)]
    mac_only_encrypted: bool,

    /// Write the encrypted file here (atomically) instead of to stdout.
    #[arg(long, short, value_name = "OUT")]
    output: Option<PathBuf>,

    /// Shred the cleartext FILE once the encrypted file is written (3 passes, the last zeros).
    #[arg(long)]
    shred: bool,

    /// Choose the .sops.yaml creation rule (and the store, by extension) as if FILE were this
    /// path.
    #[arg(long, value_name = "PATH")]
    filename_override: Option<PathBuf>,
}

impl EncryptArgs {
    /// The rule given on the command line, if any.
    fn rule(&self) -> Option<EncryptionRule> {
        let given = [
            (
                &self.encrypted_regex,
                EncryptionRule::EncryptedRegex as fn(String) -> _,
            ),
            (&self.unencrypted_regex, EncryptionRule::UnencryptedRegex),
            (&self.encrypted_suffix, EncryptionRule::EncryptedSuffix),
            (&self.unencrypted_suffix, EncryptionRule::UnencryptedSuffix),
            (
                &self.encrypted_comment_regex,
                EncryptionRule::EncryptedCommentRegex,
            ),
            (
                &self.unencrypted_comment_regex,
                EncryptionRule::UnencryptedCommentRegex,
            ),
        ];
        given
            .into_iter()
            .find_map(|(value, make)| value.clone().map(make))
    }
}

pub(crate) fn encrypt(args: EncryptArgs) -> Result<(), Failure> {
    let file = &args.file;
    if args.shred
        && args
            .output
            .as_deref()
            .is_some_and(|out| same_file(out, file))
    {
        return Err(Failure::usage(
            "--shred with --output equal to FILE would destroy the result; write elsewhere",
        ));
    }
    let text = sops::read_file(file).map_err(|e| match e {
        DecryptionError::Read(reason) => {
            Failure::usage(format!("cannot read {}: {reason}", file.display()))
        }
        other => Failure::usage(format!("{}: {other}", file.display())),
    })?;
    let given = args.recipients.recipients()?;
    let mut options = if !given.is_empty() {
        EncryptOptions::for_recipients(given)
    } else {
        // As in sops: the rule is chosen by the file being encrypted, unless overridden.
        let target = args.filename_override.as_deref().unwrap_or(file);
        match sops::find_creation_rule(target).map_err(|e| Failure::usage(e.to_string()))? {
            Some(rule) => {
                tracing::debug!(config = %rule.config.display(), index = rule.index, "creation rule");
                rule.options
            }
            None => {
                return Err(Failure::usage(
                    "no recipients: pass --age, --pgp, --hc-vault-transit or --kms, set \
                     SOPS_AGE_RECIPIENTS, or add a .sops.yaml creation rule",
                ));
            }
        }
    };
    if let Some(rule) = args.rule() {
        options.rule = rule;
    }
    options.mac_only_encrypted |= args.mac_only_encrypted;
    let named = args.filename_override.as_deref().unwrap_or(file);
    let input = args.input_type.unwrap_or_else(|| Format::from_path(named));
    let output = args.output_type.unwrap_or(input);
    let encrypted = sops::encrypt(&text, input, output, &options).map_err(|e| Failure {
        code: 2,
        message: format!("cannot encrypt {}: {e}", file.display()),
    })?;
    match &args.output {
        Some(out) => atomic_write::write(out, &encrypted, atomic_write::Mode::Fixed(0o600))
            .map_err(|e| Failure {
                code: 1,
                message: format!("cannot write {}: {e}", out.display()),
            })?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&encrypted)?;
            stdout.flush()?;
        }
    }
    if args.shred {
        drop(text);
        let outcome = shred::shred(file, &ShredOptions::default()).map_err(|e| Failure {
            code: 1,
            message: format!("encrypted, but could not shred {}: {e}", file.display()),
        })?;
        tracing::debug!(?outcome, "shredded the cleartext");
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

pub(crate) const SET_EXAMPLES: &str = "\
Examples:
  printf %s \"$NEW_PASSWORD\" | secret-cascade set secrets.enc.yaml database.password
  secret-cascade set secrets.enc.yaml api.keys.0 < key.txt
  secret-cascade set app.enc.env DB_PASSWORD < password.txt
  secret-cascade set secrets.enc.yaml '[\"dotted.key\"][\"inner\"]' < value.txt
  echo '{\"port\": 5432, \"tls\": true}' | secret-cascade set secrets.enc.yaml db --value-type json

The value is read from stdin (one trailing newline removed), never from the command line, and
stored as a string; with --value-type json it is parsed as sops's `set` parses its value (a
number is a float, a map or list keeps its values' types). Other values keep their ciphertext byte for byte; lastmodified and the MAC
are renewed. Missing maps on the way are created; an index one past a list's end appends.
Exit codes: 0 done, 2 usage error, 3 the file cannot be decrypted or was modified, 1 write failure.";

// A SOPS file and a name in it.
#[derive(Args)]
pub(crate) struct SetArgs {
    /// The encrypted file.
    file: PathBuf,

    /// The value's dotted name (`database.password`, `hosts.0`) or `["key"]["with.dots"]`.
    name: String,

    /// How stdin is read: `string` (as it is) or `json` (sops's typed `set`: a number, boolean,
    /// null, map or list keeps its type).
    #[arg(long, value_name = "TYPE", default_value = "string")]
    value_type: ValueType,

    /// The file's store [default: by extension, binary for others].
    #[arg(long, value_name = "TYPE")]
    input_type: Option<Format>,

    #[command(flatten)]
    lock: LockArgs,
}

/// How `set` reads its value.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ValueType {
    String,
    Json,
}

pub(crate) fn set(args: SetArgs) -> Result<(), Failure> {
    let path = name_path(&args.name)?;
    let value = crate::value_from_stdin(&args.name)?;
    edit(&args.file, args.input_type, &args.lock, |file| {
        if file.format() != Format::Binary && std::str::from_utf8(&value).is_err() {
            return Err(EncryptionError::Path {
                path: args.name.clone(),
                reason: "the value is not valid UTF-8".into(),
            });
        }
        match args.value_type {
            ValueType::String => file.set(&path, &value),
            ValueType::Json => file.set_json(&path, &value),
        }
    })
}

// A SOPS file and a name in it.
#[derive(Args)]
#[command(
    after_help = "Exit codes: 0 removed, 1 no such name, 2 usage error, 3 the file cannot \
                        be decrypted or was modified."
)]
pub(crate) struct UnsetArgs {
    /// The encrypted file.
    file: PathBuf,

    /// The value's dotted name (`database.password`, `hosts.0`) or `["key"]["with.dots"]`.
    name: String,

    /// The file's store [default: by extension, binary for others].
    #[arg(long, value_name = "TYPE")]
    input_type: Option<Format>,

    #[command(flatten)]
    lock: LockArgs,
}

pub(crate) fn unset(args: UnsetArgs) -> Result<(), Failure> {
    let path = name_path(&args.name)?;
    edit(&args.file, args.input_type, &args.lock, |file| {
        file.unset(&path)
    })
}

pub(crate) const ROTATE_EXAMPLES: &str = "\
Examples:
  secret-cascade rotate secrets.enc.yaml
  secret-cascade rotate secrets.enc.yaml --add-age age1new... --rm-age age1old...

Every value is encrypted again under a new data key, which is wrapped for every recipient (added
ones join the first key group). Rotate after removing a recipient: the old data key opened
everything it could read before.";

// A SOPS file and recipient changes.
#[derive(Args)]
pub(crate) struct RotateArgs {
    /// The encrypted file.
    file: PathBuf,

    /// Add this age recipient (age1..., age1pq1..., ssh-ed25519 ..., ssh-rsa ...; repeatable,
    /// or comma-separated).
    #[arg(long, value_name = "RECIPIENT", value_delimiter = ',')]
    add_age: Vec<String>,

    /// Remove this age recipient (repeatable, or comma-separated).
    #[arg(long, value_name = "RECIPIENT", value_delimiter = ',')]
    rm_age: Vec<String>,

    /// Add the PGP key with this fingerprint (repeatable, or comma-separated).
    #[arg(long, value_name = "FINGERPRINT", value_delimiter = ',')]
    add_pgp: Vec<String>,

    /// Remove the PGP key with this fingerprint (repeatable, or comma-separated).
    #[arg(long, value_name = "FINGERPRINT", value_delimiter = ',')]
    rm_pgp: Vec<String>,

    /// Add the Vault/OpenBao transit key at this URI (repeatable, or comma-separated).
    #[arg(long, value_name = "URI", value_delimiter = ',')]
    add_hc_vault_transit: Vec<String>,

    /// Remove the Vault/OpenBao transit key at this URI (repeatable, or comma-separated).
    #[arg(long, value_name = "URI", value_delimiter = ',')]
    rm_hc_vault_transit: Vec<String>,

    /// Add the AWS KMS key ARN[+ROLE_ARN] (repeatable, or comma-separated).
    #[arg(long, value_name = "ARN", value_delimiter = ',')]
    add_kms: Vec<String>,

    /// Remove the AWS KMS key with this ARN (repeatable, or comma-separated).
    #[arg(long, value_name = "ARN", value_delimiter = ',')]
    rm_kms: Vec<String>,

    /// Remove the GCP KMS key with this resource id (a key type secret-cascade cannot open or
    /// encrypt to; remove it to rotate).
    #[arg(long, value_name = "RESOURCE_ID", value_delimiter = ',')]
    rm_gcp_kms: Vec<String>,

    /// Remove the Azure Key Vault key with this URL (a key type secret-cascade cannot open or
    /// encrypt to; remove it to rotate).
    #[arg(long, value_name = "URL", value_delimiter = ',')]
    rm_azure_kv: Vec<String>,

    /// Allow a change after which no identity available here opens the file.
    #[arg(long)]
    force: bool,

    /// The file's store [default: by extension, binary for others].
    #[arg(long, value_name = "TYPE")]
    input_type: Option<Format>,

    #[command(flatten)]
    lock: LockArgs,
}

pub(crate) fn rotate(args: RotateArgs) -> Result<(), Failure> {
    let add = recipients(
        &args.add_age,
        &args.add_pgp,
        &args.add_hc_vault_transit,
        &args.add_kms,
        None,
    );
    let remove: Vec<String> = [
        &args.rm_age,
        &args.rm_pgp,
        &args.rm_hc_vault_transit,
        &args.rm_kms,
        &args.rm_gcp_kms,
        &args.rm_azure_kv,
    ]
    .into_iter()
    .flatten()
    .map(|r| r.trim().to_owned())
    .filter(|r| !r.is_empty())
    .collect();
    edit_keys(
        &args.file,
        args.input_type,
        &args.lock,
        args.force,
        |file| file.rotate(&add, &remove),
    )
}

// The master keys a new file is encrypted to, named as sops names them.
#[derive(Args)]
pub(crate) struct RecipientArgs {
    /// An age recipient (age1..., age1pq1..., ssh-ed25519 ..., ssh-rsa ...); repeatable, or
    /// comma-separated.
    #[arg(
        long,
        value_name = "RECIPIENT",
        env = "SOPS_AGE_RECIPIENTS",
        value_delimiter = ','
    )]
    age: Vec<String>,

    /// A PGP key fingerprint; repeatable, or comma-separated.
    #[arg(
        long,
        value_name = "FINGERPRINT",
        env = "SOPS_PGP_FP",
        value_delimiter = ','
    )]
    pgp: Vec<String>,

    /// A Vault/OpenBao transit key URI (https://host:8200/v1/transit/keys/NAME); repeatable, or
    /// comma-separated.
    #[arg(
        long,
        value_name = "URI",
        env = "SOPS_VAULT_URIS",
        value_delimiter = ','
    )]
    hc_vault_transit: Vec<String>,

    /// An AWS KMS key, ARN[+ROLE_ARN]; repeatable, or comma-separated.
    #[arg(long, value_name = "ARN", env = "SOPS_KMS_ARN", value_delimiter = ',')]
    kms: Vec<String>,

    /// The AWS profile (of ~/.aws/config and ~/.aws/credentials) for the --kms keys.
    #[arg(long, value_name = "PROFILE")]
    aws_profile: Option<String>,

    /// GCP KMS keys: not supported (refused with a message saying so).
    #[arg(
        long,
        value_name = "RESOURCE_ID",
        env = "SOPS_GCP_KMS_IDS",
        hide = true
    )]
    gcp_kms: Vec<String>,

    /// Azure Key Vault keys: not supported (refused with a message saying so).
    #[arg(
        long,
        value_name = "URL",
        env = "SOPS_AZURE_KEYVAULT_URLS",
        hide = true
    )]
    azure_kv: Vec<String>,
}

impl RecipientArgs {
    /// The recipients given; an error for key types sops has and secret-cascade does not.
    fn recipients(&self) -> Result<Vec<sops::Recipient>, Failure> {
        for (given, flag, name) in [
            (&self.gcp_kms, "--gcp-kms", "GCP Cloud KMS"),
            (&self.azure_kv, "--azure-kv", "Azure Key Vault"),
        ] {
            if given.iter().any(|k| !k.trim().is_empty()) {
                return Err(Failure::usage(format!(
                    "{flag}: {name} keys are not supported by secret-cascade; use age, PGP, \
                     Vault transit or AWS KMS keys, or sops itself"
                )));
            }
        }
        Ok(recipients(
            &self.age,
            &self.pgp,
            &self.hc_vault_transit,
            &self.kms,
            self.aws_profile.as_deref(),
        ))
    }
}

/// Recipients from the command line's lists (blank entries dropped).
fn recipients(
    age: &[String],
    pgp: &[String],
    transit: &[String],
    kms: &[String],
    aws_profile: Option<&str>,
) -> Vec<sops::Recipient> {
    let given = |list: &[String]| -> Vec<String> {
        list.iter()
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect()
    };
    let mut all: Vec<sops::Recipient> = given(age).into_iter().map(sops::Recipient::Age).collect();
    all.extend(given(pgp).into_iter().map(sops::Recipient::Pgp));
    all.extend(
        given(transit)
            .into_iter()
            .map(sops::Recipient::HcVaultTransit),
    );
    all.extend(given(kms).into_iter().map(|arn| {
        let mut key = sops::KmsRecipient::parse(&arn);
        key.aws_profile = aws_profile.map(str::to_owned);
        sops::Recipient::Kms(key)
    }));
    all
}

// The config whose `sops` layer for a file gives the identities to open it with.
#[derive(Args)]
pub(crate) struct ConfigArg {
    /// The config whose `sops` layer for FILE names its identities (`age_key_file`) [default:
    /// as `get` finds it; without a layer for FILE, sops's usual key sources].
    #[arg(long, value_name = "CONFIG")]
    config: Option<PathBuf>,
}

impl ConfigArg {
    /// `--config` as another command took it.
    pub(crate) fn new(config: Option<PathBuf>) -> Self {
        Self { config }
    }

    /// The identities for `file`: those of the config's `sops` layer reading it (its
    /// `age_key_file`, then sops's usual sources), else sops's usual sources alone. A config that
    /// is there but invalid is an error, not skipped.
    pub(crate) fn identities_for(&self, file: &Path) -> Result<Identities, Failure> {
        let layer = match self.config.clone().or_else(config::discover) {
            Some(path) => {
                let wanted = std::fs::canonicalize(file).ok();
                config::read_layers(&path, "sops", SopsProvider::from_options)?
                    .into_iter()
                    .find(|layer| {
                        wanted.is_some() && std::fs::canonicalize(layer.path()).ok() == wanted
                    })
            }
            None => None,
        };
        let identities = match &layer {
            Some(layer) => {
                tracing::debug!(file = %layer.path().display(), "the identities of the config's sops layer");
                layer.identities()
            }
            None => Identities::discover(None),
        };
        identities.map_err(|e| Failure {
            code: crate::decryption_code(&e),
            message: format!("cannot load the identities: {e}"),
        })
    }
}

// How long an edit waits for another one on the same folder, and whose identities it uses.
#[derive(Args)]
pub(crate) struct LockArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,

    /// Seconds to wait for another edit's lock on the file's folder before giving up
    /// [default: 10].
    #[arg(
        long,
        value_name = "SECONDS",
        env = "SECRET_CASCADE_LOCK_TIMEOUT",
        value_parser = parse_seconds
    )]
    lock_timeout: Option<Duration>,
}

impl LockArgs {
    pub(crate) fn timeout(&self) -> Duration {
        self.lock_timeout
            .unwrap_or(atomic_write::DEFAULT_LOCK_TIMEOUT)
    }
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| format!("expected a number of seconds such as 10 or 0.5, got `{text}`"))
}

/// `a.b.0` as segments, or sops's `["a.b"][0]` syntax.
fn name_path(name: &str) -> Result<Vec<String>, Failure> {
    let path = if name.trim_start().starts_with('[') {
        sops::parse_extract(name).map_err(|e| Failure::usage(e.to_string()))?
    } else {
        name.split('.').map(str::to_owned).collect()
    };
    if path.is_empty() || path.iter().any(String::is_empty) {
        return Err(Failure::usage(format!(
            "`{name}` is not a name: use dotted segments like database.password"
        )));
    }
    Ok(path)
}

/// Edits a file in place with the discovered identities, mapping errors to exit codes.
pub(crate) fn edit(
    file: &Path,
    format: Option<Format>,
    lock: &LockArgs,
    change: impl FnOnce(&mut sops::EditableFile) -> Result<(), EncryptionError>,
) -> Result<(), Failure> {
    edit_with(file, format, lock, |editable, _| change(editable))
}

/// Changes a file's keys as [`edit`] edits it; unless `force`, a change after which none of the
/// identities that opened the file opens it any more is refused, naming the keys it removed.
pub(crate) fn edit_keys(
    file: &Path,
    format: Option<Format>,
    lock: &LockArgs,
    force: bool,
    change: impl FnOnce(&mut sops::EditableFile) -> Result<(), EncryptionError>,
) -> Result<(), Failure> {
    edit_with(file, format, lock, |editable, identities| {
        let before = editable.recipients();
        change(editable)?;
        if force {
            Ok(())
        } else {
            editable.check_still_opens(identities, &before)
        }
    })
}

/// [`edit`], the change also given the identities the file was opened with.
fn edit_with(
    file: &Path,
    format: Option<Format>,
    lock: &LockArgs,
    change: impl FnOnce(&mut sops::EditableFile, &Identities) -> Result<(), EncryptionError>,
) -> Result<(), Failure> {
    if !file.exists() {
        return Err(Failure::usage(format!("{}: no such file", file.display())));
    }
    let identities = lock.config.identities_for(file)?;
    sops::edit_file(file, format, &identities, lock.timeout(), |editable| {
        change(editable, &identities)
    })
    .map_err(|e| edit_failure(file, e))
}

/// An edit's error as a failure of `file`: 3 (or 6) when it does not open, 1 when it cannot be
/// read or written or the name is missing, 2 for the rest (usage).
pub(crate) fn edit_failure(file: &Path, error: EncryptionError) -> Failure {
    let code = match &error {
        EncryptionError::Decryption(e) => crate::decryption_code(e),
        EncryptionError::Missing { .. }
        | EncryptionError::Read { .. }
        | EncryptionError::Io { .. } => 1,
        _ => 2,
    };
    Failure {
        code,
        message: format!("{}: {error}", file.display()),
    }
}
