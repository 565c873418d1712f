//! `kind: vault`: secrets in a HashiCorp Vault or OpenBao server's KV v2 engine, for fleets of
//! machines that share one highly available store.
//!
//! Options: `address` (`http://127.0.0.1:8200`) or `addresses` (a list: the nodes of a cluster),
//! `mount` (default `secret`), `path` (a template with `{team}`, `{job}` and `{scope}`, such as
//! `teams/{team}/jobs/{job}`; default empty), `team`, `job`, `namespace` (sent as Vault
//! Enterprise's `X-Vault-Namespace`), `auth` (`{method: token, token: ...}`, usually a reference
//! such as `${env:VAULT_TOKEN}`, or `{method: approle, role_id: ..., secret_id: ...}`; without it,
//! `VAULT_TOKEN`, then `BAO_TOKEN`, then `~/.vault-token`), `ca_file`, `insecure_skip_verify`
//! (default false), `timeout_ms` (default 2000, for the whole lookup), `on_denied` (`stop`, the
//! default, or `skip`), `cache_ttl_ms` (default 0: off).
//!
//! A name `a.b.c` reads the key `c` of the KV secret at `<path>/a/b`; a one-segment name `c` reads
//! the key `c` of the secret at `<path>` itself; `with_key_path` gives the segments. With `path:
//! teams/{team}`, `team: payments` and scope `billing` in the template, `db.password` reads key
//! `password` of `secret/data/teams/payments/db`. Strings come back as they are, other scalars as
//! text, maps and lists as compact JSON; a missing secret or key, or a null, is a miss.
//!
//! Outcomes: 404 is a miss. 403 (a token without access, an expired one) is [`Error::Denied`],
//! which stops the chain, unless `on_denied: skip` makes it *unavailable*. A connection refused, a
//! timeout, 429 or 5xx (a sealed node, a cluster without a leader) is retried on the next node with
//! a short backoff until `timeout_ms` runs out, then *unavailable*: the chain goes on.
//!
//! Tokens are secrets: kept in wiped buffers, never in errors, logs or `Debug`. An AppRole token is
//! obtained at the first lookup, renewed when two thirds of its lease have passed, and obtained
//! again when renewal is refused.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tracing::debug;
use zeroize::Zeroizing;

use crate::check::Check;
use crate::error::{ConfigError, Error};
use crate::options::Options;
use crate::plaintext::{Json, wipe};
use crate::provider::{Answer, Management, Provider};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::SecretRequest;
use crate::value_cache::ValueCache;
use crate::vault_api::{self, MAX_RESPONSE_BYTES, TlsOptions, errors, token_from_environment};

/// Reads secrets from a Vault or OpenBao KV v2 engine.
pub struct VaultProvider {
    label: String,
    addresses: Vec<String>,
    mount: String,
    /// `template` with `team` and `job` filled in (`{scope}` is filled per request).
    path: String,
    template: String,
    team: Option<String>,
    job: Option<String>,
    namespace: Option<String>,
    auth: Auth,
    timeout: Duration,
    skip_denied: bool,
    agent: ureq::Agent,
    token: Mutex<Option<Token>>,
    cache: Option<ValueCache>,
    /// The `X-Vault-Index` of this layer's last write, sent with every read so that a standby
    /// answers only once it has that write (read-your-writes across a cluster).
    index: Mutex<Option<String>>,
}

/// How the layer gets its token.
enum Auth {
    /// A token given in the config or found in the environment or `~/.vault-token`.
    Token(Zeroizing<String>),
    /// AppRole login.
    AppRole {
        role_id: Zeroizing<String>,
        secret_id: Zeroizing<String>,
    },
}

/// A token in use, and when to renew it (AppRole tokens; a given token is never renewed here).
struct Token {
    value: Zeroizing<String>,
    renew_at: Option<Instant>,
}

/// Why one request to one node did not give an answer.
enum Failure {
    /// Worth trying another node or again: no connection, a timeout, 429, 5xx.
    Retry(String),
    /// 403.
    Denied(String),
    /// Anything else: a bad request, an answer that is not Vault's.
    Broken(String),
    /// A check-and-set write lost to another writer.
    Conflict,
}

