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
        let port = free_port();
        let child = Command::new(bao_bin())
            .args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={ROOT_TOKEN}"),
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
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
            .build()
            .new_agent();
        let mut server = Self {
            child,
            address: format!("http://127.0.0.1:{port}"),
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("bao server -dev exited at start: {status}");
            }
            if server.api("GET", "sys/health", None, None).0 == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "the dev server never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
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
