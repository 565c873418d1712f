//! A real OpenBao dev server per test, on a free port of 127.0.0.1, stopped (and reaped) on drop.
//! `$BAO_BIN` names the `bao` binary (scripts/install-openbao); without it the test fails loudly.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The dev server's root token.
pub const ROOT_TOKEN: &str = "root-token-for-tests";

/// A running `bao server -dev`.
pub struct DevServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    agent: ureq::Agent,
}

/// `$BAO_BIN`, checked once to be OpenBao 2.x.
pub fn bao_bin() -> &'static PathBuf {
    static BAO: OnceLock<PathBuf> = OnceLock::new();
    BAO.get_or_init(|| {
        let path = std::env::var_os("BAO_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                panic!(
                    "BAO_BIN is not set: these tests need the real OpenBao. Run `export \
                 BAO_BIN=$(scripts/install-openbao)` first (scripts/test does this)."
                )
            });
        let output = Command::new(&path)
            .arg("version")
            .output()
            .unwrap_or_else(|e| panic!("BAO_BIN={} does not run: {e}", path.display()));
        assert!(
            String::from_utf8_lossy(&output.stdout).starts_with("OpenBao v2."),
            "BAO_BIN={} is not OpenBao 2.x",
            path.display()
        );
        path
    })
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}

impl DevServer {
    /// Starts a dev server (KV v2 at `secret/`) and waits until it answers.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts a dev server serving HTTPS with a CA it generates into `cert_dir`
    /// (`vault-ca.pem`), and waits until it answers.
    pub fn start_tls(cert_dir: &std::path::Path) -> Self {
        Self::start_with(Some(cert_dir))
    }

    fn start_with(cert_dir: Option<&std::path::Path>) -> Self {
        // A dev server also listens on the next port (its cluster address), which a server that
        // another test starts at the same moment may have taken: then it exits, and a new port is
        // tried.
        for _ in 0..5 {
            if let Some(server) = Self::try_start(cert_dir) {
                return server;
            }
        }
        panic!("bao server -dev exited at start five times, on five ports");
    }

