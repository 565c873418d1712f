//! The memory layer, `kind: memory` and ModelMesh's `modelmesh.memory-secrets.v1`: values from
//! code and from the config's `secrets:` (references expanded, errors naming the entry), flat
//! names, management (set, list in code-point order, delete; a missing name is `NotFound`), the
//! options of both ids, and no value in errors, `Debug` or logs.

mod support;

use secret_cascade::providers::MemoryProvider;
use secret_cascade::{
    Error, ExposeSecret, Management, Provider, Resolver, SecretRequest, SecretSource, SecretString,
};
use support::{Sandbox, capture_logs};

fn value(resolver: &Resolver, request: &SecretRequest) -> Option<String> {
    let record = resolver.lookup(request).unwrap();
    record.map(|record| record.expose_secret().to_owned())
}

#[test]
fn config_values_expand_references_and_names_are_flat() {
    // SAFETY: std serializes its own environment access, a variable no other test uses, and
    // nothing in this test binary reads the environment outside std.
    unsafe { std::env::set_var("SCMEM_API_KEY", "from-the-environment") };
    let sandbox = Sandbox::new();
    sandbox.write("token.txt", "from-a-file\n");
    let secrets = "    secrets:\n      api.key: ${env:SCMEM_API_KEY}\n      token: ${file:token.txt}\n      \
         mixed: \"id-${env:SCMEM_API_KEY}\"\n      empty: \"\"\n";
    for kind in ["memory", "modelmesh.memory-secrets.v1"] {
        let resolver = sandbox.one_layer(kind, secrets).unwrap();
        let record = resolver.resolve(&SecretRequest::new("api.key")).unwrap();
        assert_eq!(record.expose_secret(), "from-the-environment");
        assert_eq!(record.source(), SecretSource::Memory);
        assert_eq!(record.metadata().get("name"), Some("api.key"));
        let scoped = SecretRequest::new("key").with_scope("api");
        assert_eq!(
            value(&resolver, &scoped).as_deref(),
            Some("from-the-environment")
        );
        let path = SecretRequest::new("key").with_key_path(["api", "key"]);
        assert_eq!(value(&resolver, &path), None, "names are flat, not paths");
        let token = value(&resolver, &SecretRequest::new("token"));
        assert_eq!(token.as_deref(), Some("from-a-file"));
        let mixed = value(&resolver, &SecretRequest::new("mixed"));
        assert_eq!(mixed.as_deref(), Some("id-from-the-environment"));
        assert_eq!(
            value(&resolver, &SecretRequest::new("empty")).as_deref(),
            Some("")
        );
        assert_eq!(value(&resolver, &SecretRequest::new("api")), None);
    }
}

#[test]
fn a_bad_entry_is_a_config_error_naming_it() {
    let sandbox = Sandbox::new();
    for (options, key, words) in [
        (
            "    secrets:\n      db.password: ${env:SCMEM_NEVER_SET}\n",
            "providers[0].secrets.db.password",
            "SCMEM_NEVER_SET is not set",
        ),
        (
            "    secrets:\n      port: 8080\n",
            "providers[0].secrets.port",
            "expected a string (quote numbers), found an integer",
        ),
        (
            "    secrets: [a, b]\n",
            "providers[0].secrets",
            "expected a mapping of names to strings, found a list",
        ),
    ] {
        let Err(Error::Config(error)) = sandbox.one_layer("memory", options) else {
            panic!("accepted {options}");
        };
        assert_eq!(error.key(), Some(key), "{error}");
        assert!(error.message().contains(words), "{error}");
    }
}

