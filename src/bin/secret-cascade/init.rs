//! `init`: create an age identity, a `.sops.yaml` and a starter config in a folder.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use secret_cascade::init::{self, InitError, InitReport};

use crate::Failure;

pub(crate) const INIT_EXAMPLES: &str = "\
Examples:
  secret-cascade init
  secret-cascade init --dir deploy/secrets

Writes age-key.txt (a new age identity, mode 0600), .sops.yaml (a creation rule encrypting
every .yaml, .yml, .json, .env and .ini file below it to it) and secret-cascade.yml (env, then
secrets.enc.yaml).
Never overwrites: if any of the three exists, nothing is written. The secret key is never printed.

Exit codes:
  0  done
  1  a folder or file could not be created or written (nothing is left half-written)
  2  one of the files exists already, or a usage error";

#[derive(Args)]
pub(crate) struct InitArgs {
    /// The folder to write into; created if missing [default: the current directory].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub(crate) fn run(args: InitArgs) -> Result<(), Failure> {
    let dir = args.dir.as_deref().unwrap_or(Path::new("."));
    let report = init::init(dir).map_err(|error| {
        let code = match error {
            InitError::Exists { .. } => 2,
            _ => 1,
        };
        Failure {
            message: error.to_string(),
            code,
        }
    })?;
    let mut out = std::io::stdout().lock();
    out.write_all(summary(args.dir.as_deref(), &report).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// What was written and what to do next. `dir` is the `--dir` given, if any.
fn summary(dir: Option<&Path>, report: &InitReport) -> String {
    let files = [
        (&report.key_file, "the age identity (secret; mode 0600)"),
        (
            &report.sops_config,
            "the sops creation rule, for every .yaml/.yml/.json/.env/.ini file here and below",
        ),
        (
            &report.config,
            "the config: env (APP__...), then secrets.enc.yaml",
        ),
    ];
    let width = files
        .iter()
        .map(|(path, _)| path.display().to_string().chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::from("Created:\n");
    for (path, what) in files {
        let path = path.display().to_string();
        text.push_str(&format!("  {path:<width$}  {what}\n"));
    }
    text.push_str(&format!(
        "Public key (recipient): {}\n\nNext:\n",
        report.recipient
    ));
    if let Some(dir) = dir {
        text.push_str(&format!(
            "  cd {}\n",
            shell_quote(&dir.display().to_string())
        ));
    }
    text.push_str(&format!(
        "  1. Write your secrets in plaintext to secrets.yaml, for example:
       database:
         password: s3cr3t
  2. secret-cascade encrypt secrets.yaml --output secrets.enc.yaml --shred
     (or, with sops: sops encrypt --output secrets.enc.yaml secrets.yaml)
  3. secret-cascade get database.password
  4. printf %s 'n3w-pa55' | secret-cascade set secrets.enc.yaml database.password
  5. secret-cascade edit secrets.enc.yaml     (changes it in $EDITOR)
  6. secret-cascade doctor

Warning: {key} is the only key to secrets.enc.yaml.
  Keep it out of version control: add `{key}` and `secrets.yaml` to .gitignore.
  Back it up somewhere safe: without it, the encrypted secrets cannot be decrypted.
",
        key = init::KEY_FILE_NAME,
    ));
    text
}

/// `text` as one shell word: as is if it is plainly safe, else in single quotes.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"/._-+,:@%".contains(&byte));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
