//! A real moto server (a local AWS: KMS, IAM, STS) per test, on a free port of 127.0.0.1, that
//! checks signatures and IAM policies like AWS: every request must be signed with an access key
//! it issued. Stopped (and reaped) on drop. `$MOTO_SERVER` names the `moto_server` script
//! (scripts/install-moto); without it the test fails loudly.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::openbao::free_port;

/// The region of the test keys.
pub const REGION: &str = "eu-west-1";

/// A running `moto_server` with IAM authentication on, a user allowed everything and its key.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The access key id of the user allowed everything.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: String,
    /// The access key id and secret of a user who may only assume [`ROLE_ARN`].
    pub role_only_key: (String, String),
    /// The ARN of a symmetric KMS key in [`REGION`].
    pub key_arn: String,
    agent: ureq::Agent,
}

/// Requests moto serves before it checks signatures: the nine calls of the setup.
const SETUP_REQUESTS: usize = 9;

/// A role the user may assume, itself allowed everything.
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/sops-role";

impl Moto {
    /// Starts moto, creates a user with a policy allowing everything, a role ([`ROLE_ARN`]) with
    /// the same policy, an access key for the user, a second user who may only assume the role
    /// (and its key), and a KMS key; every later request must be signed with one of those keys
    /// (or with credentials of the role assumed with one).
    pub fn start() -> Self {
        let program = std::env::var_os("MOTO_SERVER").unwrap_or_else(|| {
            panic!(
                "MOTO_SERVER is not set: these tests need a local AWS (moto). Run `export \
                 MOTO_SERVER=$(scripts/install-moto)` first (scripts/test does this)."
            )
        });
        let port = free_port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", SETUP_REQUESTS.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("MOTO_SERVER={program:?} does not start: {e}"));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .new_agent();
        let mut moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            key_arn: String::new(),
            role_only_key: (String::new(), String::new()),
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        // A connection, not a request: requests would use up the unauthenticated ones.
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "moto_server never answered");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto.iam("Action=CreateUser&UserName=sops&Version=2010-05-08");
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        moto.iam(&format!(
            "Action=PutUserPolicy&UserName=sops&PolicyName=all&Version=2010-05-08&PolicyDocument={}",
            form_encode(policy)
        ));
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
        moto.iam(&format!(
            "Action=CreateRole&RoleName=sops-role&Version=2010-05-08&AssumeRolePolicyDocument={}",
            form_encode(trust)
        ));
        moto.iam(&format!(
            "Action=PutRolePolicy&RoleName=sops-role&PolicyName=all&Version=2010-05-08&PolicyDocument={}",
            form_encode(policy)
        ));
        let key = moto.iam("Action=CreateAccessKey&UserName=sops&Version=2010-05-08");
        moto.access_key_id = element(&key, "AccessKeyId");
        moto.secret_access_key = element(&key, "SecretAccessKey");
        moto.iam("Action=CreateUser&UserName=role-only&Version=2010-05-08");
        let assume_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
        moto.iam(&format!(
            "Action=PutUserPolicy&UserName=role-only&PolicyName=assume&Version=2010-05-08&PolicyDocument={}",
            form_encode(assume_only)
        ));
        let key = moto.iam("Action=CreateAccessKey&UserName=role-only&Version=2010-05-08");
        moto.role_only_key = (
            element(&key, "AccessKeyId"),
            element(&key, "SecretAccessKey"),
        );
        moto.key_arn = moto.unauthenticated(
            "kms",
            &[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", "TrentService.CreateKey"),
            ],
            "{}",
        );
        let created: serde_json::Value = serde_json::from_str(&moto.key_arn).unwrap();
        moto.key_arn = created["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
        assert!(moto.key_arn.contains(REGION), "{created}");
        moto
    }

    /// One unauthenticated IAM call (form-encoded `body`): its XML answer.
    fn iam(&self, body: &str) -> String {
        self.unauthenticated(
            "iam",
            &[("content-type", "application/x-www-form-urlencoded")],
            body,
        )
    }

    /// One call of the setup, before moto checks signatures: the answer's body.
    fn unauthenticated(&self, service: &str, headers: &[(&str, &str)], body: &str) -> String {
        let region = if service == "iam" {
            "us-east-1"
        } else {
            REGION
        };
        let mut request = self.agent.post(&self.endpoint).header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=SETUP/20260101/{region}/{service}/aws4_request, \
                 SignedHeaders=host, Signature=00"
            ),
        );
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request.send(body).expect("moto answers");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        assert_eq!(status, 200, "{service} {body}: {text}");
        text
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn element(xml: &str, name: &str) -> String {
    let start = xml.find(&format!("<{name}>")).unwrap() + name.len() + 2;
    let end = xml[start..].find(&format!("</{name}>")).unwrap() + start;
    xml[start..end].to_owned()
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