impl VaultProvider {
    /// The layer a config mapping describes (`kind: vault`).
    pub fn from_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let mut addresses = options.string_list("addresses")?.unwrap_or_default();
        if let Some(address) = options.non_empty_string("address")? {
            addresses.insert(0, address);
        }
        if addresses.is_empty() {
            return Err(options.error(
                None,
                "missing `address` (or `addresses`): the Vault/OpenBao server, e.g. \
                 http://127.0.0.1:8200",
            ));
        }
        for address in &addresses {
            if !(address.starts_with("http://") || address.starts_with("https://")) {
                return Err(options.error(
                    Some("address"),
                    format!("`{address}` is not an http:// or https:// address"),
                ));
            }
        }
        let addresses: Vec<String> = addresses
            .into_iter()
            .map(|a| a.trim_end_matches('/').to_owned())
            .collect();
        let mount = options
            .non_empty_string("mount")?
            .unwrap_or_else(|| "secret".to_owned());
        let template = options.string("path")?.unwrap_or_default();
        let team = options.non_empty_string("team")?;
        let job = options.non_empty_string("job")?;
        let path = render(&template, team.as_deref(), job.as_deref())
            .map_err(|message| options.error(Some("path"), message))?;
        let namespace = options.non_empty_string("namespace")?;
        let auth = match options.section("auth")? {
            Some(mut section) => {
                let auth = match section.non_empty_string("method")?.as_deref() {
                    Some("token") => Auth::Token(section.secret("token")?.ok_or_else(|| {
                        section.error(None, "missing `token` for `method: token`")
                    })?),
                    Some("approle") => Auth::AppRole {
                        role_id: section
                            .secret("role_id")?
                            .ok_or_else(|| section.error(None, "missing `role_id`"))?,
                        secret_id: section
                            .secret("secret_id")?
                            .ok_or_else(|| section.error(None, "missing `secret_id`"))?,
                    },
                    Some(other) => {
                        return Err(section.error(
                            Some("method"),
                            format!("unknown method `{other}`; expected `token` or `approle`"),
                        ));
                    }
                    None => {
                        return Err(section.error(None, "missing `method` (`token` or `approle`)"));
                    }
                };
                section.finish()?;
                auth
            }
            None => Auth::Token(token_from_environment().ok_or_else(|| {
                options.error(
                    None,
                    "no token: set `auth`, VAULT_TOKEN or BAO_TOKEN, or log in (~/.vault-token)",
                )
            })?),
        };
        let timeout =
            Duration::from_millis(options.positive_integer("timeout_ms")?.unwrap_or(2000) as u64);
        let skip_denied = match options.non_empty_string("on_denied")?.as_deref() {
            None | Some("stop") => false,
            Some("skip") => true,
            Some(other) => {
                return Err(options.error(
                    Some("on_denied"),
                    format!("unknown `{other}`; expected `stop` or `skip`"),
                ));
            }
        };
        let tls = TlsOptions {
            ca_file: options.path("ca_file")?,
            insecure_skip_verify: options.boolean("insecure_skip_verify")?.unwrap_or(false),
        };
        // A standby redirects to the node it believes active, which in a failover may be the one
        // that just died: the agent follows no redirect, the next node is tried instead.
        let agent = vault_api::agent(&tls, None)
            .map_err(|e| options.error(Some("ca_file"), e.to_string()))?;
        let cache = options
            .positive_integer("cache_ttl_ms")?
            .map(|ms| ValueCache::new(Duration::from_millis(ms as u64)));
        Ok(Self {
            label: format!("vault:{}/{mount}/{template}", addresses[0]),
            addresses,
            mount,
            path,
            template,
            team,
            job,
            namespace,
            auth,
            timeout,
            skip_denied,
            agent,
            token: Mutex::new(None),
            cache,
            index: Mutex::new(None),
        })
    }

    /// The same layer for another team and job (`secret-cascade vault --team T --job J`): the
    /// path template is filled in again. An error says which one the template needs.
    pub fn for_team_and_job(
        mut self,
        team: Option<String>,
        job: Option<String>,
    ) -> Result<Self, String> {
        self.team = team.or(self.team);
        self.job = job.or(self.job);
        self.path = render(&self.template, self.team.as_deref(), self.job.as_deref())?;
        Ok(self)
    }

    /// The KV path and key a request reads: `(path/a/b, c)` for `a.b.c`. A scope goes where the
    /// template says `{scope}`, else before the name, as in the other layers.
    fn location(&self, request: &SecretRequest) -> (String, String) {
        let in_template = self.path.contains("{scope}");
        let segments: Vec<&str> = match (in_template, request.key_path()) {
            (true, None) => request.name().split('.').collect(),
            _ => request.document_path(),
        };
        let base = self
            .path
            .replace("{scope}", request.scope().unwrap_or_default());
        let Some((key, parents)) = segments.split_last() else {
            return (base, String::new());
        };
        let path = std::iter::once(base.trim_matches('/'))
            .chain(parents.iter().copied())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("/");
        (path, (*key).to_owned())
    }

    /// A token, logging in or renewing first when needed.
    fn token(&self, deadline: Instant) -> Result<Zeroizing<String>, Failure> {
        let mut held = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(token) = held.as_ref() {
            match token.renew_at {
                Some(at) if Instant::now() >= at => {
                    match self.renew(&token.value, deadline) {
                        Ok(renewed) => *held = Some(renewed),
                        // Refused (expired, past its max TTL): log in again below.
                        Err(Failure::Denied(_) | Failure::Broken(_)) => *held = None,
                        Err(retry) => return Err(retry),
                    }
                }
                _ => {}
            }
        }
        if held.is_none() {
            *held = Some(self.login(deadline)?);
        }
        Ok(held.as_ref().map(|t| t.value.clone()).unwrap_or_default())
    }

    fn login(&self, deadline: Instant) -> Result<Token, Failure> {
        let (role_id, secret_id) = match &self.auth {
            Auth::Token(token) => {
                return Ok(Token {
                    value: token.clone(),
                    renew_at: None,
                });
            }
            Auth::AppRole { role_id, secret_id } => (role_id, secret_id),
        };
        let body = Zeroizing::new(
            serde_json::json!({"role_id": role_id.as_str(), "secret_id": secret_id.as_str()})
                .to_string(),
        );
        let answer = self.call(deadline, None, "POST", "auth/approle/login", Some(&body))?;
        answer
            .as_ref()
            .and_then(|answer| token_from_auth(&answer.0))
            .ok_or_else(|| Failure::Broken("the AppRole login gave no token".into()))
    }

    fn renew(&self, token: &Zeroizing<String>, deadline: Instant) -> Result<Token, Failure> {
        let answer = self.call(
            deadline,
            Some(token),
            "POST",
            "auth/token/renew-self",
            Some("{}"),
        )?;
        answer
            .as_ref()
            .and_then(|answer| token_from_auth(&answer.0))
            .ok_or_else(|| Failure::Broken("renewal gave no token".into()))
    }

    /// One API call, tried on each node in turn (then again, with a short backoff) until it gets
    /// an answer or `deadline` passes. `Ok(None)` is a 404.
    fn call(
        &self,
        deadline: Instant,
        token: Option<&Zeroizing<String>>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Option<Json>, Failure> {
        let mut pause = Duration::from_millis(20);
        let mut last = String::from("no node was tried");
        loop {
            for address in &self.addresses {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Failure::Retry(format!(
                        "no answer within {} ms ({last})",
                        self.timeout.as_millis()
                    )));
                }
                match self.once(address, left, token, method, path, body) {
                    Err(Failure::Retry(reason)) => {
                        debug!(layer = %self.label, node = %address, %reason, "node did not answer");
                        last = format!("{address}: {reason}");
                    }
                    outcome => return outcome,
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            // Jitter from the clock's low bits: retries of several clients spread out.
            let jitter =
                Duration::from_millis(u64::from(Instant::now().elapsed().subsec_nanos() % 17));
            std::thread::sleep((pause + jitter).min(left));
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    fn once(
        &self,
        address: &str,
        left: Duration,
        token: Option<&Zeroizing<String>>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Option<Json>, Failure> {
        let url = format!("{address}/v1/{path}");
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Content-Type", "application/json");
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token.as_str());
        }
        if let Some(namespace) = &self.namespace {
            request = request.header("X-Vault-Namespace", namespace.as_str());
        }
        // Reads only: a write is forwarded to the active node anyway, and a standby holding a
        // write back until it has caught up with an index was seen answering 429 for seconds
        // after a failover.
        let index = self.index.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(index) = index.filter(|_| method == "GET") {
            request = request.header("X-Vault-Index", index);
        }
        let request = request
            .body(body.unwrap_or_default().as_bytes())
            .map_err(|e| Failure::Broken(e.to_string()))?;
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(Some(left))
            .build();
        let response = self.agent.run(request);
        let mut response = response.map_err(|e| Failure::Retry(e.to_string()))?;
        let status = response.status().as_u16();
        if let Some(index) = response
            .headers()
            .get("X-Vault-Index")
            .and_then(|v| v.to_str().ok())
            .filter(|_| method != "GET")
        {
            *self.index.lock().unwrap_or_else(|p| p.into_inner()) = Some(index.to_owned());
        }
        let bytes =
            crate::bounded_read::stream(response.body_mut().as_reader(), 0, MAX_RESPONSE_BYTES)
                .map_err(|e| Failure::Retry(format!("reading the answer: {e}")))?;
        match status {
            200 | 204 => Ok(Some(Json(if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes)
                    .map_err(|_| Failure::Broken("the answer is not JSON".into()))?
            }))),
            404 => Ok(None),
            403 => Err(Failure::Denied(format!(
                "{address}: permission denied on {path}"
            ))),
            // A standby that has not caught up with `X-Vault-Index` answers 412 or 429; one that
            // does not forward redirects (307) to the active node.
            307 | 308 | 412 | 429 | 500..=599 => {
                Err(Failure::Retry(format!("HTTP {status}{}", errors(&bytes))))
            }
            400 if errors(&bytes).contains("check-and-set") => Err(Failure::Conflict),
            _ => Err(Failure::Broken(format!("HTTP {status}{}", errors(&bytes)))),
        }
    }

    fn answer(&self, request: &SecretRequest) -> Result<Answer, Error> {
        let (path, key) = self.location(request);
        let full = format!("{}/data/{path}", self.mount);
        let cache_key = format!("{full}#{key}");
        if let Some(value) = self.cache.as_ref().and_then(|c| c.get(&cache_key)) {
            return Ok(Answer::Hit(self.record(value, &full, &key)));
        }
        let deadline = Instant::now() + self.timeout;
        let read = || {
            self.token(deadline)
                .and_then(|token| self.call(deadline, Some(&token), "GET", &full, None))
        };
        let outcome = match read() {
            // An AppRole token can expire between lookups (a process asleep past its lease):
            // log in again once before calling it denied.
            Err(Failure::Denied(_)) if matches!(self.auth, Auth::AppRole { .. }) => {
                *self.token.lock().unwrap_or_else(|p| p.into_inner()) = None;
                read()
            }
            other => other,
        };
        let document = match outcome {
            Ok(document) => document,
            Err(failure) => {
                if let Some(cache) = &self.cache {
                    cache.evict(&cache_key);
                }
                return self.failed(failure);
            }
        };
        let Some(document) = document else {
            if let Some(cache) = &self.cache {
                cache.evict(&cache_key);
            }
            return Ok(Answer::Miss(format!("no secret at {full}").into()));
        };
        let value = match document
            .0
            .pointer("/data/data")
            .and_then(|data| data.get(&key))
        {
            None | Some(Value::Null) => {
                return Ok(Answer::Miss(format!("{full} has no key `{key}`").into()));
            }
            Some(Value::String(text)) => SecretString::from(text.as_str()),
            Some(other) => SecretString::from(other.to_string()),
        };
        if let Some(cache) = &self.cache {
            cache.put(&cache_key, &value, None);
        }
        Ok(Answer::Hit(self.record(value, &full, &key)))
    }

    /// A lookup's answer to a failure: unavailable (the chain goes on) or an error.
    fn failed(&self, failure: Failure) -> Result<Answer, Error> {
        match failure {
            Failure::Retry(reason) => Ok(Answer::Unavailable(reason.into())),
            Failure::Denied(reason) if self.skip_denied => {
                Ok(Answer::Unavailable(format!("denied: {reason}").into()))
            }
            other => Err(self.error(other)),
        }
    }

    /// The error for a failure of a write or of a lookup that must answer.
    fn error(&self, failure: Failure) -> Error {
        let layer = self.label.clone();
        match failure {
            Failure::Retry(reason) => Error::Unavailable { layer, reason },
            Failure::Denied(reason) => Error::Denied { layer, reason },
            other => Error::Provider {
                layer,
                reason: other.to_string(),
                source: None,
            },
        }
    }

    /// Changes the KV secret at `path` with `change` (its data, empty for a new secret) and
    /// writes it back with check-and-set on the version read: a concurrent writer's update is
    /// never lost; a lost race is read again and retried a few times.
    fn update(
        &self,
        path: &str,
        change: impl Fn(&mut serde_json::Map<String, Value>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let full = format!("{}/data/{path}", self.mount);
        for attempt in 0..MAX_WRITE_ATTEMPTS {
            if attempt > 0 {
                // Writers that lost a race wait a random while, so they do not collide again.
                let mut draw = [0u8; 2];
                let _ = getrandom::fill(&mut draw);
                let most = (10 * attempt as u64).min(200);
                std::thread::sleep(Duration::from_millis(
                    u64::from(u16::from_le_bytes(draw)) % most,
                ));
            }
            let deadline = Instant::now() + self.timeout;
            let token = self.token(deadline).map_err(|f| self.error(f))?;
            let current = self
                .call(deadline, Some(&token), "GET", &full, None)
                .map_err(|f| self.error(f))?;
            let (version, mut data) = match current {
                Some(mut document) => {
                    let version = document
                        .0
                        .pointer("/data/metadata/version")
                        .and_then(Value::as_u64);
                    let data = match document.0.pointer_mut("/data/data").map(Value::take) {
                        Some(Value::Object(data)) => data,
                        _ => serde_json::Map::new(),
                    };
                    (version.unwrap_or(0), data)
                }
                None => (0, serde_json::Map::new()),
            };
            change(&mut data)?;
            let body = Json(serde_json::json!({"options": {"cas": version}, "data": data}));
            let text = Zeroizing::new(body.0.to_string());
            match self.call(deadline, Some(&token), "POST", &full, Some(&text)) {
                Ok(_) => return Ok(()),
                Err(Failure::Conflict) => continue,
                Err(failure) => return Err(self.error(failure)),
            }
        }
        Err(Error::Provider {
            layer: self.label.clone(),
            reason: format!(
                "{full} was changed by another writer {MAX_WRITE_ATTEMPTS} times in a row; try again"
            ),
            source: None,
        })
    }

    fn record(&self, value: SecretString, path: &str, key: &str) -> SecretRecord {
        SecretRecord::new(
            value,
            SecretSource::Vault,
            Metadata::new().with("path", path).with("key", key),
        )
    }
}

