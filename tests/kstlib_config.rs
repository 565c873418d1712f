//! kstlib users switch with no file changed: the `kstlib.conf.yml` files a kstlib user has
//! (written here into a sandboxed `$HOME`, current directory and `$XDG_CONFIG_DIRS`) are read by
//! `secret-cascade get` when there is no secret-cascade config, and by the real kstlib 3.8.2's
//! `resolve_secret` on the same files and environment: every name must give the same value from
//! the same source, for environment variables (prefix, scopes, hyphens, dots), the keyring (through
//! Python's `keyring` on a private Secret Service) and SOPS (a file the real sops 3.11 wrote;
//! kstlib shells out to it).
//!
//! Needs `$KSTLIB_PYTHON` (`export KSTLIB_PYTHON=$(scripts/install-kstlib)`), `$SOPS_BIN`
//! (`scripts/install-sops`), and for the keyring test the tools of `scripts/with-secret-service`;
//! `scripts/test` provides them all. A missing one fails the test.

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;
use support::Sandbox;
use support::secret_service::{SecretService, WATCHDOG};

/// Resolves each request of the JSON list in argv[1] (`[name, scope, default]`) with kstlib's
/// `resolve_secret`, printing one JSON list of `{value, source}` or `{error}`; a non-string
/// value is printed as compact JSON, as secret-cascade prints it.
const PY_RESOLVE: &str = r#"import json, sys
from kstlib.secrets import resolve_secret
from kstlib.secrets.exceptions import SecretNotFoundError
out = []
for name, scope, default in json.loads(sys.argv[1]):
    try:
        record = resolve_secret(name, scope=scope, default=default)
    except SecretNotFoundError:
        out.append({"error": "not found"})
        continue
    value = record.value
    if not isinstance(value, str):
        value = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    out.append({"value": value, "source": record.source.value})
print(json.dumps(out))
"#;

/// One name to resolve.
struct Ask {
    name: &'static str,
    scope: Option<&'static str>,
    default: Option<&'static str>,
}

const fn ask(name: &'static str) -> Ask {
    Ask {
        name,
        scope: None,
        default: None,
    }
}

impl Ask {
    const fn scope(mut self, scope: &'static str) -> Self {
        self.scope = Some(scope);
        self
    }

    const fn default(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }
}

/// A kstlib user's machine: `home/`, the working folder `work/`, system folders `xdg/`, and the
/// environment both sides see.
struct Machine {
    sandbox: Sandbox,
    env: Vec<(String, String)>,
    bus: Option<String>,
}

impl Machine {
    fn new() -> Self {
        let sandbox = Sandbox::new();
        for dir in ["home/.config", "work", "xdg", "run"] {
            std::fs::create_dir_all(sandbox.path().join(dir)).unwrap();
        }
        Self {
            sandbox,
            env: Vec::new(),
            bus: None,
        }
    }

    fn home(&self) -> PathBuf {
        self.sandbox.path().join("home")
    }

    fn work(&self) -> PathBuf {
        self.sandbox.path().join("work")
    }

    /// Writes `text` at `path` relative to the sandbox.
    fn write(&self, path: &str, text: &str) -> PathBuf {
        self.sandbox.write(path, text)
    }

    fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The environment shared by both sides: HOME, system config folders, the working folder,
    /// the variables set, sops on PATH with the fixtures' age key, and the bus (or none).
    fn configure(&self, cmd: &mut Command) {
        let sops_dir = support::sops_bin().parent().unwrap();
        let path = format!("{}:/usr/bin:/bin", sops_dir.display());
        cmd.env_clear()
            .current_dir(self.work())
            .env("PATH", path)
            .env("HOME", self.home())
            .env("XDG_CONFIG_DIRS", self.sandbox.path().join("xdg"))
            .env("XDG_RUNTIME_DIR", self.sandbox.path().join("run"))
            .env("SOPS_AGE_KEY_FILE", fixture("key.txt"))
            .env("SOPS_DISABLE_VERSION_CHECK", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .timeout(WATCHDOG);
        match &self.bus {
            Some(bus) => {
                cmd.env("DBUS_SESSION_BUS_ADDRESS", bus).env(
                    "PYTHON_KEYRING_BACKEND",
                    "keyring.backends.SecretService.Keyring",
                );
            }
            // No keyring: ours is unavailable (no bus), Python's answers nothing.
            None => {
                cmd.env("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring");
            }
        }
    }

    /// What `secret-cascade get --json` answers for each request: `{value, source}` or `{error}`.
    fn ours(&self, asks: &[Ask]) -> Vec<serde_json::Value> {
        asks.iter()
            .map(|ask| {
                let mut cmd = Command::cargo_bin("secret-cascade").unwrap();
                self.configure(&mut cmd);
                cmd.args(["get", ask.name, "--json"]);
                if let Some(scope) = ask.scope {
                    cmd.args(["--scope", scope]);
                }
                if let Some(default) = ask.default {
                    cmd.args(["--default", default]);
                }
                let (code, stdout, stderr) = support::run(&mut cmd);
                match code {
                    0 => {
                        let record: serde_json::Value = serde_json::from_str(&stdout)
                            .unwrap_or_else(|e| panic!("get --json printed {stdout:?}: {e}"));
                        serde_json::json!({
                            "value": record["value"],
                            "source": record["source"],
                        })
                    }
                    1 => serde_json::json!({"error": "not found"}),
                    _ => panic!("get {} exited with {code}: {stderr}", ask.name),
                }
            })
            .collect()
    }

    /// What kstlib 3.8.2 answers, its source names mapped to ours (`environment` is `env`).
    fn kstlib(&self, asks: &[Ask]) -> Vec<serde_json::Value> {
        let requests: Vec<_> = asks
            .iter()
            .map(|a| serde_json::json!([a.name, a.scope, a.default]))
            .collect();
        let mut cmd = Command::new(kstlib_python());
        self.configure(&mut cmd);
        cmd.args(["-c", PY_RESOLVE, &serde_json::to_string(&requests).unwrap()]);
        let (code, stdout, stderr) = support::run(&mut cmd);
        assert_eq!(code, 0, "kstlib failed: {stdout}{stderr}");
        let mut answers: Vec<serde_json::Value> =
            serde_json::from_str(stdout.lines().last().unwrap_or_default())
                .unwrap_or_else(|e| panic!("kstlib printed {stdout:?}: {e}"));
        for answer in &mut answers {
            if answer["source"] == "environment" {
                answer["source"] = "env".into();
            }
        }
        answers
    }

    /// Both sides answer every request alike; returns the answers.
    fn assert_same(&self, asks: &[Ask]) -> Vec<serde_json::Value> {
        let ours = self.ours(asks);
        let theirs = self.kstlib(asks);
        for ((ask, ours), theirs) in asks.iter().zip(&ours).zip(&theirs) {
            assert_eq!(
                ours, theirs,
                "{} (scope {:?}): ours, then kstlib's",
                ask.name, ask.scope
            );
        }
        ours
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sops")
        .join(name)
}

/// `$KSTLIB_PYTHON`, checked once to import kstlib 3.8.2.
fn kstlib_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let path = std::env::var_os("KSTLIB_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                panic!(
                    "KSTLIB_PYTHON is not set: these tests compare with the real kstlib 3.8.2. \
                     Run `export KSTLIB_PYTHON=$(scripts/install-kstlib)` first (scripts/test \
                     does this)."
                )
            });
        let output = std::process::Command::new(&path)
            .args([
                "-c",
                "from importlib.metadata import version; print(version('kstlib'))",
            ])
            .output()
            .unwrap_or_else(|e| panic!("KSTLIB_PYTHON={} does not run: {e}", path.display()));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "3.8.2",
            "KSTLIB_PYTHON={} does not import kstlib 3.8.2: {}; reinstall with scripts/install-kstlib",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        path
    })
}

fn value(answer: &serde_json::Value) -> &str {
    answer["value"].as_str().unwrap_or_default()
}

