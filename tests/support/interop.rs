//! The "run sops vs ours" harness of the interop tests: either tool run in a sandbox with a
//! fixture key file as its only age identities, what the run left behind, and how two outputs
//! differ.
//!
//! Every run sees the sandbox as `$HOME` and `$XDG_CONFIG_HOME`, `SOPS_DISABLE_VERSION_CHECK=1`,
//! `SOPS_AGE_KEY_FILE` set to the chosen keys (or unset), and none of the other variables through
//! which the machine's keys, sops config or our config could reach either tool ([`environment`]
//! lists them).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

use super::{Sandbox, run_bytes, sops_bin};

/// One of the two tools compared.
#[derive(Clone, Copy)]
pub enum Tool {
    Sops,
    Ours,
}

impl Tool {
    /// Runs the tool in the sandbox's folder; see [`Tool::run_in`].
    pub fn run(
        self,
        sandbox: &Sandbox,
        keys: Option<Keys>,
        args: &[impl AsRef<str>],
        stdin: Option<&[u8]>,
    ) -> Run {
        self.run_in(sandbox, sandbox.path(), keys, args, stdin)
    }

    /// Runs the tool with `args` in `cwd`, `keys` as its only age identities, `stdin` as input.
    pub fn run_in(
        self,
        sandbox: &Sandbox,
        cwd: &Path,
        keys: Option<Keys>,
        args: &[impl AsRef<str>],
        stdin: Option<&[u8]>,
    ) -> Run {
        let args: Vec<String> = args.iter().map(|arg| arg.as_ref().to_owned()).collect();
        let mut cmd = self.command(sandbox, cwd, keys);
        cmd.args(&args);
        if let Some(stdin) = stdin {
            cmd.write_stdin(stdin.to_vec());
        }
        self.finish(&mut cmd, args)
    }

    /// `<tool> decrypt` of `file` with `flags`, in the sandbox's folder.
    pub fn decrypt(self, sandbox: &Sandbox, keys: Keys, file: &Path, flags: &[String]) -> Run {
        let file = file.display().to_string();
        let mut args = vec!["decrypt".to_owned()];
        match self {
            // urfave/cli stops reading flags at the first positional argument
            Tool::Sops => args.extend(flags.iter().cloned().chain([file])),
            Tool::Ours => args.extend([file].into_iter().chain(flags.iter().cloned())),
        }
        self.run(sandbox, Some(keys), &args, None)
    }

    /// The tool's command in `cwd` with the environment of every run, for a caller that adds
    /// more before [`Tool::finish`].
    pub fn command(self, sandbox: &Sandbox, cwd: &Path, keys: Option<Keys>) -> Command {
        let mut cmd = match self {
            Tool::Sops => Command::new(sops_bin()),
            Tool::Ours => sandbox.cli(),
        };
        cmd.current_dir(cwd);
        for (key, value) in environment(sandbox, keys) {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd
    }

    /// Runs `cmd`, whose arguments after the program are `args`.
    pub fn finish(self, cmd: &mut Command, args: Vec<String>) -> Run {
        let (code, stdout, stderr) = run_bytes(cmd);
        Run {
            tool: self.name(),
            line: std::iter::once(self.name().to_owned())
                .chain(args)
                .collect::<Vec<_>>()
                .join(" "),
            code,
            stdout,
            stderr,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Tool::Sops => "sops",
            Tool::Ours => "secret-cascade",
        }
    }
}

/// What one run of either tool left behind.
pub struct Run {
    /// `sops` or `secret-cascade`.
    pub tool: &'static str,
    /// The command line, for reports.
    pub line: String,
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    /// "`sops decrypt x` exited 1: <stderr>", for failure reports.
    pub fn failure(&self) -> String {
        let stderr = self.stderr.trim();
        let stderr = if stderr.is_empty() {
            "(nothing on stderr)"
        } else {
            stderr
        };
        format!("`{}` exited {}: {}", self.line, self.code, preview(stderr))
    }

    /// Like [`Run::failure`], for a run whose success is the problem too.
    pub fn outcome(&self) -> String {
        if !self.ok() {
            return self.failure();
        }
        format!(
            "`{}` succeeded, printing {}",
            self.line,
            preview(&String::from_utf8_lossy(&self.stdout))
        )
    }

