//! Vault/OpenBao transit master keys (`hc_vault` entries): the data key encrypted by the transit
//! engine of a server, as sops 3.11 does it (`hcvault/keysource.go`).
//!
//! The entry stores the server (`vault_address`, `https://host:8200`), the transit engine's mount
//! (`engine_path`, `transit` or a nested `team/transit`) and the key (`key_name`); `enc` is the
//! engine's ciphertext (`vault:v1:...`) of the base64 of the data key. Opening posts
//! `{"ciphertext": enc}` to `/v1/{engine_path}/decrypt/{key_name}` and base64-decodes the
//! answer's `data.plaintext`; wrapping posts `{"plaintext": base64(data key)}` to
//! `/v1/{engine_path}/encrypt/{key_name}` and keeps `data.ciphertext`.
//!
//! The token is the Vault CLI's (and sops's): `VAULT_TOKEN`, then `BAO_TOKEN`, then
//! `~/.vault-token`. `VAULT_CACERT` (or `BAO_CACERT`) names PEM certificates to trust instead of
//! the bundled roots; `VAULT_NAMESPACE` (or `BAO_NAMESPACE`) is sent as `X-Vault-Namespace`.
//! Every call is bounded by [`CALL_TIMEOUT`] and answers by [`MAX_RESPONSE_BYTES`]. A 403 is
//! "access denied" for that key; a server that cannot be reached says so; neither names the token.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use zeroize::Zeroizing;

use super::keys::RecipientError;
use super::master_key::{KeyFailure, Payload, VaultKey};
use crate::bounded_read::{self, ReadError};
use crate::plaintext::Json;
use crate::vault_api::{self, CaFileError, MAX_RESPONSE_BYTES, TlsOptions};

/// How long one transit call may take, connecting included.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Opens an `hc_vault` entry's data key through the server's transit engine. Every failure is
/// this key's ([`KeyFailure`]): the caller tries the other keys of the file.
pub(crate) fn unwrap(key: &VaultKey) -> Result<Option<Payload>, KeyFailure> {
    let body = serde_json::json!({ "ciphertext": key.enc }).to_string();
    let mut answer =
        call(key, "decrypt", body.as_bytes()).map_err(|e| KeyFailure(e.to_string()))?;
    let encoded = take_string(&mut answer, "plaintext")
        .ok_or_else(|| KeyFailure(TransitError::BadAnswer("has no data.plaintext").to_string()))?;
    let decoded = STANDARD.decode(encoded.as_bytes()).map_err(|_| {
        KeyFailure(TransitError::BadAnswer("holds a plaintext that is not base64").to_string())
    })?;
    Ok(Some(Zeroizing::new(decoded)))
}

/// Encrypts `payload` with the transit key at `uri`
/// (`https://host:8200/v1/transit/keys/name`).
pub(crate) fn wrap(
    payload: &[u8],
    uri: &str,
    created_at: &str,
) -> Result<VaultKey, RecipientError> {
    let unusable = |e: TransitError| RecipientError::unusable(uri, e.to_string());
    let mut key = parse_uri(uri).map_err(unusable)?;
    let encoded = Zeroizing::new(STANDARD.encode(payload));
    // Base64 needs no JSON escaping.
    let body = Zeroizing::new(format!("{{\"plaintext\":\"{}\"}}", encoded.as_str()));
    let mut answer = call(&key, "encrypt", body.as_bytes()).map_err(unusable)?;
    key.enc = take_string(&mut answer, "ciphertext")
        .map(|c| c.to_string())
        .ok_or_else(|| unusable(TransitError::BadAnswer("has no data.ciphertext")))?;
    key.created_at = created_at.to_owned();
    Ok(key)
}

