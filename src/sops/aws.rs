//! Calling AWS as the SDKs do, for the KMS master keys: credentials from the environment and the
//! shared files, requests signed with Signature Version 4, endpoints from the region or the
//! `AWS_ENDPOINT_URL*` overrides, and STS AssumeRole for a key's `role`.
//!
//! Credentials, in the order of the AWS SDK for Go v2 that sops uses (checked against sops 3.11):
//! 1. the entry's `aws_profile`, when it names one: that profile's `aws_access_key_id`,
//!    `aws_secret_access_key` and `aws_session_token` in the credentials file
//!    (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`, sections `[NAME]`), else in
//!    the config file (`AWS_CONFIG_FILE`, default `~/.aws/config`, sections `[profile NAME]`);
//! 2. else `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (these win over
//!    `AWS_PROFILE`, as in the Go SDK);
//! 3. else the profile `AWS_PROFILE` names, or `default`, of the same files.
//!
//! Not supported (a message says so): SSO, `credential_process`, `role_arn`/`source_profile`
//! profiles, web identity, and the EC2/ECS metadata endpoints. Secrets stay in wiped buffers and
//! appear in no message or `Debug`; messages say where credentials came from.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::bounded_read;

/// How long one AWS call may take, connecting included.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Answers larger than this are refused: KMS and STS answers are small.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;
/// A shared config or credentials file larger than this is refused.
const MAX_SHARED_FILE_BYTES: u64 = 1 << 20;

/// AWS credentials: a key pair, and a session token for temporary ones.
pub(crate) struct Credentials {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
    /// Where they came from, for messages: `AWS_ACCESS_KEY_ID`, `profile dev of ~/.aws/config`.
    pub(crate) source: String,
}

impl Credentials {
    /// The credentials the Go SDK would use with `profile` (the entry's `aws_profile`) named.
    pub(crate) fn discover(profile: Option<&str>) -> Result<Self, AwsError> {
        if let Some(name) = profile {
            return from_profile(name);
        }
        if let (Some(id), Some(secret)) = (
            variable("AWS_ACCESS_KEY_ID"),
            variable("AWS_SECRET_ACCESS_KEY"),
        ) {
            return Ok(Self {
                access_key_id: id,
                secret_access_key: Zeroizing::new(secret),
                session_token: variable("AWS_SESSION_TOKEN").map(Zeroizing::new),
                source: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
            });
        }
        let name = variable("AWS_PROFILE").unwrap_or_else(|| "default".into());
        from_profile(&name).map_err(|e| match e {
            AwsError::NoProfile { profile, looked } => AwsError::NoCredentials { profile, looked },
            other => other,
        })
    }

    /// Temporary credentials from STS AssumeRole of `role`, signed with these.
    pub(crate) fn assume_role(&self, role: &str, region: &str) -> Result<Self, AwsError> {
        let body = Zeroizing::new(format!(
            "Action=AssumeRole&RoleArn={}&RoleSessionName={}&Version=2011-06-15",
            uri_encode(role, true),
            uri_encode(&session_name(), true)
        ));
        let endpoint = endpoint("STS", "sts", region);
        let answer = post(
            &endpoint,
            region,
            "sts",
            self,
            &[(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            body.as_bytes(),
        )?;
        if answer.status != 200 {
            let (code, message) = error_of(&answer.body);
            return Err(AwsError::AssumeRole {
                role: role.to_owned(),
                status: answer.status,
                code,
                message,
            });
        }
        let text = String::from_utf8_lossy(&answer.body);
        let field = |name: &'static str| {
            xml_element(&text, name)
                .map(str::to_owned)
                .ok_or_else(|| AwsError::BadAnswer {
                    operation: "STS AssumeRole",
                    missing: name,
                })
        };
        Ok(Self {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: Zeroizing::new(field("SecretAccessKey")?),
            session_token: Some(Zeroizing::new(field("SessionToken")?)),
            source: format!("role {role} assumed with {}", self.source),
        })
    }
}

/// Why an AWS call could not be made or was refused. Messages name profiles, files, endpoints,
/// roles and where credentials came from, never a secret; failures of the transport and of
/// reading files are kept as sources.
#[derive(Debug)]
pub(crate) enum AwsError {
    /// No credentials anywhere: not in the environment, not in the profile `profile` of the
    /// shared files `looked` at.
    NoCredentials {
        profile: String,
        looked: Vec<PathBuf>,
    },
    /// A named profile is in none of the shared files.
    NoProfile {
        profile: String,
        looked: Vec<PathBuf>,
    },
    /// A profile gets its credentials in a way this build does not support (`key`).
    UnsupportedProfile {
        profile: String,
        path: PathBuf,
        key: &'static str,
    },
    /// A shared file exists but cannot be read.
    SharedFile {
        path: PathBuf,
        source: bounded_read::ReadError,
    },
    /// A shared file is not UTF-8.
    SharedFileNotUtf8 { path: PathBuf },
    /// The request could not be made (no connection, a timeout, TLS).
    Request {
        endpoint: String,
        source: ureq::Error,
    },
    /// The answer could not be read (too large, cut off).
    Answer {
        endpoint: String,
        source: bounded_read::ReadError,
    },
    /// STS refused to assume the role.
    AssumeRole {
        role: String,
        status: u16,
        code: String,
        message: String,
    },
    /// A successful answer lacks a field.
    BadAnswer {
        operation: &'static str,
        missing: &'static str,
    },
    /// The key's ARN is not a KMS key ARN.
    NotAKmsArn,
    /// KMS denied the operation to these credentials.
    Denied {
        operation: &'static str,
        credentials: String,
        message: String,
    },
    /// AWS refused the credentials themselves (unknown key, bad signature, expired token).
    CredentialsRefused {
        credentials: String,
        kind: String,
        message: String,
    },
    /// Any other error answer.
    Failed {
        operation: &'static str,
        endpoint: String,
        status: u16,
        kind: String,
        message: String,
    },
}

/// One request to sign: the method, the path and query as sent (unencoded), every header to sign
/// (names in any case) and the body.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) body: &'a [u8],
}