impl Provider for VaultProvider {
    fn label(&self) -> &str {
        &self.label
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        self.answer(request)
    }

    fn management(&self) -> Option<&dyn Management> {
        Some(self)
    }

    fn diagnose(&self) -> Vec<Check> {
        let deadline = Instant::now() + self.timeout;
        match self.token(deadline).and_then(|token| {
            self.call(
                deadline,
                Some(&token),
                "GET",
                "auth/token/lookup-self",
                None,
            )
        }) {
            Ok(_) => vec![Check::ok(
                "server",
                format!(
                    "{} answers and the token is valid",
                    self.addresses.join(", ")
                ),
            )],
            Err(Failure::Denied(reason)) => vec![Check::fail("token", reason)],
            Err(failure) => vec![Check::fail("server", failure.to_string())],
        }
    }
}

/// Names are as for lookups: `a.b.c` is the key `c` of the secret at `<path>/a/b`.
impl Management for VaultProvider {
    fn set(&self, name: &str, value: SecretString) -> Result<(), Error> {
        let (path, key) = self.location(&SecretRequest::new(name));
        self.update(&path, |data| {
            data.insert(key.clone(), Value::String(value.expose_secret().to_owned()));
            Ok(())
        })?;
        if let Some(cache) = &self.cache {
            cache.evict(&format!("{}/data/{path}#{key}", self.mount));
        }
        Ok(())
    }