#[test]
fn environment_names_with_the_packaged_defaults_scopes_hyphens_and_dots() {
    let mut machine = Machine::new();
    // Only a name: the providers are kstlib's packaged ones (environment KSTLIB, keyring kstlib).
    machine.write("home/.config/kstlib.conf.yml", "secrets:\n  name: mine\n");
    machine
        .set("KSTLIB__SMTP__PASSWORD", "env-pw")
        .set("KSTLIB__MAIL__SMTP-HOST", "smtp.example")
        .set("KSTLIB__MAIL__SMTP_PORT", "587")
        .set("KSTLIB__API-KEY", "api-1")
        .set("KSTLIB__A__B__X__Y", "dotted-scope")
        .set("KSTLIB__EMPTY", "")
        .set("kstlib__lower", "not-for-kstlib");
    let answers = machine.assert_same(&[
        ask("smtp.password"),
        ask("smtp-host").scope("mail"),
        // A hyphen is not an underscore to kstlib: `smtp-port` misses `SMTP_PORT`.
        ask("smtp-port").scope("mail").default("fallback"),
        ask("smtp_port").scope("mail"),
        ask("api-key"),
        ask("x.y").scope("a.b"),
        ask("empty"),
        ask("lower").default("d"),
        ask("nowhere"),
    ]);
    assert_eq!(value(&answers[0]), "env-pw");
    assert_eq!(value(&answers[1]), "smtp.example");
    assert_eq!(answers[2]["source"], "default");
    assert_eq!(value(&answers[3]), "587");
    assert_eq!(answers[8], serde_json::json!({"error": "not found"}));
}

#[test]
fn files_merge_in_kstlibs_order_lists_replace_and_includes_come_first() {
    let mut machine = Machine::new();
    machine.write(
        "xdg/kstlib/kstlib.conf.yml",
        "secrets:\n  providers:\n    - name: environment\n      settings: {prefix: SYSTEM}\n",
    );
    // ~/.config replaces the system list; ~ only adds a name; ./ includes a file whose list the
    // including file's own `sops:` merges over without replacing it.
    machine.write(
        "home/.config/kstlib.conf.yml",
        "secrets:\n  providers:\n    - name: environment\n      settings:\n        prefix: USER_\n        delimiter: \"_\"\n",
    );
    machine.write(
        "home/kstlib.conf.yml",
        "mail:\n  host: x\nsecrets:\n  name: home\n",
    );
    machine.write(
        "work/kstlib.conf.yml",
        "include: conf.d/secrets.yml\nsecrets:\n  sops:\n    max_cache_entries: 8\n",
    );
    machine.write(
        "work/conf.d/secrets.yml",
        "secrets:\n  providers:\n    - name: environment\n      settings: {prefix: PROJECT, delimiter: \"__\"}\n",
    );
    machine
        .set("SYSTEM__TOKEN", "system")
        .set("USER_TOKEN", "user")
        .set("PROJECT__TOKEN", "project")
        .set("USER_ONLY", "user-only");
    let answers = machine.assert_same(&[ask("token"), ask("only").default("none")]);
    assert_eq!(value(&answers[0]), "project");
    assert_eq!(value(&answers[1]), "none");
}

#[test]
fn sops_files_as_a_provider_and_as_the_sops_section() {
    let mut machine = Machine::new();
    std::fs::copy(
        fixture("enc/nested.yaml"),
        machine.work().join("secrets.sops.yaml"),
    )
    .unwrap();
    machine.write(
        "work/kstlib.conf.yml",
        "secrets:\n  providers:\n    - name: environment\n    - name: sops\n      settings:\n        path: secrets.sops.yaml\n",
    );
    machine.set("KSTLIB__TOKEN", "from-env");
    let asks = [
        ask("database.user"),
        ask("database.password"),
        ask("database.port"),
        ask("database.ratio"),
        ask("database.enabled"),
        ask("database.unicode"),
        ask("api.token"),
        // The environment comes first.
        ask("token"),
        // null is a miss; an empty string is a hit.
        ask("database.nothing").default("d"),
        ask("database.empty"),
        ask("database.absent").default("d"),
    ];
    let answers = machine.assert_same(&asks);
    assert_eq!(value(&answers[1]), "s3cr3t");
    assert_eq!(answers[1]["source"], "sops");
    assert_eq!(value(&answers[2]), "5432");
    assert_eq!(value(&answers[7]), "from-env");

    // No `providers` list (an empty one): kstlib's default chain, then `sops.path`.
    machine.write(
        "work/kstlib.conf.yml",
        "secrets:\n  providers: []\n  sops:\n    path: secrets.sops.yaml\n    binary: sops\n    format: auto\n",
    );
    let answers = machine.assert_same(&asks);
    assert_eq!(value(&answers[0]), "admin");
}