/// The `Authorization` header of `request` under Signature Version 4, at `amz_date`
/// (`20150830T123600Z`) for `region` and `service`.
pub(crate) fn authorization(
    request: &Request<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> String {
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in request.headers {
        let name = name.to_ascii_lowercase();
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            None => headers.push((name, value)),
        }
    }
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut query: Vec<(String, String)> = request
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (uri_encode(k, true), uri_encode(v, true))
        })
        .collect();
    query.sort();
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{signed_headers}\n{}",
        request.method,
        uri_encode(request.path, false),
        query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&"),
        headers
            .iter()
            .map(|(n, v)| format!("{n}:{v}\n"))
            .collect::<String>(),
        hex(&Sha256::digest(request.body))
    );
    let date = &amz_date[..8.min(amz_date.len())];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let secret = Zeroizing::new(format!("AWS4{}", credentials.secret_access_key.as_str()));
    let mut key = hmac(secret.as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={}",
        credentials.access_key_id,
        hex(&hmac(&key, string_to_sign.as_bytes()))
    )
}

/// The endpoint of `service` (`KMS`, `STS`) for `region`: `AWS_ENDPOINT_URL_<SERVICE>`, then
/// `AWS_ENDPOINT_URL`, as the SDKs read them, else AWS's regional endpoint.
pub(crate) fn endpoint(service_env: &str, service: &str, region: &str) -> String {
    variable(&format!("AWS_ENDPOINT_URL_{service_env}"))
        .or_else(|| variable("AWS_ENDPOINT_URL"))
        .map(|url| url.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| {
            let suffix = if region.starts_with("cn-") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            format!("https://{service}.{region}.{suffix}")
        })
}

/// An AWS answer: its status and body (wiped on drop: a KMS answer holds a data key).
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Zeroizing<Vec<u8>>,
}

/// POSTs `body` to `endpoint` (at `/`) with `headers`, signed for `region` and `service`.
/// Errors say the endpoint could not be reached; they hold no credential.
pub(crate) fn post(
    endpoint: &str,
    region: &str,
    service: &str,
    credentials: &Credentials,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Answer, AwsError> {
    let host = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    let amz_date: String = crate::timestamp::rfc3339_utc(SystemTime::now())
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    all.push(("host".into(), host.to_owned()));
    all.push(("x-amz-date".into(), amz_date.clone()));
    if let Some(token) = &credentials.session_token {
        all.push(("x-amz-security-token".into(), token.as_str().to_owned()));
    }
    let signature = authorization(
        &Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &all,
            body,
        },
        credentials,
        region,
        service,
        &amz_date,
    );
    let mut request = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{endpoint}/"));
    for (name, value) in all.iter().filter(|(n, _)| n != "host") {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .header("authorization", signature)
        .body(body)
        .map_err(|source| AwsError::Request {
            endpoint: endpoint.to_owned(),
            source: source.into(),
        })?;
    // The token was copied into the header list: wipe it there too.
    for (_, value) in &mut all {
        zeroize::Zeroize::zeroize(value);
    }
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(CALL_TIMEOUT))
        .build()
        .new_agent();
    let mut response = agent.run(request).map_err(|source| AwsError::Request {
        endpoint: endpoint.to_owned(),
        source,
    })?;
    let status = response.status().as_u16();
    let body = bounded_read::stream(response.body_mut().as_reader(), 0, MAX_RESPONSE_BYTES)
        .map_err(|source| AwsError::Answer {
            endpoint: endpoint.to_owned(),
            source,
        })?;
    Ok(Answer { status, body })
}