#[test]
fn management_sets_lists_in_code_point_order_and_deletes() {
    let memory = MemoryProvider::new().with_secret("B", "b");
    for name in ["a", "é", "10", "_", "9"] {
        memory.set(name, SecretString::from(name)).unwrap();
    }
    assert_eq!(memory.list().unwrap(), ["10", "9", "B", "_", "a", "é"]);
    memory.set("B", SecretString::from("replaced")).unwrap();
    let resolver = Resolver::builder().provider(memory).build();
    assert_eq!(
        value(&resolver, &SecretRequest::new("B")).as_deref(),
        Some("replaced")
    );
    let (label, managed) = resolver.managed_layers().next().unwrap();
    assert_eq!(label, "memory");
    managed.delete("B").unwrap();
    assert_eq!(value(&resolver, &SecretRequest::new("B")), None);
    let error = managed.delete("B").unwrap_err();
    let Error::NotFound { name, tried, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(name, "B");
    assert_eq!(tried[0].layer, "memory");
    assert!(error.to_string().contains("memory"), "{error}");
}

#[test]
fn modelmesh_options_are_read_and_unknown_ones_refused_naming_the_key() {
    let sandbox = Sandbox::new();
    let every_option = "    secrets:\n      OPENAI_API_KEY: sk-test\n    cache_enabled: true\n    \
         cache_ttl_ms: 300000\n    fail_on_missing: true\n";
    let resolver = sandbox
        .one_layer("modelmesh.memory-secrets.v1", every_option)
        .unwrap();
    let (_, managed) = resolver.managed_layers().next().unwrap();
    let key = SecretRequest::new("OPENAI_API_KEY");
    assert_eq!(value(&resolver, &key).as_deref(), Some("sk-test"));
    managed
        .set("OPENAI_API_KEY", SecretString::from("rotated"))
        .unwrap();
    assert_eq!(
        value(&resolver, &key).as_deref(),
        Some("rotated"),
        "a set is seen at once"
    );
    for (kind, options, key) in [
        (
            "modelmesh.memory-secrets.v1",
            "    file_path: x\n",
            "file_path",
        ),
        ("memory", "    cache_ttl_ms: 5\n", "cache_ttl_ms"),
        ("memory", "    fail_on_missing: false\n", "fail_on_missing"),
    ] {
        let Err(Error::Config(error)) = sandbox.one_layer(kind, options) else {
            panic!("{kind} accepted {options}");
        };
        assert_eq!(error.key(), Some(format!("providers[0].{key}").as_str()));
        assert!(
            error
                .message()
                .starts_with(&format!("unknown option `{key}`")),
            "{error}"
        );
    }
    for (options, key, message) in [
        (
            "    cache_ttl_ms: -1\n",
            "cache_ttl_ms",
            "expected a whole number of at least 0",
        ),
        (
            "    cache_enabled: yes please\n",
            "cache_enabled",
            "expected true or false",
        ),
    ] {
        let Err(Error::Config(error)) = sandbox.one_layer("modelmesh.memory-secrets.v1", options)
        else {
            panic!("accepted {options}");
        };
        assert_eq!(error.key(), Some(format!("providers[0].{key}").as_str()));
        assert!(error.message().starts_with(message), "{error}");
    }
    // `fail_on_missing: false`: a name the layer lacks is ModelMesh's `""`.
    let resolver = sandbox
        .one_layer(
            "modelmesh.memory-secrets.v1",
            "    fail_on_missing: false\n",
        )
        .unwrap();
    let record = resolver.resolve(&SecretRequest::new("absent")).unwrap();
    assert_eq!(record.expose_secret(), "");
}

#[test]
fn no_value_reaches_an_error_debug_or_log() {
    const CANARY: &str = "canary-memory-2b9c";
    let mut shown = Vec::new();
    let logs = capture_logs(|| {
        let memory = MemoryProvider::new().with_secret("token", CANARY);
        memory.set("other", SecretString::from(CANARY)).unwrap();
        shown.push(format!("{memory:?} {:?}", memory.diagnose()));
        let resolver = Resolver::builder().provider(memory).build();
        for name in ["token", "absent"] {
            match resolver.resolve(&SecretRequest::new(name)) {
                Ok(record) => shown.push(format!("{record:?}")),
                Err(error) => shown.push(format!("{error} {error:?}")),
            }
        }
        let (_, managed) = resolver.managed_layers().next().unwrap();
        let error = managed.delete("absent").unwrap_err();
        shown.push(format!("{error} {error:?} {resolver:?}"));
    });
    assert!(shown[0].contains("token"), "{shown:?}");
    for text in shown.iter().chain([&logs]) {
        assert!(!text.contains(CANARY), "{text}");
    }
}