/// Why a transit call failed. Messages name the server, never the token or the data key; the
/// transport's and the read's failures are kept as sources.
#[derive(Debug)]
pub(crate) enum TransitError {
    /// No token in `VAULT_TOKEN`, `BAO_TOKEN` or `~/.vault-token`.
    NoToken,
    /// `VAULT_CACERT` (or `BAO_CACERT`) cannot be used.
    CaFile(CaFileError),
    /// The server could not be reached (no connection, a timeout, TLS).
    Unreachable {
        address: String,
        source: ureq::Error,
    },
    /// The answer could not be read (too large, cut off).
    Answer { address: String, source: ReadError },
    /// 403: the token may not use this key.
    Denied {
        operation: &'static str,
        /// `: message; message` of the answer, or empty.
        errors: String,
    },
    /// Any other error status.
    Failed {
        operation: &'static str,
        status: u16,
        errors: String,
    },
    /// A 200 answer without what it should hold.
    BadAnswer(&'static str),
    /// A key's URI is not one sops accepts: what is wrong with it.
    BadUri(&'static str),
}

/// Splits a key's URI as sops does: `https://host:8200/v1/transit/keys/name` is the address
/// `https://host:8200`, the engine `transit` and the key `name`; the segments between `v1` and the
/// last two make a nested engine path (`/v1/team/transit/keys/name`: `team/transit`). A URL with
/// a prefix before `/v1` (a reverse proxy's) is refused, as sops refuses it.
pub(crate) fn parse_uri(uri: &str) -> Result<VaultKey, TransitError> {
    let uri = uri.trim();
    let (scheme, rest) = uri
        .split_once("://")
        .filter(|(scheme, _)| !scheme.is_empty())
        .ok_or(TransitError::BadUri("has no scheme (https://)"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let prefixed = regex::Regex::new(r"/[^/]+/v\d+/[^/]+/[^/]+/[^/]+").expect("a valid regex");
    let shaped = regex::Regex::new(r"/v\d+/[^/]+/[^/]+/[^/]+").expect("a valid regex");
    if prefixed.is_match(path) {
        return Err(TransitError::BadUri(
            "has a prefix before /v1, which is not supported",
        ));
    }
    let dirs: Vec<&str> = path.trim_matches('/').split('/').collect();
    if !shaped.is_match(path) || dirs.len() < 4 {
        return Err(TransitError::BadUri("is not formatted correctly"));
    }
    let engine: Vec<&str> = dirs[1..dirs.len() - 2]
        .iter()
        .copied()
        .filter(|d| !d.is_empty())
        .collect();
    Ok(VaultKey {
        vault_address: format!("{scheme}://{authority}"),
        engine_path: engine.join("/"),
        key_name: dirs[dirs.len() - 1].to_owned(),
        created_at: String::new(),
        enc: String::new(),
    })
}

/// Posts `body` to `{engine}/{operation}/{key}` with the environment's token; the answer on 200.
fn call(key: &VaultKey, operation: &'static str, body: &[u8]) -> Result<Json, TransitError> {
    let token = vault_api::token_from_environment().ok_or(TransitError::NoToken)?;
    let tls = TlsOptions {
        ca_file: first_variable(&["VAULT_CACERT", "BAO_CACERT"]).map(Into::into),
        insecure_skip_verify: false,
    };
    let agent = vault_api::agent(&tls, Some(CALL_TIMEOUT)).map_err(TransitError::CaFile)?;
    let url = format!(
        "{}/v1/{}/{operation}/{}",
        key.vault_address.trim_end_matches('/'),
        key.engine_path.trim_matches('/'),
        key.key_name
    );
    let mut request = ureq::http::Request::builder()
        .method("POST")
        .uri(&url)
        .header("Content-Type", "application/json")
        .header("X-Vault-Token", token.as_str());
    if let Some(namespace) = first_variable(&["VAULT_NAMESPACE", "BAO_NAMESPACE"]) {
        request = request.header("X-Vault-Namespace", namespace);
    }
    let unreachable = |source: ureq::Error| TransitError::Unreachable {
        address: key.vault_address.clone(),
        source,
    };
    let request = request.body(body).map_err(|e| unreachable(e.into()))?;
    let mut response = agent.run(request).map_err(unreachable)?;
    let status = response.status().as_u16();
    let bytes = bounded_read::stream(response.body_mut().as_reader(), 0, MAX_RESPONSE_BYTES)
        .map_err(|source| TransitError::Answer {
            address: key.vault_address.clone(),
            source,
        })?;
    match status {
        200 => serde_json::from_slice(&bytes)
            .map(Json)
            .map_err(|_| TransitError::BadAnswer("is not JSON")),
        403 => Err(TransitError::Denied {
            operation,
            errors: vault_api::errors(&bytes),
        }),
        _ => Err(TransitError::Failed {
            operation,
            status,
            errors: vault_api::errors(&bytes),
        }),
    }
}

/// Moves the string `data.{field}` out of `answer` (no copy is left behind to wipe).
fn take_string(answer: &mut Json, field: &str) -> Option<Zeroizing<String>> {
    match answer.0.get_mut("data")?.get_mut(field)? {
        Value::String(text) => Some(Zeroizing::new(std::mem::take(text))),
        _ => None,
    }
}

/// The first of `names` set to a non-empty value.
fn first_variable(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

impl fmt::Display for TransitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoToken => f.write_str(
                "no Vault token: set VAULT_TOKEN or BAO_TOKEN, or log in (vault login / bao login \
                 write ~/.vault-token)",
            ),
            Self::CaFile(e) => write!(f, "VAULT_CACERT: {e}"),
            Self::Unreachable { address, source } => write!(
                f,
                "cannot reach the Vault/OpenBao server at {address}: {source}"
            ),
            Self::Answer { address, source } => {
                write!(f, "reading the answer of {address}: {source}")
            }
            Self::Denied { operation, errors } => write!(
                f,
                "access denied (HTTP 403{errors}): the token may not {operation} with this \
                 transit key"
            ),
            Self::Failed {
                operation,
                status,
                errors,
            } => write!(f, "transit {operation} failed: HTTP {status}{errors}"),
            Self::BadAnswer(what) => write!(f, "the transit answer {what}"),
            Self::BadUri(problem) => write!(
                f,
                "the Vault URL {problem} (it should be like \
                 https://vault.example.com:8200/v1/transit/keys/keyName)"
            ),
        }
    }
}

impl std::error::Error for TransitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::CaFile(e) => Some(e),
            Self::Unreachable { source, .. } => Some(source),
            Self::Answer { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_splits_as_sops_splits_it() {
        let key = parse_uri("https://vault.example:8200/v1/transit/keys/app").unwrap();
        assert_eq!(
            (
                key.vault_address.as_str(),
                key.engine_path.as_str(),
                key.key_name.as_str()
            ),
            ("https://vault.example:8200", "transit", "app")
        );
        let nested = parse_uri("http://127.0.0.1:8200/v1/team/a/transit/keys/k1").unwrap();
        assert_eq!(nested.engine_path, "team/a/transit");
        assert_eq!(nested.key_name, "k1");
        assert_eq!(
            nested.uri(),
            "http://127.0.0.1:8200/v1/team/a/transit/keys/k1"
        );
    }

    #[test]
    fn uri_without_scheme_or_shape_or_with_a_prefix_is_refused() {
        for (uri, expected) in [
            ("vault.example:8200/v1/transit/keys/app", "no scheme"),
            ("https://vault.example:8200", "not formatted"),
            ("https://vault.example:8200/v1/transit/app", "not formatted"),
            (
                "https://vault.example:8200/proxy/v1/transit/keys/app",
                "prefix",
            ),
        ] {
            let error = parse_uri(uri).unwrap_err().to_string();
            assert!(error.contains(expected), "{uri}: {error}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_uri_is_split_or_refused_never_a_panic(uri in "\\PC{0,80}") {
            let _ = parse_uri(&uri);
        }

        #[test]
        fn any_path_under_v1_is_split_or_refused_never_a_panic(path in "[/a-z1v?]{0,40}") {
            if let Ok(key) = parse_uri(&format!("https://vault:8200{path}")) {
                proptest::prop_assert!(!key.key_name.is_empty());
            }
        }
    }
}
