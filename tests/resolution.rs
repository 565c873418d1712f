//! Resolution semantics: order, hits and misses, defaults, unavailable layers, errors, threads.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Once};

use secret_cascade::providers::EnvProvider;
use secret_cascade::{
    Answer, Attempt, Error, ExposeSecret, Metadata, Outcome, Provider, Resolver, SecretRecord,
    SecretRequest, SecretSource,
};

/// An in-memory layer for the chain's semantics; the env layer below is the real one.
struct Fake {
    label: &'static str,
    source: SecretSource,
    values: HashMap<&'static str, &'static str>,
    state: State,
}

enum State {
    Working,
    Unavailable(&'static str),
    Broken,
}

impl Fake {
    fn new(
        label: &'static str,
        source: SecretSource,
        values: &[(&'static str, &'static str)],
    ) -> Self {
        Self {
            label,
            source,
            values: values.iter().copied().collect(),
            state: State::Working,
        }
    }

    fn state(mut self, state: State) -> Self {
        self.state = state;
        self
    }
}

impl Provider for Fake {
    fn label(&self) -> &str {
        self.label
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        match self.state {
            State::Unavailable(reason) => return Ok(Answer::Unavailable(reason.into())),
            State::Broken => {
                return Err(Error::Decryption {
                    file: "/tmp/broken.enc.yaml".into(),
                    reason: secret_cascade::sops::DecryptionError::MacMismatch,
                });
            }
            State::Working => {}
        }
        let name = request.qualified_name();
        Ok(match self.values.get(name.as_str()) {
            Some(value) => Answer::Hit(SecretRecord::new(
                (*value).into(),
                self.source,
                Metadata::new().with("layer", self.label),
            )),
            None => Answer::Miss(format!("{} has no `{name}`", self.label).into()),
        })
    }
}

fn chain(layers: Vec<Fake>) -> Resolver {
    layers
        .into_iter()
        .fold(Resolver::builder().name("test-chain"), |b, layer| {
            b.provider(layer)
        })
        .build()
}

fn get(resolver: &Resolver, request: SecretRequest) -> (SecretSource, String) {
    let record = resolver.resolve(&request).unwrap_or_else(|e| panic!("{e}"));
    (record.source(), record.expose_secret().to_owned())
}

#[test]
fn layers_are_asked_in_order_and_the_first_hit_wins() {
    let resolver = chain(vec![
        Fake::new("one", SecretSource::Keyring, &[("a", "from-one")]),
        Fake::new(
            "two",
            SecretSource::Sops,
            &[("a", "from-two"), ("b", "only-two")],
        ),
    ]);
    assert_eq!(
        get(&resolver, SecretRequest::new("a")),
        (SecretSource::Keyring, "from-one".into())
    );
    assert_eq!(
        get(&resolver, SecretRequest::new("b")),
        (SecretSource::Sops, "only-two".into())
    );
}

#[test]
fn an_empty_value_is_a_hit() {
    let resolver = chain(vec![
        Fake::new("one", SecretSource::Keyring, &[("a", "")]),
        Fake::new("two", SecretSource::Sops, &[("a", "later")]),
    ]);
    let request = SecretRequest::new("a").with_default("fallback");
    assert_eq!(
        get(&resolver, request),
        (SecretSource::Keyring, String::new())
    );
}

#[test]
fn the_default_answers_after_every_miss() {
    let resolver = chain(vec![Fake::new("one", SecretSource::Keyring, &[])]);
    let request = SecretRequest::new("a").with_default("fallback");
    assert_eq!(
        get(&resolver, request),
        (SecretSource::Default, "fallback".into())
    );
    let empty_default = SecretRequest::new("a").with_default("");
    assert_eq!(
        get(&resolver, empty_default),
        (SecretSource::Default, String::new())
    );
    let found = resolver
        .lookup(&SecretRequest::new("a").with_default("d"))
        .unwrap();
    assert_eq!(found.map(|r| r.source()), Some(SecretSource::Default));
}

#[test]
fn an_unavailable_layer_is_skipped_and_recorded() {
    let resolver = chain(vec![
        Fake::new("keyring", SecretSource::Keyring, &[("a", "x")])
            .state(State::Unavailable("no D-Bus session")),
        Fake::new("two", SecretSource::Sops, &[("a", "from-two")]),
    ]);
    assert_eq!(
        get(&resolver, SecretRequest::new("a")),
        (SecretSource::Sops, "from-two".into())
    );

    let Err(Error::NotFound { tried, .. }) = resolver.resolve(&SecretRequest::new("zzz")) else {
        panic!("expected NotFound");
    };
    assert_eq!(tried[0].layer, "keyring");
    assert_eq!(tried[0].outcome, Outcome::Unavailable);
    assert_eq!(tried[0].reason, "no D-Bus session");
    assert_eq!(tried[1].outcome, Outcome::Missed);
}

#[test]
fn a_broken_layer_stops_the_chain_and_is_never_replaced_by_the_default() {
    let resolver = chain(vec![
        Fake::new("broken", SecretSource::Sops, &[]).state(State::Broken),
        Fake::new("two", SecretSource::Keyring, &[("a", "from-two")]),
    ]);
    let request = SecretRequest::new("a").with_default("fallback");
    assert!(matches!(
        resolver.resolve(&request),
        Err(Error::Decryption { .. })
    ));
    assert!(matches!(
        resolver.lookup(&request),
        Err(Error::Decryption { .. })
    ));
}

#[test]
fn not_found_names_the_secret_the_resolver_and_every_layer() {
    set_env();
    let resolver = Resolver::builder()
        .name("payments")
        .override_secret("other", "x")
        .provider(EnvProvider::new().with_prefix("RESOLUTION_TEST"))
        .provider(
            Fake::new("keyring", SecretSource::Keyring, &[])
                .state(State::Unavailable("no D-Bus session")),
        )
        .provider(Fake::new("sops:/srv/secrets.yaml", SecretSource::Sops, &[]))
        .build();
    let error = resolver
        .resolve(&SecretRequest::new("smtp.password").with_scope("mail"))
        .unwrap_err();
    let Error::NotFound {
        name,
        resolver: by,
        tried,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(name, "mail.smtp.password");
    assert_eq!(by, "payments");
    let layers: Vec<&str> = tried.iter().map(|a: &Attempt| a.layer.as_str()).collect();
    assert_eq!(
        layers,
        ["override", "env", "keyring", "sops:/srv/secrets.yaml"]
    );
    assert_eq!(
        error.to_string(),
        "secret `mail.smtp.password` not found by resolver `payments`; tried: \
         override (not set in code); \
         env (RESOLUTION_TEST__MAIL__SMTP__PASSWORD is not set); \
         keyring (unavailable: no D-Bus session); \
         sops:/srv/secrets.yaml (sops:/srv/secrets.yaml has no `mail.smtp.password`); \
         no default given"
    );
}

#[test]
fn lookup_is_none_where_resolve_is_not_found() {
    let resolver = chain(vec![Fake::new("one", SecretSource::Keyring, &[("a", "x")])]);
    assert!(resolver.lookup(&SecretRequest::new("b")).unwrap().is_none());
    assert!(matches!(
        resolver.resolve(&SecretRequest::new("b")),
        Err(Error::NotFound { .. })
    ));
    let hit = resolver.lookup(&SecretRequest::new("a")).unwrap().unwrap();
    assert_eq!(hit.expose_secret(), "x");
}

#[test]
fn overrides_come_before_every_layer_and_are_keyed_by_the_qualified_name() {
    let resolver = Resolver::builder()
        .provider(Fake::new(
            "one",
            SecretSource::Keyring,
            &[("db.password", "layer")],
        ))
        .override_secret("db.password", "code")
        .build();
    assert_eq!(
        get(&resolver, SecretRequest::new("password").with_scope("db")),
        (SecretSource::Override, "code".into())
    );
    assert_eq!(
        get(&resolver, SecretRequest::new("db.password")),
        (SecretSource::Override, "code".into())
    );
    assert_eq!(resolver.layers().collect::<Vec<_>>(), ["override", "one"]);
}

#[test]
fn requests_that_name_nothing_are_refused() {
    let resolver = chain(vec![]);
    for request in [
        SecretRequest::new(""),
        SecretRequest::new("a..b").with_default("d"),
    ] {
        assert!(matches!(
            resolver.resolve(&request),
            Err(Error::InvalidRequest { .. })
        ));
    }
}

fn set_env() {
    static ONCE: Once = Once::new();
    // Every test that reads the environment calls this first, so no read races these writes.
    ONCE.call_once(|| {
        let vars = [
            ("MYAPP__MAIL__SMTP__PASSWORD", "myapp-smtp"),
            ("KSTLIB__MAIL__SMTP__PASSWORD", "kstlib-smtp"),
            ("KSTLIB__SMTP__PASSWORD", "kstlib-unscoped"),
            ("KSTLIB__API_KEY", "hyphen-or-underscore"),
            ("kstlib__lower__case", "never-found"),
            ("RESOLUTION__EMPTY", ""),
            ("APP_DB_HOST", "single-underscore"),
            ("TOKEN", "no-prefix"),
        ];
        for (name, value) in vars {
            // SAFETY: runs once, before any test in this binary reads the environment (each calls
            // set_env first and waits for it).
            unsafe { std::env::set_var(name, value) };
        }
    });
}

#[test]
fn env_names_follow_prefix_scope_name_and_the_hyphen_rule() {
    set_env();
    let myapp = Resolver::builder()
        .provider(EnvProvider::new().with_prefix("MYAPP"))
        .build();
    let kstlib = Resolver::builder()
        .provider(EnvProvider::new().with_prefix("KSTLIB"))
        .build();
    let bare = Resolver::builder().provider(EnvProvider::new()).build();
    let single = Resolver::builder()
        .provider(EnvProvider::new().with_prefix("APP").with_delimiter("_"))
        .build();
    let rows = [
        (
            &myapp,
            SecretRequest::new("mail.smtp.password"),
            "myapp-smtp",
            "MYAPP__MAIL__SMTP__PASSWORD",
        ),
        (
            &kstlib,
            SecretRequest::new("smtp.password").with_scope("mail"),
            "kstlib-smtp",
            "KSTLIB__MAIL__SMTP__PASSWORD",
        ),
        (
            &kstlib,
            SecretRequest::new("smtp.password"),
            "kstlib-unscoped",
            "KSTLIB__SMTP__PASSWORD",
        ),
        (
            &kstlib,
            SecretRequest::new("api_key"),
            "hyphen-or-underscore",
            "KSTLIB__API_KEY",
        ),
        (
            &kstlib,
            SecretRequest::new("api-key"),
            "hyphen-or-underscore",
            "KSTLIB__API_KEY",
        ),
        (
            &kstlib,
            SecretRequest::new("Api-Key"),
            "hyphen-or-underscore",
            "KSTLIB__API_KEY",
        ),
        (&bare, SecretRequest::new("token"), "no-prefix", "TOKEN"),
        (
            &single,
            SecretRequest::new("db.host"),
            "single-underscore",
            "APP_DB_HOST",
        ),
    ];
    for (resolver, request, value, variable) in rows {
        let record = resolver.resolve(&request).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(record.source(), SecretSource::Env);
        assert_eq!(record.expose_secret(), value);
        assert_eq!(record.metadata().get("variable").unwrap(), variable);
    }
    // Only the upper-case variable is looked up.
    let lower = kstlib.lookup(&SecretRequest::new("lower.case")).unwrap();
    assert!(lower.is_none());
}

#[test]
fn an_empty_variable_is_a_hit() {
    set_env();
    let resolver = Resolver::builder()
        .provider(EnvProvider::new().with_prefix("RESOLUTION"))
        .build();
    let record = resolver
        .resolve(&SecretRequest::new("empty").with_default("d"))
        .unwrap();
    assert_eq!(
        (record.source(), record.expose_secret()),
        (SecretSource::Env, "")
    );
}

#[test]
fn eight_threads_share_one_resolver() {
    set_env();
    let resolver = Arc::new(
        Resolver::builder()
            .override_secret("code.value", "from-code")
            .provider(EnvProvider::new().with_prefix("MYAPP"))
            .provider(Fake::new(
                "fake",
                SecretSource::Keyring,
                &[("fake.value", "from-fake")],
            ))
            .build(),
    );
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let resolver = Arc::clone(&resolver);
            std::thread::spawn(move || {
                for round in 0..500 {
                    let (name, expected) = match (i + round) % 4 {
                        0 => ("code.value", "from-code"),
                        1 => ("mail.smtp.password", "myapp-smtp"),
                        2 => ("fake.value", "from-fake"),
                        _ => ("absent.value", "dflt"),
                    };
                    let record = resolver
                        .resolve(&SecretRequest::new(name).with_default("dflt"))
                        .unwrap();
                    assert_eq!(record.expose_secret(), expected);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no thread panicked");
    }
}

#[test]
fn resolver_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Resolver>();
}

#[test]
fn trace_logging_puts_each_miss_in_words_as_it_happens() {
    let resolver = Resolver::builder()
        .provider(EnvProvider::new().with_prefix("TRACE_MISS"))
        .build();
    let logs = support::capture_logs(|| {
        resolver.lookup(&SecretRequest::new("y")).unwrap();
    });
    assert!(logs.contains("TRACE_MISS__Y is not set"), "{logs}");
}