#[test]
fn sops_path_beside_the_packaged_providers_is_consulted_unlike_kstlib() {
    // kstlib's packaged `providers` make it ignore `sops.path`; KSTLIB_REFERENCE decides that a
    // configured file is consulted.
    let machine = Machine::new();
    std::fs::copy(
        fixture("enc/nested.yaml"),
        machine.work().join("s.sops.yaml"),
    )
    .unwrap();
    machine.write(
        "work/kstlib.conf.yml",
        "secrets:\n  sops:\n    path: s.sops.yaml\n",
    );
    let ours = machine.ours(&[ask("database.user")]);
    let theirs = machine.kstlib(&[ask("database.user")]);
    assert_eq!(
        ours[0],
        serde_json::json!({"value": "admin", "source": "sops"})
    );
    assert_eq!(theirs[0], serde_json::json!({"error": "not found"}));
}

#[test]
fn keyring_entries_kstlib_names_on_a_secret_service() {
    let service = SecretService::start();
    let mut machine = Machine::new();
    machine.bus = Some(service.address.clone());
    machine.write("home/kstlib.conf.yml", "secrets:\n  name: kr\n");
    let mut write = Command::new(kstlib_python());
    machine.configure(&mut write);
    write.args([
        "-c",
        "import keyring
keyring.set_password('kstlib', 'default:smtp.user', 'kr-user')
keyring.set_password('kstlib', 'mail:smtp-host', 'kr-host')
keyring.set_password('other', 'default:smtp.user', 'other-service')",
    ]);
    let (code, stdout, stderr) = support::run(&mut write);
    assert_eq!(code, 0, "python keyring failed: {stdout}{stderr}");
    machine.set("KSTLIB__ENV__FIRST", "env-first");
    let answers = machine.assert_same(&[
        ask("smtp.user"),
        ask("smtp-host").scope("mail"),
        ask("first").scope("env"),
        ask("smtp.host").default("d"),
    ]);
    assert_eq!(
        answers[0],
        serde_json::json!({"value": "kr-user", "source": "keyring"})
    );
    assert_eq!(value(&answers[1]), "kr-host");

    // Another service, as a kstlib user configures it.
    machine.write(
        "work/kstlib.conf.yml",
        "secrets:\n  providers:\n    - name: keyring\n      settings: {service: other}\n",
    );
    let answers = machine.assert_same(&[ask("smtp.user")]);
    assert_eq!(value(&answers[0]), "other-service");
}

#[test]
fn a_secret_cascade_config_wins_and_a_file_without_secrets_is_not_taken() {
    let mut machine = Machine::new();
    machine
        .set("KSTLIB__TOKEN", "kstlib-name")
        .set("TOKEN", "plain-name");
    // kstlib's file says nothing about secrets: our default chain (no prefix).
    machine.write("work/kstlib.conf.yml", "mail:\n  host: x\n");
    assert_eq!(value(&machine.ours(&[ask("token")])[0]), "plain-name");
    machine.write("work/kstlib.conf.yml", "secrets:\n  name: k\n");
    assert_eq!(value(&machine.ours(&[ask("token")])[0]), "kstlib-name");
    machine.write(
        "work/secret-cascade.yml",
        "providers:\n  - kind: env\n    prefix: NONE\n",
    );
    assert_eq!(
        machine.ours(&[ask("token")])[0],
        serde_json::json!({"error": "not found"})
    );
}