    /// The keys of the secret at `<path>` and, one level down, `secret.key` for each secret under
    /// it.
    fn list(&self) -> Result<Vec<String>, Error> {
        let base = self.path.replace("{scope}", "");
        let base = base.trim_matches('/');
        let deadline = Instant::now() + self.timeout;
        let token = self.token(deadline).map_err(|f| self.error(f))?;
        let keys_of = |path: &str| -> Result<Vec<String>, Error> {
            let document = self
                .call(
                    deadline,
                    Some(&token),
                    "GET",
                    &format!("{}/data/{path}", self.mount),
                    None,
                )
                .map_err(|f| self.error(f))?;
            Ok(document
                .and_then(|d| {
                    d.0.pointer("/data/data")
                        .and_then(Value::as_object)
                        .map(|m| m.keys().cloned().collect())
                })
                .unwrap_or_default())
        };
        let mut names = if base.is_empty() {
            Vec::new()
        } else {
            keys_of(base)?
        };
        let listing = self
            .call(
                deadline,
                Some(&token),
                "GET",
                &format!("{}/metadata/{base}?list=true", self.mount),
                None,
            )
            .map_err(|f| self.error(f))?;
        let children: Vec<String> = listing
            .and_then(|l| l.0.pointer("/data/keys").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .filter(|k| !k.ends_with('/'))
            .collect();
        for child in children {
            let path = [base, &child]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("/");
            names.extend(
                keys_of(&path)?
                    .into_iter()
                    .map(|key| format!("{child}.{key}")),
            );
        }
        names.sort();
        Ok(names)
    }

    fn delete(&self, name: &str) -> Result<(), Error> {
        let (path, key) = self.location(&SecretRequest::new(name));
        if let Some(cache) = &self.cache {
            cache.evict(&format!("{}/data/{path}#{key}", self.mount));
        }
        self.update(&path, |data| match data.remove(&key) {
            Some(mut removed) => {
                wipe(&mut removed);
                Ok(())
            }
            None => Err(Error::NotFound {
                name: name.to_owned(),
                resolver: self.label.clone(),
                tried: Vec::new(),
            }),
        })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Retry(reason) | Self::Denied(reason) | Self::Broken(reason) => {
                f.write_str(reason)
            }
            Self::Conflict => f.write_str("a check-and-set write lost to another writer"),
        }
    }
}

