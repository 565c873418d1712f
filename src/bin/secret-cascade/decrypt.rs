//! `decrypt`: print a SOPS file's plaintext, like `sops decrypt`.

use std::path::PathBuf;

use clap::Args;
use secret_cascade::sops::{self, Format};

use crate::Failure;
use crate::files::ConfigArg;

pub(crate) const DECRYPT_EXAMPLES: &str = "\
Examples:
  secret-cascade decrypt secrets.enc.yaml
  secret-cascade decrypt secrets.enc.yaml --output-type json
  secret-cascade decrypt secrets.enc.yaml --extract '[\"database\"][\"password\"]'
  SOPS_AGE_KEY_FILE=keys.txt secret-cascade decrypt app.env

Age identities come from SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD, then
~/.config/sops/age/keys.txt, as in sops. SOPS_AGE_KEY_CMD is split into words and run without a
shell, with SOPS_AGE_RECIPIENT set, only for recipients the other keys do not open; it may take
SECRET_CASCADE_KEY_CMD_TIMEOUT seconds (default 30) and print 1 MiB. PGP secret keys come from
the armored key file SECRET_CASCADE_PGP_KEY_FILE, then from GnuPG (gpg --decrypt; SOPS_GPG_EXEC,
GNUPGHOME; SECRET_CASCADE_GPG_TIMEOUT seconds, default 60). FILE and key files must be
regular files. Exit code 3 when no identity opens the file or the file was modified (MAC
mismatch, a value failed authentication).";

#[derive(Args)]
pub(crate) struct DecryptArgs {
    /// The encrypted file.
    file: PathBuf,

    /// The file's store [default: by extension, binary for others].
    #[arg(long, value_name = "TYPE")]
    input_type: Option<Format>,

    /// The output's store [default: the input's].
    #[arg(long, value_name = "TYPE")]
    output_type: Option<Format>,

    /// Print only the value at this path, e.g. '["database"]["password"]' or '["hosts"][0]'.
    #[arg(long, value_name = "PATH")]
    extract: Option<String>,

    #[command(flatten)]
    config: ConfigArg,
}

pub(crate) fn run(args: DecryptArgs) -> Result<(), Failure> {
    let usage = |message: String| Failure { message, code: 2 };
    let extract = args
        .extract
        .as_deref()
        .map(sops::parse_extract)
        .transpose()
        .map_err(|e| usage(e.to_string()))?;
    let failed = |error: sops::DecryptionError| Failure {
        code: if matches!(error, sops::DecryptionError::Read(_)) {
            2
        } else {
            crate::decryption_code(&error)
        },
        message: format!("cannot decrypt {}: {error}", args.file.display()),
    };
    let identities = args.config.identities_for(&args.file)?;
    let document = sops::decrypt_file(&args.file, args.input_type, &identities).map_err(failed)?;
    let format = args.output_type.unwrap_or(document.format());
    let output = document
        .emit(format, extract.as_deref())
        .map_err(|reason| match reason {
            // As sops: a path that reaches nothing is exit 1.
            sops::EmitError::NoValueAt { .. } => Failure {
                message: format!("cannot extract from {}: {reason}", args.file.display()),
                code: 1,
            },
            _ => Failure {
                message: format!("cannot write {} as {format}: {reason}", args.file.display()),
                code: 2,
            },
        })?;
    crate::print_plaintext(&output)
}