/// The credentials of profile `name`: the credentials file first, then the config file.
fn from_profile(name: &str) -> Result<Credentials, AwsError> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let file = |variable_name: &str, default: &str| {
        variable(variable_name)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
    };
    let files = [
        (
            file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
            name.to_owned(),
        ),
        (
            file("AWS_CONFIG_FILE", "config"),
            if name == "default" {
                name.to_owned()
            } else {
                format!("profile {name}")
            },
        ),
    ];
    let mut looked = Vec::new();
    for (path, section) in files {
        let Some(path) = path else { continue };
        looked.push(path.clone());
        let text = match bounded_read::file(&path, MAX_SHARED_FILE_BYTES) {
            Ok(text) => text,
            Err(_) if !path.exists() => continue,
            Err(source) => return Err(AwsError::SharedFile { path, source }),
        };
        let text = std::str::from_utf8(&text)
            .map_err(|_| AwsError::SharedFileNotUtf8 { path: path.clone() })?;
        let Some(entries) = ini_section(text, &section) else {
            continue;
        };
        let get = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str().to_owned())
        };
        if let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key")) {
            return Ok(Credentials {
                access_key_id: id,
                secret_access_key: Zeroizing::new(secret),
                session_token: get("aws_session_token").map(Zeroizing::new),
                source: format!("profile {name} of {}", path.display()),
            });
        }
        let unsupported = [
            "sso_session",
            "sso_start_url",
            "credential_process",
            "role_arn",
            "web_identity_token_file",
        ];
        if let Some(&key) = unsupported.iter().find(|k| get(k).is_some()) {
            return Err(AwsError::UnsupportedProfile {
                profile: name.to_owned(),
                path,
                key,
            });
        }
    }
    Err(AwsError::NoProfile {
        profile: name.to_owned(),
        looked,
    })
}

/// The `key = value` lines of `[section]` in an INI text (the AWS shared files), values wiped on
/// drop; `None` without that section.
fn ini_section(text: &str, section: &str) -> Option<Vec<(String, Zeroizing<String>)>> {
    let mut found = None;
    let mut current: Option<&str> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim());
            if current == Some(section) && found.is_none() {
                found = Some(Vec::new());
            }
            continue;
        }
        if current == Some(section)
            && let (Some(entries), Some((key, value))) = (found.as_mut(), line.split_once('='))
        {
            entries.push((
                key.trim().to_owned(),
                Zeroizing::new(value.trim().to_owned()),
            ));
        }
    }
    found
}

/// The error type and message of an AWS error answer: JSON (`__type`, `message`; the type may be
/// namespaced, `com.amazonaws.kms#AccessDeniedException`) or XML (`<Code>`, `<Message>`).
pub(crate) fn error_of(body: &[u8]) -> (String, String) {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let text = |field: &str| json.get(field).and_then(|v| v.as_str()).unwrap_or_default();
        let kind = text("__type").rsplit('#').next().unwrap_or_default();
        let message = [text("message"), text("Message")].concat();
        return (kind.to_owned(), message);
    }
    let text = String::from_utf8_lossy(body);
    let element = |name: &str| xml_element(&text, name).unwrap_or_default().to_owned();
    (element("Code"), element("Message"))
}

/// The text of the first `<name>...</name>` of an XML answer (STS's).
fn xml_element<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("<{name}>"))? + name.len() + 2;
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(text[start..end].trim())
}

/// The session name sops gives an assumed role: `sops@HOSTNAME`, sanitised, at most 64 bytes.
fn session_name() -> String {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| variable("HOSTNAME"))
        .unwrap_or_default();
    let mut name: String = "sops@"
        .chars()
        .chain(
            hostname
                .trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(*c)),
        )
        .collect();
    name.truncate(64);
    name
}

