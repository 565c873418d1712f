//! `kind: vault` against a real OpenBao dev server (scripts/install-openbao): hits, misses, scopes
//! and path templates, AppRole login, policies (403 is `Error::Denied`, exit 5, or skipped with
//! `on_denied: skip`), a server that is down is unavailable within `timeout_ms`, and no value or
//! token in any error, `Debug` or log.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use secret_cascade::{Error, ExposeSecret, Resolver, SecretRequest, SecretSource};
use serde_json::json;
use support::openbao::{DevServer, ROOT_TOKEN, free_port};
use support::{Sandbox, run};

fn config(dir: &Path, layer: &str) -> PathBuf {
    let path = dir.join("secret-cascade.yml");
    std::fs::write(&path, format!("providers:\n  - kind: vault\n{layer}")).unwrap();
    path
}

fn token_layer(server: &DevServer, token: &str, extra: &str) -> String {
    format!(
        "    address: {}\n    auth:\n      method: token\n      token: {token}\n{extra}",
        server.address
    )
}

const VALUE: &str = "vault-s3cr3t-2b9e";

#[test]
fn names_map_to_kv_paths_and_keys_with_scalars_as_text() {
    let server = DevServer::start();
    server.put(
        "myapp/db",
        json!({"password": VALUE, "port": 5432, "tls": true, "hosts": ["a", "b"], "none": null}),
    );
    server.put("myapp", json!({"token": "top"}));
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        &token_layer(&server, ROOT_TOKEN, "    path: myapp\n"),
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    let resolve = |name: &str| resolver.resolve(&SecretRequest::new(name));
    let record = resolve("db.password").unwrap();
    assert_eq!(record.expose_secret(), VALUE);
    assert_eq!(record.source(), SecretSource::Vault);
    assert_eq!(record.metadata().get("path"), Some("secret/data/myapp/db"));
    assert_eq!(record.metadata().get("key"), Some("password"));
    assert_eq!(resolve("db.port").unwrap().expose_secret(), "5432");
    assert_eq!(resolve("db.tls").unwrap().expose_secret(), "true");
    assert_eq!(resolve("db.hosts").unwrap().expose_secret(), r#"["a","b"]"#);
    assert_eq!(resolve("token").unwrap().expose_secret(), "top");
    for missing in ["db.none", "db.absent", "other.key"] {
        let error = resolve(missing).unwrap_err();
        assert!(
            matches!(error, Error::NotFound { .. }),
            "{missing}: {error}"
        );
    }
    let dotted = SecretRequest::new("x").with_key_path(["db", "password"]);
    assert_eq!(resolver.resolve(&dotted).unwrap().expose_secret(), VALUE);
}

#[test]
fn the_path_template_takes_team_job_and_the_request_scope() {
    let server = DevServer::start();
    server.put(
        "teams/payments/jobs/nightly/billing/db",
        json!({"password": VALUE}),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        &token_layer(
            &server,
            ROOT_TOKEN,
            "    path: teams/{team}/jobs/{job}/{scope}\n    team: payments\n    job: nightly\n",
        ),
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    let request = SecretRequest::new("db.password").with_scope("billing");
    assert_eq!(resolver.resolve(&request).unwrap().expose_secret(), VALUE);

    let path = config(
        dir.path(),
        &token_layer(&server, ROOT_TOKEN, "    path: teams/{team}\n"),
    );
    let Err(Error::Config(error)) = Resolver::from_config_file(&path) else {
        panic!("{{team}} without `team` must be refused");
    };
    assert_eq!(error.key(), Some("providers[0].path"));
}

#[test]
fn a_token_without_the_policy_is_denied_and_stops_the_chain_with_exit_5() {
    let server = DevServer::start();
    server.put("teams/a/db", json!({"password": "a-value"}));
    server.put("teams/b/db", json!({"password": VALUE}));
    let token = server.token_reading("teams/a/");
    let sandbox = Sandbox::new();
    let path = config(
        sandbox.path(),
        &format!(
            "{}  - kind: env\n",
            token_layer(&server, &token, "    path: teams/b\n")
        ),
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    let request = SecretRequest::new("db.password").with_default("never used");
    let error = resolver.resolve(&request).unwrap_err();
    assert!(matches!(error, Error::Denied { .. }), "{error:?}");
    assert!(!error.to_string().contains(&token) && !format!("{error:?}").contains(&token));

    let (code, stdout, stderr) = run(sandbox
        .cli()
        .args(["get", "db.password", "--config"])
        .arg(&path));
    assert_eq!(code, 5, "{stdout}{stderr}");
    assert!(stderr.contains("denied"), "{stderr}");
    assert!(
        !stderr.contains(&token) && !stderr.contains(VALUE),
        "{stderr}"
    );

    // `on_denied: skip`: the layer is passed over and the chain goes on.
    let path = config(
        sandbox.path(),
        &token_layer(&server, &token, "    path: teams/b\n    on_denied: skip\n"),
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    let record = resolver.resolve(&request).unwrap();
    assert_eq!(record.source(), SecretSource::Default);
    // The token still reads what its policy allows.
    let path = config(
        sandbox.path(),
        &token_layer(&server, &token, "    path: teams/a\n"),
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    assert_eq!(
        resolver
            .resolve(&SecretRequest::new("db.password"))
            .unwrap()
            .expose_secret(),
        "a-value"
    );
}

#[test]
fn approle_logs_in_and_reads_with_its_policy() {
    let server = DevServer::start();
    server.put("myapp/db", json!({"password": VALUE}));
    let (status, _) = server.api(
        "POST",
        "sys/auth/approle",
        Some(json!({"type": "approle"})),
        None,
    );
    assert!(status == 204 || status == 200);
    let (status, _) = server.api(
        "PUT",
        "sys/policies/acl/myapp",
        Some(json!({"policy": "path \"secret/data/myapp/*\" { capabilities = [\"read\"] }"})),
        None,
    );
    assert!(status == 204 || status == 200);
    let (status, _) = server.api(
        "POST",
        "auth/approle/role/app",
        Some(json!({"token_policies": ["myapp"], "token_ttl": "1h"})),
        None,
    );
    assert!(status == 204 || status == 200);
    let (_, body) = server.api("GET", "auth/approle/role/app/role-id", None, None);
    let role_id = body["data"]["role_id"].as_str().unwrap().to_owned();
    let (_, body) = server.api(
        "POST",
        "auth/approle/role/app/secret-id",
        Some(json!({})),
        None,
    );
    let secret_id = body["data"]["secret_id"].as_str().unwrap().to_owned();

    let dir = tempfile::tempdir().unwrap();
    // SAFETY: std serializes its own environment access; variables of this test alone.
    unsafe { std::env::set_var("VT_SECRET_ID", &secret_id) };
    let layer = format!(
        "    address: {}\n    path: myapp\n    auth:\n      method: approle\n      role_id: {role_id}\n      \
         secret_id: ${{env:VT_SECRET_ID}}\n",
        server.address
    );
    let path = config(dir.path(), &layer);
    let resolver = Resolver::from_config_file(&path).unwrap();
    let logs = support::capture_logs(|| {
        let record = resolver
            .resolve(&SecretRequest::new("db.password"))
            .unwrap();
        assert_eq!(record.expose_secret(), VALUE);
    });
    assert!(
        !logs.contains(&secret_id) && !logs.contains(VALUE),
        "{logs}"
    );
    assert!(!format!("{resolver:?}").contains(&secret_id));

    // A wrong secret id: the login fails, an error (not a silent miss) naming no secret.
    unsafe { std::env::set_var("VT_SECRET_ID", "00000000-0000-0000-0000-000000000000") };
    let resolver = Resolver::from_config_file(&path).unwrap();
    let error = resolver
        .resolve(&SecretRequest::new("db.password"))
        .unwrap_err();
    assert!(
        matches!(error, Error::Provider { .. } | Error::Denied { .. }),
        "{error:?}"
    );
}

#[test]
fn a_server_that_is_down_is_unavailable_within_the_timeout_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        &format!(
            "    addresses: [http://127.0.0.1:{}, http://127.0.0.1:{}]\n    timeout_ms: 500\n    \
             auth: {{method: token, token: t}}\n  - kind: env\n    prefix: VT_DOWN\n",
            free_port(),
            free_port()
        ),
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    let started = Instant::now();
    let error = resolver
        .resolve(&SecretRequest::new("db.password"))
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "bounded");
    let Error::NotFound { tried, .. } = &error else {
        panic!("{error:?}");
    };
    assert!(tried[0].to_string().contains("unavailable"), "{error}");
    assert!(tried[1].layer == "env", "{error}");
}

#[test]
fn a_cluster_address_list_goes_on_to_a_node_that_answers() {
    let server = DevServer::start();
    server.put("myapp/db", json!({"password": VALUE}));
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        &format!(
            "    addresses: [http://127.0.0.1:{}, {}]\n    path: myapp\n    auth: {{method: token, token: {ROOT_TOKEN}}}\n",
            free_port(),
            server.address
        ),
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    let record = resolver
        .resolve(&SecretRequest::new("db.password"))
        .unwrap();
    assert_eq!(record.expose_secret(), VALUE);
}

#[test]
fn set_list_and_delete_write_the_kv_secret_and_concurrent_writers_lose_nothing() {
    let server = DevServer::start();
    server.put("myapp/db", json!({"user": "app"}));
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        &token_layer(
            &server,
            ROOT_TOKEN,
            "    path: myapp\n    cache_ttl_ms: 60000\n",
        ),
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    let (_, layer) = resolver
        .managed_layers()
        .next()
        .expect("a vault layer can be written");
    layer.set("db.password", VALUE.into()).unwrap();
    // A cached miss never exists, and the set evicted nothing stale: the new value reads back.
    let read = |name: &str| resolver.resolve(&SecretRequest::new(name));
    assert_eq!(read("db.password").unwrap().expose_secret(), VALUE);
    assert_eq!(
        read("db.user").unwrap().expose_secret(),
        "app",
        "the other key is kept"
    );
    layer.set("db.password", "second".into()).unwrap();
    assert_eq!(
        read("db.password").unwrap().expose_secret(),
        "second",
        "set evicts the cache"
    );

    // Eight writers, each its own key of the same secret: check-and-set keeps every one.
    std::thread::scope(|scope| {
        for i in 0..8 {
            scope.spawn(move || {
                layer
                    .set(&format!("db.key{i}"), format!("v{i}").into())
                    .unwrap()
            });
        }
    });
    let names = layer.list().unwrap();
    for i in 0..8 {
        assert!(names.contains(&format!("db.key{i}")), "{names:?}");
    }
    assert!(names.contains(&"db.user".to_owned()) && names.contains(&"db.password".to_owned()));

    layer.delete("db.key0").unwrap();
    assert!(
        resolver
            .lookup(&SecretRequest::new("db.key0"))
            .unwrap()
            .is_none()
    );
    let error = layer.delete("db.key0").unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");

    // The same through the command line, the value from stdin.
    let sandbox = Sandbox::new();
    let (code, _, stderr) = run(sandbox
        .cli()
        .args(["store", "set", "db.cli", "--config"])
        .arg(&path)
        .write_stdin("from-stdin\n"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(read("db.cli").unwrap().expose_secret(), "from-stdin");
    let (code, stdout, _) = run(sandbox.cli().args(["store", "list", "--config"]).arg(&path));
    assert_eq!(code, 0);
    assert!(
        stdout.lines().any(|l| l == "db.cli") && !stdout.contains("from-stdin"),
        "{stdout}"
    );
}

#[test]
fn the_vault_command_sets_gets_lists_masked_and_deletes_for_a_team_and_job() {
    let server = DevServer::start();
    let sandbox = Sandbox::new();
    let path = config(
        sandbox.path(),
        &token_layer(
            &server,
            ROOT_TOKEN,
            "    path: teams/{team}/jobs/{job}\n    team: default-team\n    job: default-job\n",
        ),
    );
    let vault = |args: &[&str]| {
        let mut cmd = sandbox.cli();
        cmd.arg("vault").args(args).arg("--config").arg(&path);
        cmd
    };
    let team = ["--team", "payments", "--job", "nightly"];
    let (code, _, stderr) = run(
        vault(&[&["set", "db.password"][..], &team].concat()).write_stdin(format!("{VALUE}\n"))
    );
    assert_eq!(code, 0, "{stderr}");
    let (_, body) = server.api(
        "GET",
        "secret/data/teams/payments/jobs/nightly/db",
        None,
        None,
    );
    assert_eq!(
        body["data"]["data"]["password"], VALUE,
        "written for the team and job asked"
    );

    let (code, stdout, _) = run(&mut vault(&[&["get", "db.password"][..], &team].concat()));
    assert_eq!((code, stdout.trim_end()), (0, VALUE));
    let (code, stdout, _) = run(&mut vault(&[&["list"][..], &team].concat()));
    assert_eq!(code, 0);
    assert_eq!(stdout, "db.password = ********\n", "masked");
    let (_, stdout, _) = run(&mut vault(&[&["list", "--show"][..], &team].concat()));
    assert_eq!(stdout, format!("db.password = {VALUE}\n"));

    let (code, _, _) = run(&mut vault(
        &[&["delete", "db.password"][..], &team].concat(),
    ));
    assert_eq!(code, 0);
    let (code, _, stderr) = run(&mut vault(&[&["get", "db.password"][..], &team].concat()));
    assert_eq!(code, 1, "{stderr}");
    let (code, _, stderr) = run(&mut vault(
        &[&["delete", "db.password"][..], &team].concat(),
    ));
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains(VALUE));
    // The layer's own team and job when none is given.
    let (code, _, stderr) = run(vault(&["set", "x"]).write_stdin("y"));
    assert_eq!(code, 0, "{stderr}");
    let (_, body) = server.api(
        "GET",
        "secret/data/teams/default-team/jobs/default-job",
        None,
        None,
    );
    assert_eq!(body["data"]["data"]["x"], "y");
}

#[test]
fn an_approle_token_is_renewed_before_expiry_and_obtained_again_past_its_max_ttl() {
    let server = DevServer::start();
    server.put("myapp/db", json!({"password": VALUE}));
    let ok = |(status, body): (u16, serde_json::Value)| {
        assert!(status == 200 || status == 204, "{body}");
    };
    ok(server.api(
        "POST",
        "sys/auth/approle",
        Some(json!({"type": "approle"})),
        None,
    ));
    ok(server.api(
        "PUT",
        "sys/policies/acl/myapp",
        Some(json!({"policy": "path \"secret/data/myapp/*\" { capabilities = [\"read\"] }"})),
        None,
    ));
    // Tokens live 3 s, renewable up to 5 s in all.
    ok(server.api(
        "POST",
        "auth/approle/role/short",
        Some(json!({"token_policies": ["myapp"], "token_ttl": "3s", "token_max_ttl": "5s"})),
        None,
    ));
    let (_, body) = server.api("GET", "auth/approle/role/short/role-id", None, None);
    let role_id = body["data"]["role_id"].as_str().unwrap().to_owned();
    let (_, body) = server.api(
        "POST",
        "auth/approle/role/short/secret-id",
        Some(json!({})),
        None,
    );
    let secret_id = body["data"]["secret_id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        &format!(
            "    address: {}\n    path: myapp\n    auth: {{method: approle, role_id: {role_id}, \
             secret_id: {secret_id}}}\n",
            server.address
        ),
    );
    let resolver = Resolver::from_config_file(&path).unwrap();
    let request = SecretRequest::new("db.password");
    // Past two thirds of the lease the token is renewed, past the max TTL renewal is refused and
    // a new login follows: every lookup over 8 s answers.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(8) {
        let record = resolver.resolve(&request).unwrap();
        assert_eq!(record.expose_secret(), VALUE);
        std::thread::sleep(Duration::from_millis(400));
    }
}

#[test]
fn https_servers_are_trusted_through_ca_file_or_refused() {
    let certs = tempfile::tempdir().unwrap();
    let server = DevServer::start_tls(certs.path());
    server.put("myapp/db", json!({"password": VALUE}));
    let ca = certs.path().join("vault-ca.pem");
    assert!(ca.exists(), "the dev server wrote its CA");
    let dir = tempfile::tempdir().unwrap();
    let resolve = |extra: &str| {
        let path = config(
            dir.path(),
            &token_layer(
                &server,
                ROOT_TOKEN,
                &format!("    path: myapp\n    timeout_ms: 800\n{extra}"),
            ),
        );
        Resolver::from_config_file(&path)
            .unwrap()
            .lookup(&SecretRequest::new("db.password"))
    };
    let trusted = resolve(&format!("    ca_file: {}\n", ca.display()))
        .unwrap()
        .unwrap();
    assert_eq!(trusted.expose_secret(), VALUE);
    // Without the CA the certificate is not trusted: the layer is unavailable, never answered.
    assert!(resolve("").unwrap().is_none());
    let insecure = resolve("    insecure_skip_verify: true\n")
        .unwrap()
        .unwrap();
    assert_eq!(insecure.expose_secret(), VALUE);
}

#[test]
fn without_auth_the_token_comes_from_vault_token_bao_token_then_the_token_file() {
    let server = DevServer::start();
    server.put("myapp/db", json!({"password": VALUE}));
    let sandbox = Sandbox::new();
    let path = config(
        sandbox.path(),
        &format!("    address: {}\n    path: myapp\n", server.address),
    );
    let get = |env: &[(&str, &str)]| {
        let mut cmd = sandbox.cli();
        cmd.env_remove("VAULT_TOKEN").env_remove("BAO_TOKEN");
        for (name, value) in env {
            cmd.env(name, value);
        }
        run(cmd.args(["get", "db.password", "--config"]).arg(&path))
    };
    // No token anywhere: a config error that says where a token may come from.
    let (code, _, stderr) = get(&[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("VAULT_TOKEN") && stderr.contains(".vault-token"),
        "{stderr}"
    );
    // `bao login` leaves ~/.vault-token.
    sandbox.write("home/.vault-token", &format!("{ROOT_TOKEN}\n"));
    let (code, stdout, stderr) = get(&[]);
    assert_eq!((code, stdout.trim_end()), (0, VALUE), "{stderr}");
    // The variables come first: a wrong one is used, and denied (exit 5), the file ignored.
    for variable in ["VAULT_TOKEN", "BAO_TOKEN"] {
        let (code, _, stderr) = get(&[(variable, "not-a-token")]);
        assert_eq!(code, 5, "{variable}: {stderr}");
        assert!(
            !stderr.contains("not-a-token") && !stderr.contains(ROOT_TOKEN),
            "{stderr}"
        );
    }
}
