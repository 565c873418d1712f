//! `doctor`: check that the config is sound and every layer can serve, and print the findings.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use secret_cascade::{Check, Diagnosis, LayerDiagnosis, Status};

use crate::Failure;

pub(crate) const EXAMPLES: &str = "\
Checks: the config file is valid and not writable by group or others; env: how many variables
start with the prefix (names only); sops: the file exists, it and every age key file in use are
private to their owner (else: the chmod to run), an available identity opens it with the MAC
verified, and its recipients. Values are never printed.

Examples:
  secret-cascade doctor
  secret-cascade doctor --config ./secret-cascade.yml --json

Exit codes:
  0  no check failed (warnings are printed; with --strict, a warning fails too)
  1  a check failed (or, with --strict, warned), an invalid or missing config included
     (reporting it is the point, so it is not the usual config error 2)
  2  usage error";

#[derive(Args)]
pub(crate) struct DoctorArgs {
    /// The config file [default: $SECRET_CASCADE_CONFIG, ./secret-cascade.yml,
    /// $XDG_CONFIG_HOME/secret-cascade/config.yml, else kstlib's kstlib.conf.yml, else the environment only].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Print {"ok","config","layers":[{"label","checks":[{"status","subject","message"}]}]}.
    #[arg(long)]
    json: bool,

    /// Exit 1 on a warning too, not only on a failure.
    #[arg(long)]
    strict: bool,
}

pub(crate) fn run(args: DoctorArgs) -> Result<(), Failure> {
    let diagnosis = match &args.config {
        Some(path) => Diagnosis::of_config_file(path),
        None => Diagnosis::discover(),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &JsonDiagnosis::new(&diagnosis))
            .map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    } else {
        write_human(&mut out, &diagnosis)?;
    }
    out.flush()?;
    let failed = match diagnosis.status() {
        Status::Ok => false,
        Status::Warn => args.strict,
        _ => true,
    };
    if !failed {
        Ok(())
    } else {
        Err(Failure {
            message: String::new(),
            code: 1,
        })
    }
}

/// Each layer's label, then one line per check (`ok    file  ...`) with the subjects aligned
/// within the layer, then a summary.
fn write_human(out: &mut impl Write, diagnosis: &Diagnosis) -> std::io::Result<()> {
    let mut tally = [0usize; 3];
    for layer in diagnosis.layers() {
        writeln!(out, "{}", layer.label())?;
        if layer.checks().is_empty() {
            writeln!(out, "  -     this kind of layer has no checks")?;
        }
        let width = layer
            .checks()
            .iter()
            .map(|check| check.subject().len())
            .max()
            .unwrap_or(0);
        for check in layer.checks() {
            let (word, slot) = match check.status() {
                Status::Ok => ("ok", 0),
                Status::Warn => ("warn", 1),
                _ => ("FAIL", 2),
            };
            tally[slot] += 1;
            writeln!(
                out,
                "  {word:<5} {:<width$}  {}",
                check.subject(),
                check.message()
            )?;
        }
    }
    let [ok, warnings, failures] = tally;
    let total = ok + warnings + failures;
    if warnings + failures == 0 {
        writeln!(out, "\nall {total} checks ok")
    } else {
        writeln!(
            out,
            "\n{failures} failed, {warnings} warned, {ok} ok of {total} checks"
        )
    }
}

/// The `--json` shape of a diagnosis.
#[derive(serde::Serialize)]
struct JsonDiagnosis<'a> {
    ok: bool,
    config: Option<String>,
    layers: Vec<JsonLayer<'a>>,
}

#[derive(serde::Serialize)]
struct JsonLayer<'a> {
    label: &'a str,
    checks: Vec<JsonCheck<'a>>,
}

#[derive(serde::Serialize)]
struct JsonCheck<'a> {
    status: &'static str,
    subject: &'a str,
    message: &'a str,
}

impl<'a> JsonDiagnosis<'a> {
    fn new(diagnosis: &'a Diagnosis) -> Self {
        Self {
            ok: diagnosis.is_ok(),
            config: diagnosis.config().map(|path| path.display().to_string()),
            layers: diagnosis.layers().iter().map(JsonLayer::new).collect(),
        }
    }
}

impl<'a> JsonLayer<'a> {
    fn new(layer: &'a LayerDiagnosis) -> Self {
        Self {
            label: layer.label(),
            checks: layer.checks().iter().map(JsonCheck::new).collect(),
        }
    }
}

impl<'a> JsonCheck<'a> {
    fn new(check: &'a Check) -> Self {
        Self {
            status: check.status().as_str(),
            subject: check.subject(),
            message: check.message(),
        }
    }
}