    /// For setup steps: a failure is a broken test, reported at once.
    #[track_caller]
    pub fn expect_ok(self) -> Self {
        assert!(self.ok(), "{}", self.failure());
        self
    }
}

/// Which fixture key file is `SOPS_AGE_KEY_FILE`.
#[derive(Clone, Copy, Debug)]
pub enum Keys {
    /// `key.txt` (KEY1)
    One,
    /// `key2.txt` (KEY2)
    Two,
    /// `keys_both.txt`
    Both,
}

impl Keys {
    pub fn path(self) -> PathBuf {
        Path::new(FIXTURES).join(match self {
            Keys::One => "key.txt",
            Keys::Two => "key2.txt",
            Keys::Both => "keys_both.txt",
        })
    }
}

/// `fixtures/sops`: the key files, and the sops-written files under `enc/`.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sops");
/// The public key of `fixtures/sops/key.txt` ([`Keys::One`]).
pub const KEY1: &str = "age17qg6tvlhy6l2al555r5a3vzlz0773f8hewax38d8fhphjc6kvy2qdd0hrg";
/// The public key of `fixtures/sops/key2.txt` ([`Keys::Two`]).
pub const KEY2: &str = "age1m6g39qkv4639v75k95evvu9lh474yfld2hxddkdgtxv2dp3mwyjqqtcm4z";

/// The environment of every run: the sandbox as home, `keys` as the only age identities, and no
/// other sops or secret-cascade variable (`None` removes it).
pub fn environment(sandbox: &Sandbox, keys: Option<Keys>) -> Vec<(&'static str, Option<OsString>)> {
    let mut env = vec![
        ("HOME", Some(sandbox.path().join("home").into_os_string())),
        (
            "XDG_CONFIG_HOME",
            Some(sandbox.path().join("xdg").into_os_string()),
        ),
        ("SOPS_DISABLE_VERSION_CHECK", Some("1".into())),
        ("SOPS_AGE_KEY_FILE", keys.map(|k| k.path().into_os_string())),
    ];
    for name in [
        "SOPS_AGE_KEY",
        "SOPS_AGE_KEY_CMD",
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        "SOPS_AGE_RECIPIENTS",
        "SOPS_CONFIG",
        "SECRET_CASCADE_CONFIG",
        "SECRET_CASCADE_LOG",
        "SECRET_CASCADE_PGP_KEY_FILE",
        "SOPS_GPG_EXEC",
        "SOPS_PGP_FP",
    ] {
        env.push((name, None));
    }
    env
}

/// The names of the files in `fixtures/sops/<folder>`, sorted.
pub fn fixture_names(folder: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(FIXTURES).join(folder))
        .unwrap_or_else(|e| panic!("fixtures/sops/{folder} exists: {e}"))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `None` if equal, else where the bytes first differ.
pub fn bytes_difference(expected: &[u8], actual: &[u8]) -> Option<String> {
    let at = first_difference(expected, actual)?;
    let window = |bytes: &[u8]| {
        let start = at.saturating_sub(40);
        String::from_utf8_lossy(&bytes[start..bytes.len().min(at + 40)]).into_owned()
    };
    Some(format!(
        "first difference at byte {at} ({} vs {} bytes): expected …{:?}…, got …{:?}…",
        expected.len(),
        actual.len(),
        window(expected),
        window(actual)
    ))
}

/// `None` if equal, else where the lines first differ, with both texts.
pub fn lines_difference(expected: &[String], actual: &[String]) -> Option<String> {
    let at = first_difference(expected, actual)?;
    Some(format!(
        "first difference at line {}: expected {:?}, got {:?}\n--- expected\n{}\n--- actual\n{}",
        at + 1,
        expected.get(at),
        actual.get(at),
        expected.join("\n"),
        actual.join("\n")
    ))
}

/// `None` if equal, else the index of the first item that differs (or that one side lacks).
fn first_difference<T: PartialEq>(expected: &[T], actual: &[T]) -> Option<usize> {
    if expected == actual {
        return None;
    }
    Some(
        expected
            .iter()
            .zip(actual)
            .position(|(e, a)| e != a)
            .unwrap_or(expected.len().min(actual.len())),
    )
}

/// `text` quoted, cut after 400 characters.
pub fn preview(text: &str) -> String {
    const LIMIT: usize = 400;
    match text.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{:?}...", &text[..end]),
        None => format!("{text:?}"),
    }
}
