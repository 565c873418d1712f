//! Words of the Vault/OpenBao HTTP API that more than one part of the crate speaks: where a token
//! comes from when none is configured, the HTTP agent (TLS roots from a CA file, no redirects,
//! statuses as answers), and the `errors` list of an error answer. The `vault` provider kind and
//! the SOPS transit master keys (`hc_vault` entries) both use them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::bounded_read::{self, ReadError};

/// Answers larger than this are refused: a KV secret or a transit answer is small.
pub(crate) const MAX_RESPONSE_BYTES: u64 = 16 << 20;

/// A CA file larger than this is refused.
const MAX_CA_FILE_BYTES: u64 = 1 << 20;

/// A token file larger than this is ignored.
const MAX_TOKEN_FILE_BYTES: u64 = 1 << 16;

/// The token the Vault CLI (and sops) would use when none is configured: `VAULT_TOKEN`, then
/// OpenBao's `BAO_TOKEN`, then the file `~/.vault-token` that `vault login` / `bao login` write.
/// Empty values are skipped.
pub(crate) fn token_from_environment() -> Option<Zeroizing<String>> {
    for variable in ["VAULT_TOKEN", "BAO_TOKEN"] {
        if let Some(token) = std::env::var_os(variable)
            .and_then(|v| v.into_string().ok())
            .filter(|token| !token.is_empty())
        {
            return Some(Zeroizing::new(token));
        }
    }
    let home = std::env::var_os("HOME")?;
    let text =
        bounded_read::file(&Path::new(&home).join(".vault-token"), MAX_TOKEN_FILE_BYTES).ok()?;
    let token = std::str::from_utf8(&text).ok()?.trim();
    (!token.is_empty()).then(|| Zeroizing::new(token.to_owned()))
}

/// How to reach a server over TLS.
#[derive(Debug, Default, Clone)]
pub(crate) struct TlsOptions {
    /// PEM certificates to trust instead of the system's roots.
    pub(crate) ca_file: Option<PathBuf>,
    /// Accept any certificate (a test server's self-signed one).
    pub(crate) insecure_skip_verify: bool,
}

/// Why the CA file of [`TlsOptions`] cannot be used.
#[derive(Debug, Clone)]
pub(crate) enum CaFileError {
    /// It could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ReadError,
    },
    /// It holds no PEM certificate.
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
}

/// An agent for a Vault API server: statuses come back as answers (a 403 or 404 is read, not an
/// `Err`), no redirect is followed (a standby's redirect is answered by trying the next node),
/// `timeout` bounds each call as a whole when given (callers with a deadline set it per call).
pub(crate) fn agent(
    tls: &TlsOptions,
    timeout: Option<Duration>,
) -> Result<ureq::Agent, CaFileError> {
    let mut config = ureq::tls::TlsConfig::builder().disable_verification(tls.insecure_skip_verify);
    if let Some(path) = &tls.ca_file {
        // Bounded like every file a user names: a FIFO or /dev/zero must not hang the load.
        let pem =
            bounded_read::file(path, MAX_CA_FILE_BYTES).map_err(|source| CaFileError::Read {
                path: path.clone(),
                source,
            })?;
        let certificates: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certificates.is_empty() {
            return Err(CaFileError::NoCertificate { path: path.clone() });
        }
        config = config.root_certs(ureq::tls::RootCerts::Specific(Arc::new(certificates)));
    }
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(timeout)
        .tls_config(config.build())
        .build()
        .new_agent())
}

/// `: message; message` from a Vault error answer, when it has `errors`; empty otherwise.
pub(crate) fn errors(bytes: &[u8]) -> String {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| {
            let list: Vec<String> = v
                .get("errors")?
                .as_array()?
                .iter()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect();
            (!list.is_empty()).then(|| format!(": {}", list.join("; ")))
        })
        .unwrap_or_default()
}

impl fmt::Display for CaFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::NoCertificate { path } => {
                write!(f, "{} holds no PEM certificate", path.display())
            }
        }
    }
}

impl std::error::Error for CaFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            Self::NoCertificate { .. } => None,
        }
    }
}