#[test]
fn doctor_and_errors_say_it_is_kstlibs_config() {
    let machine = Machine::new();
    let file = machine.write(
        "home/.config/kstlib.conf.yml",
        "secrets:\n  providers:\n    - name: environment\n      settings:\n        prefx: A\n",
    );
    let mut get = Command::cargo_bin("secret-cascade").unwrap();
    machine.configure(&mut get);
    let (code, _, stderr) = support::run(get.args(["get", "token"]));
    assert_ne!(code, 0);
    assert!(
        stderr.contains(&file.display().to_string())
            && stderr.contains("line 5")
            && stderr.contains("`secrets.providers[0].settings.prefx`")
            && stderr.contains("unknown key"),
        "{stderr}"
    );

    machine.write(
        "home/.config/kstlib.conf.yml",
        "secrets:\n  providers:\n    - name: environment\n",
    );
    let mut doctor = Command::cargo_bin("secret-cascade").unwrap();
    machine.configure(&mut doctor);
    let (code, stdout, stderr) = support::run(doctor.arg("doctor"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("using kstlib's `secrets:` section from")
            && stdout.contains(&file.display().to_string()),
        "{stdout}"
    );
}

#[test]
fn the_library_reads_a_named_kstlib_file() {
    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "kstlib.conf.yml",
        "secrets:\n  name: lib\n  providers:\n    - name: environment\n      settings: {prefix: KSTLIB_LIB_TEST}\n",
    );
    let resolver = secret_cascade::Resolver::from_kstlib_config(&file).unwrap();
    assert_eq!(resolver.name(), "lib");
    assert_eq!(resolver.layers().collect::<Vec<_>>(), ["env"]);
    let bad = sandbox.write("bad.yml", "secrets:\n  providers:\n    - name: vault\n");
    let err = secret_cascade::Resolver::from_kstlib_config(&bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.yml") && err.contains("`secrets.providers[0].name`"),
        "{err}"
    );
}

#[test]
fn system_folders_in_xdg_config_dirs_order_the_first_listed_winning() {
    let mut machine = Machine::new();
    let first = machine.sandbox.path().join("sys-first");
    let second = machine.sandbox.path().join("sys-second");
    for (dir, prefix) in [(&first, "FIRST"), (&second, "SECOND")] {
        machine.write(
            &format!("{}/kstlib/kstlib.conf.yml", dir.file_name().unwrap().to_str().unwrap()),
            &format!("secrets:\n  providers:\n    - name: environment\n      settings: {{prefix: {prefix}}}\n"),
        );
    }
    // A relative entry is not a folder platformdirs uses.
    machine.write(
        "work/rel/kstlib/kstlib.conf.yml",
        "secrets:\n  providers:\n    - name: environment\n      settings: {prefix: RELATIVE}\n",
    );
    let dirs = format!("{}:rel:{}", first.display(), second.display());
    machine
        .set("XDG_CONFIG_DIRS", &dirs)
        .set("FIRST__TOKEN", "first")
        .set("SECOND__TOKEN", "second")
        .set("RELATIVE__TOKEN", "relative");
    let answers = machine.assert_same(&[ask("token")]);
    assert_eq!(value(&answers[0]), "first");
}

#[test]
fn includes_kstlib_refuses_are_refused_and_those_we_cannot_read_say_so() {
    let machine = Machine::new();
    let get = || {
        let mut cmd = Command::cargo_bin("secret-cascade").unwrap();
        machine.configure(&mut cmd);
        cmd.args(["get", "token"]);
        let (code, _, stderr) = support::run(&mut cmd);
        assert_eq!(code, 2, "{stderr}");
        stderr
    };
    machine.write("outside.yml", "secrets:\n  name: outside\n");
    machine.write(
        "work/kstlib.conf.yml",
        "include: ../outside.yml\nsecrets: {}\n",
    );
    assert!(get().contains("outside this file's folder"));
    machine.write("work/more.toml", "[secrets]\nname = \"t\"\n");
    machine.write(
        "work/kstlib.conf.yml",
        "include: [more.toml]\nsecrets: {}\n",
    );
    assert!(get().contains("only YAML and JSON includes are read here"));
    machine.write("work/a.yml", "include: kstlib.conf.yml\n");
    machine.write("work/kstlib.conf.yml", "include: a.yml\nsecrets: {}\n");
    assert!(get().contains("circular include"));
}