/// A variable of the environment, when set and not empty.
fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters kept, `/` kept in a path.
fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn hmac(key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    Zeroizing::new(mac.finalize().into_bytes().to_vec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files = |looked: &[PathBuf]| {
            if looked.is_empty() {
                "the shared files (HOME is not set)".to_owned()
            } else {
                looked
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            }
        };
        match self {
            Self::NoCredentials { profile, looked } => write!(
                f,
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, \
                 or the key's aws_profile (no profile {profile} with aws_access_key_id and \
                 aws_secret_access_key in {})",
                files(looked)
            ),
            Self::NoProfile { profile, looked } => write!(
                f,
                "no profile {profile} with aws_access_key_id and aws_secret_access_key in {}",
                files(looked)
            ),
            Self::UnsupportedProfile { profile, path, key } => write!(
                f,
                "profile {profile} of {} uses `{key}`, which secret-cascade does not support; \
                 give it aws_access_key_id and aws_secret_access_key, or set AWS_ACCESS_KEY_ID \
                 and AWS_SECRET_ACCESS_KEY",
                path.display()
            ),
            Self::SharedFile { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            Self::SharedFileNotUtf8 { path } => write!(f, "{} is not UTF-8", path.display()),
            Self::Request { endpoint, source } => write!(f, "cannot reach {endpoint}: {source}"),
            Self::Answer { endpoint, source } => {
                write!(f, "reading the answer of {endpoint}: {source}")
            }
            Self::AssumeRole {
                role,
                status,
                code,
                message,
            } => write!(
                f,
                "STS AssumeRole of {role} failed: HTTP {status} {code}: {message}"
            ),
            Self::BadAnswer { operation, missing } => {
                write!(f, "the {operation} answer has no {missing}")
            }
            Self::NotAKmsArn => {
                f.write_str("not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID or alias/NAME)")
            }
            Self::Denied {
                operation,
                credentials,
                message,
            } => write!(
                f,
                "access denied to KMS {operation} for this key with the credentials of \
                 {credentials}: {message}"
            ),
            Self::CredentialsRefused {
                credentials,
                kind,
                message,
            } => write!(
                f,
                "AWS refused the credentials of {credentials} ({kind}): {message}"
            ),
            Self::Failed {
                operation,
                endpoint,
                status,
                kind,
                message,
            } => write!(
                f,
                "KMS {operation} at {endpoint} failed: HTTP {status} {kind}: {message}"
            ),
        }
    }
}

impl std::error::Error for AwsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Request { source, .. } => Some(source),
            Self::SharedFile { source, .. } | Self::Answer { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The suite's credentials (fixtures/sigv4/README.md).
    fn suite_credentials(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Zeroizing::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: token.map(|t| Zeroizing::new(t.to_owned())),
            source: "the test suite".into(),
        }
    }

    #[test]
    fn signatures_match_the_aws_sigv4_test_suite() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sigv4");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".req").map(str::to_owned)
            })
            .collect();
        names.sort();
        assert_eq!(names.len(), 13, "the vectors of fixtures/sigv4: {names:?}");
        let mut failures = Vec::new();
        for name in &names {
            let req = std::fs::read_to_string(dir.join(format!("{name}.req"))).unwrap();
            let expected = std::fs::read_to_string(dir.join(format!("{name}.authz"))).unwrap();
            let (head, body) = req.split_once("\n\n").unwrap_or((&req, ""));
            let mut lines = head.lines();
            let request_line: Vec<&str> = lines.next().unwrap().split(' ').collect();
            let (path, query) = request_line[1]
                .split_once('?')
                .unwrap_or((request_line[1], ""));
            let headers: Vec<(String, String)> = lines
                .map(|l| {
                    let (n, v) = l.split_once(':').unwrap();
                    (n.to_owned(), v.to_owned())
                })
                .collect();
            let token = headers
                .iter()
                .find(|(n, _)| n == "X-Amz-Security-Token")
                .map(|(_, v)| v.as_str());
            let request = Request {
                method: request_line[0],
                path,
                query,
                headers: &headers,
                body: body.as_bytes(),
            };
            let actual = authorization(
                &request,
                &suite_credentials(token),
                "us-east-1",
                "service",
                "20150830T123600Z",
            );
            if actual != expected {
                failures.push(format!(
                    "{name}:\n  expected {expected}\n  actual   {actual}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn ini_sections_of_the_shared_files_are_read() {
        let text = "[default]\naws_access_key_id = A\n\n# a comment\n[profile dev]\n\
                    aws_access_key_id=B\naws_secret_access_key = s=with=equals\n";
        let dev = ini_section(text, "profile dev").unwrap();
        assert_eq!(dev[0].0, "aws_access_key_id");
        assert_eq!(dev[1].1.as_str(), "s=with=equals");
        assert!(ini_section(text, "profile other").is_none());
    }

    #[test]
    fn debug_shows_no_secret() {
        let shown = format!("{:?}", suite_credentials(Some("TOKEN-VALUE")));
        assert!(!shown.contains("EXAMPLEKEY") && !shown.contains("TOKEN-VALUE"));
    }
}