    /// A dev server on a free port, or `None` if it exited at start.
    fn try_start(cert_dir: Option<&std::path::Path>) -> Option<Self> {
        let port = free_port();
        let mut command = Command::new(bao_bin());
        command.args([
            "server",
            "-dev",
            &format!("-dev-root-token-id={ROOT_TOKEN}"),
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ]);
        if let Some(dir) = cert_dir {
            command
                .arg("-dev-tls")
                .arg(format!("-dev-tls-cert-dir={}", dir.display()));
        }
        let child = command
            .env_remove("VAULT_TOKEN")
            .env_remove("BAO_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bao server -dev starts");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .disable_verification(cert_dir.is_some())
                    .build(),
            )
            .build()
            .new_agent();
        let scheme = if cert_dir.is_some() { "https" } else { "http" };
        let mut server = Self {
            child,
            address: format!("{scheme}://127.0.0.1:{port}"),
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(_)) = server.child.try_wait() {
                return None;
            }
            if server.api("GET", "sys/health", None, None).0 == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "the dev server never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    /// One API call as root (or with `token`): (status, body as JSON or null).
    pub fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        token: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}/v1/{path}", self.address))
            .header("X-Vault-Token", token.unwrap_or(ROOT_TOKEN))
            .body(body.map(|b| b.to_string()).unwrap_or_default())
            .unwrap();
        match self.agent.run(request) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let text = response.body_mut().read_to_string().unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or_default())
            }
            Err(_) => (0, serde_json::Value::Null),
        }
    }

    /// Writes the KV v2 secret `path` under `secret/` with `data`.
    pub fn put(&self, path: &str, data: serde_json::Value) {
        let (status, body) = self.api(
            "POST",
            &format!("secret/data/{path}"),
            Some(serde_json::json!({ "data": data })),
            None,
        );
        assert_eq!(status, 200, "writing {path}: {body}");
    }

    /// A token whose policy may only read `secret/data/<prefix>*`.
    pub fn token_reading(&self, prefix: &str) -> String {
        let policy = format!("path \"secret/data/{prefix}*\" {{ capabilities = [\"read\"] }}");
        let name = prefix.replace('/', "-");
        let (status, body) = self.api(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(serde_json::json!({ "policy": policy })),
            None,
        );
        assert!(status == 204 || status == 200, "policy: {body}");
        let (status, body) = self.api(
            "POST",
            "auth/token/create",
            Some(serde_json::json!({ "policies": [name], "ttl": "1h" })),
            None,
        );
        assert_eq!(status, 200, "token: {body}");
        body["auth"]["client_token"].as_str().unwrap().to_owned()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A 3-node OpenBao Raft cluster on 127.0.0.1 (tests/openbao/raft-node.hcl), initialised,
/// unsealed, with KV v2 at `secret/`. Every node is killed and reaped on drop.
pub struct Cluster {
    dir: tempfile::TempDir,
    nodes: Vec<Node>,
    unseal_key: String,
    /// The root token.
    pub token: String,
}

/// One node: its API address and its process, if running.
pub struct Node {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    config: PathBuf,
    child: Option<Child>,
}

impl Cluster {
    /// Starts three nodes, initialises the first, joins the others, enables KV v2; about 25 s.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let template = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openbao/raft-node.hcl"),
        )
        .unwrap();
        let nodes = (1..=3)
            .map(|n| {
                let (api, cluster) = (free_port(), free_port());
                let data = dir.path().join(format!("n{n}"));
                std::fs::create_dir(&data).unwrap();
                let config = dir.path().join(format!("n{n}.hcl"));
                let text = template
                    .replace("{data}", &data.display().to_string())
                    .replace("{node}", &format!("n{n}"))
                    .replace("{api_port}", &api.to_string())
                    .replace("{cluster_port}", &cluster.to_string());
                std::fs::write(&config, text).unwrap();
                Node {
                    address: format!("http://127.0.0.1:{api}"),
                    config,
                    child: None,
                }
            })
            .collect();
        let mut cluster = Self {
            dir,
            nodes,
            unseal_key: String::new(),
            token: String::new(),
        };
        cluster.spawn(0);
        cluster.wait_health(0, &[501], Duration::from_secs(30));
        let init = cluster.bao(
            0,
            &[
                "operator",
                "init",
                "-key-shares=1",
                "-key-threshold=1",
                "-format=json",
            ],
        );
        let init: serde_json::Value = serde_json::from_str(&init).expect("init prints JSON");
        cluster.unseal_key = init["unseal_keys_b64"][0].as_str().unwrap().to_owned();
        cluster.token = init["root_token"].as_str().unwrap().to_owned();
        cluster.unseal(0);
        cluster.wait_health(0, &[200], Duration::from_secs(30));
        for n in 1..3 {
            cluster.spawn(n);
            cluster.wait_health(n, &[501, 503], Duration::from_secs(30));
            let leader = cluster.nodes[0].address.clone();
            cluster.bao(n, &["operator", "raft", "join", &leader]);
            cluster.unseal(n);
            cluster.wait_health(n, &[429], Duration::from_secs(60));
        }
        // The joined nodes vote only once autopilot promotes them (about 10 s): until then the
        // loss of the leader would leave no quorum.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let state = cluster.bao(
                0,
                &["operator", "raft", "autopilot", "state", "-format=json"],
            );
            let state: serde_json::Value = serde_json::from_str(&state).unwrap_or_default();
            if state["FailureTolerance"].as_u64().unwrap_or(0) >= 1 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "autopilot never reached failure tolerance 1"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        cluster.bao(0, &["secrets", "enable", "-path=secret", "kv-v2"]);
        // Standbys answer 400 "Waiting for the primary to upgrade" for a moment after that.
        let deadline = Instant::now() + Duration::from_secs(60);
        'settle: loop {
            let ready =
                (0..3).all(|n| matches!(cluster.api(n, "GET", "secret/config", None).0, 200 | 404));
            if ready {
                break 'settle;
            }
            assert!(
                Instant::now() < deadline,
                "KV v2 never became ready on every node"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        cluster
    }

    /// The nodes' addresses, in order.
    pub fn addresses(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.address.clone()).collect()
    }

    /// The index of the active node, if one is active.
    pub fn leader(&self) -> Option<usize> {
        (0..3).find(|&n| self.nodes[n].child.is_some() && self.health(n) == 200)
    }

    /// SIGKILLs node `n` (and reaps it).
    pub fn kill(&mut self, n: usize) {
        if let Some(mut child) = self.nodes[n].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `n` again and unseals it; it rejoins as a standby.
    pub fn restart(&mut self, n: usize) {
        self.spawn(n);
        self.wait_health(n, &[503, 501], Duration::from_secs(30));
        self.unseal(n);
    }

    /// Stops every node.
    pub fn stop_all(&mut self) {
        for n in 0..3 {
            self.kill(n);
        }
    }

    fn spawn(&mut self, n: usize) {
        let log = std::fs::File::create(self.dir.path().join(format!("n{}.log", n + 1))).unwrap();
        let child = Command::new(bao_bin())
            .args(["server", "-config"])
            .arg(&self.nodes[n].config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("bao server starts");
        self.nodes[n].child = Some(child);
    }

    fn unseal(&self, n: usize) {
        self.bao(n, &["operator", "unseal", &self.unseal_key]);
    }

    /// Runs `bao ARGS` against node `n` with the root token; its stdout.
    fn bao(&self, n: usize, args: &[&str]) -> String {
        let output = Command::new(bao_bin())
            .args(args)
            .env("BAO_ADDR", &self.nodes[n].address)
            .env("BAO_TOKEN", &self.token)
            .env_remove("VAULT_TOKEN")
            .output()
            .expect("bao runs");
        assert!(
            output.status.success(),
            "bao {} on n{}: {}",
            args.first().unwrap_or(&""),
            n + 1,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn health(&self, n: usize) -> u16 {
        self.api(n, "GET", "sys/health", None).0
    }

    fn wait_health(&self, n: usize, wanted: &[u16], limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let status = self.health(n);
            if wanted.contains(&status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "n{} answered {status} to its health check, not {wanted:?}",
                n + 1
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn api(
        &self,
        n: usize,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .new_agent();
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}/v1/{path}", self.nodes[n].address))
            .header("X-Vault-Token", &self.token)
            .body(body.map(|b| b.to_string()).unwrap_or_default())
            .unwrap();
        match agent.run(request) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let text = response.body_mut().read_to_string().unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or_default())
            }
            Err(_) => (0, serde_json::Value::Null),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_all();
    }
}