impl std::fmt::Debug for VaultProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultProvider")
            .field("addresses", &self.addresses)
            .field("mount", &self.mount)
            .field("path", &self.path)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The token of an `auth` answer (login, renewal), renewed when two thirds of its lease passed.
fn token_from_auth(answer: &Value) -> Option<Token> {
    let auth = answer.get("auth")?;
    let value = Zeroizing::new(auth.get("client_token")?.as_str()?.to_owned());
    let lease = auth
        .get("lease_duration")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let renewable = auth
        .get("renewable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Some(Token {
        value,
        renew_at: (renewable && lease > 0)
            .then(|| Instant::now() + Duration::from_secs(lease) * 2 / 3),
    })
}

/// The path `template` with `{team}` and `{job}` filled in; a placeholder without a value is an
/// error naming it.
fn render(template: &str, team: Option<&str>, job: Option<&str>) -> Result<String, String> {
    let mut path = template.to_owned();
    for (word, value) in [("team", team), ("job", job)] {
        let placeholder = format!("{{{word}}}");
        if path.contains(&placeholder) {
            let value = value.ok_or_else(|| {
                format!("the template uses {placeholder} but `{word}` is not set")
            })?;
            path = path.replace(&placeholder, value);
        }
    }
    Ok(path.trim_matches('/').to_owned())
}

/// How many times a check-and-set write is tried against concurrent writers.
const MAX_WRITE_ATTEMPTS: usize = 50;
