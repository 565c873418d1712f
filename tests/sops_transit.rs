//! SOPS files whose data key is held by a Vault/OpenBao transit key (`hc_vault` entries), against
//! a real OpenBao dev server (`$BAO_BIN`) with the transit engine enabled, and the real sops 3.11
//! (`$SOPS_BIN`) both ways: files sops writes with `--hc-vault-transit URI` we decrypt, files we
//! write sops decrypts. Also a nested engine path, a key group mixing age and transit under a
//! Shamir threshold, the token sources (`VAULT_TOKEN`, `BAO_TOKEN`, `~/.vault-token`), and the
//! failures a user must hear about (server down, a token without access) without the token in any
//! message. Without either tool every test fails loudly.

mod support;

use std::path::Path;

use support::interop::{KEY1, Keys, Run, Tool};
use support::openbao::{DevServer, ROOT_TOKEN, free_port};
use support::{Sandbox, sops_bin};

const CLEARTEXT: &str = "user: admin\npassword: s3cr3t\n";
/// secret-cascade's exit code for a file it cannot decrypt.
const EXIT_DECRYPTION: i32 = 3;

/// A dev server with transit engines at `transit/` and `team/a/transit/`, each with a key `sops`.
fn transit_server() -> DevServer {
    with_transit(DevServer::start())
}

/// `server` with transit engines at `transit/` and `team/a/transit/`, each with a key `sops`.
fn with_transit(server: DevServer) -> DevServer {
    for mount in ["transit", "team/a/transit"] {
        let (status, body) = server.api(
            "POST",
            &format!("sys/mounts/{mount}"),
            Some(serde_json::json!({ "type": "transit" })),
            None,
        );
        assert!(status == 204 || status == 200, "enabling {mount}: {body}");
        let (status, body) = server.api("POST", &format!("{mount}/keys/sops"), None, None);
        assert!(status == 204 || status == 200, "a key in {mount}: {body}");
    }
    server
}

fn uri(server: &DevServer, engine: &str) -> String {
    format!("{}/v1/{engine}/keys/sops", server.address)
}

/// Runs `tool` with `args` in the sandbox, with no Vault variable but those of `env`, and `keys`
/// as its age identities.
fn run_with(
    tool: Tool,
    sandbox: &Sandbox,
    keys: Option<Keys>,
    env: &[(&str, &str)],
    args: &[&str],
) -> Run {
    let mut cmd = tool.command(sandbox, sandbox.path(), keys);
    for name in [
        "VAULT_TOKEN",
        "BAO_TOKEN",
        "VAULT_ADDR",
        "BAO_ADDR",
        "VAULT_CACERT",
        "BAO_CACERT",
        "VAULT_NAMESPACE",
        "BAO_NAMESPACE",
    ] {
        cmd.env_remove(name);
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.args(args);
    tool.finish(&mut cmd, args.iter().map(|a| a.to_string()).collect())
}

/// `encrypt --hc-vault-transit URI` of `input` with `more` flags, with the root token.
fn encrypt_with(tool: Tool, sandbox: &Sandbox, uri: &str, input: &Path, more: &[&str]) -> Run {
    let input = input.to_str().unwrap();
    let mut args = vec!["encrypt", "--hc-vault-transit", uri];
    args.extend(more);
    match tool {
        Tool::Sops => args.push(input),
        Tool::Ours => args.insert(1, input),
    }
    run_with(tool, sandbox, None, &[("VAULT_TOKEN", ROOT_TOKEN)], &args)
}

/// `encrypt --hc-vault-transit URI` of `input`, which must succeed: the encrypted file.
fn encrypt(tool: Tool, sandbox: &Sandbox, uri: &str, input: &Path) -> Vec<u8> {
    encrypt_with(tool, sandbox, uri, input, &[])
        .expect_ok()
        .stdout
}

fn decrypt(tool: Tool, sandbox: &Sandbox, env: &[(&str, &str)], file: &Path) -> Run {
    run_with(
        tool,
        sandbox,
        None,
        env,
        &["decrypt", file.to_str().unwrap()],
    )
}

#[test]
fn files_sops_writes_with_a_transit_key_we_decrypt_and_ours_sops_decrypts() {
    sops_bin();
    let server = transit_server();
    let sandbox = Sandbox::new();
    let input = sandbox.write("plain.yaml", CLEARTEXT);
    let mut problems = Vec::new();
    for engine in ["transit", "team/a/transit"] {
        let uri = uri(&server, engine);
        for (writer, reader) in [(Tool::Sops, Tool::Ours), (Tool::Ours, Tool::Sops)] {
            let file = sandbox.write_bytes("enc.yaml", &encrypt(writer, &sandbox, &uri, &input));
            let text = std::fs::read_to_string(&file).unwrap();
            let engine_line = format!("engine_path: {engine}");
            if !text.contains(&engine_line) || !text.contains("enc: vault:v1:") {
                problems.push(format!("{engine}: no hc_vault entry in the file:\n{text}"));
            }
            let run = decrypt(reader, &sandbox, &[("VAULT_TOKEN", ROOT_TOKEN)], &file);
            if !run.ok() || run.stdout != CLEARTEXT.as_bytes() {
                problems.push(format!("{engine}: {}", run.outcome()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_token_comes_from_bao_token_or_the_vault_token_file() {
    let server = transit_server();
    let sandbox = Sandbox::new();
    let input = sandbox.write("plain.yaml", CLEARTEXT);
    let file = sandbox.write_bytes(
        "enc.yaml",
        &encrypt(Tool::Ours, &sandbox, &uri(&server, "transit"), &input),
    );
    let run = decrypt(Tool::Ours, &sandbox, &[("BAO_TOKEN", ROOT_TOKEN)], &file);
    assert!(run.ok(), "BAO_TOKEN: {}", run.outcome());
    // ~/.vault-token, as `vault login` / `bao login` write it (with a newline)
    sandbox.write("home/.vault-token", &format!("{ROOT_TOKEN}\n"));
    let run = decrypt(Tool::Ours, &sandbox, &[], &file);
    assert!(run.ok(), "~/.vault-token: {}", run.outcome());
    assert_eq!(run.stdout, CLEARTEXT.as_bytes());
}

#[test]
fn a_key_group_of_age_and_transit_needs_both_under_threshold_two() {
    sops_bin();
    let server = transit_server();
    let sandbox = Sandbox::new();
    sandbox.write(
        ".sops.yaml",
        &format!(
            "creation_rules:\n\
             \x20 - shamir_threshold: 2\n\
             \x20   key_groups:\n\
             \x20     - age:\n\
             \x20         - {KEY1}\n\
             \x20     - hc_vault:\n\
             \x20         - {}\n",
            uri(&server, "transit")
        ),
    );
    let input = sandbox.write("plain.yaml", CLEARTEXT);
    let input = input.to_str().unwrap();
    let token = &[("VAULT_TOKEN", ROOT_TOKEN)];
    let mut problems = Vec::new();
    for (writer, args) in [
        (Tool::Sops, ["encrypt", input]),
        (Tool::Ours, ["encrypt", input]),
    ] {
        let written = run_with(writer, &sandbox, None, token, &args)
            .expect_ok()
            .stdout;
        let file = sandbox.write_bytes("enc.yaml", &written);
        let file = file.to_str().unwrap();
        for reader in [Tool::Sops, Tool::Ours] {
            let both = run_with(reader, &sandbox, Some(Keys::One), token, &["decrypt", file]);
            if !both.ok() || both.stdout != CLEARTEXT.as_bytes() {
                problems.push(format!("age + transit: {}", both.outcome()));
            }
            let age_only = run_with(reader, &sandbox, Some(Keys::One), &[], &["decrypt", file]);
            let transit_only = run_with(reader, &sandbox, None, token, &["decrypt", file]);
            for one in [age_only, transit_only] {
                if one.ok() {
                    problems.push(format!("one group alone opened it: {}", one.outcome()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_token_without_access_is_denied_for_that_key_and_never_shown() {
    let server = transit_server();
    let sandbox = Sandbox::new();
    let input = sandbox.write("plain.yaml", CLEARTEXT);
    let uri = uri(&server, "transit");
    let file = sandbox.write_bytes("enc.yaml", &encrypt(Tool::Ours, &sandbox, &uri, &input));
    // a real token whose policy reads a KV path but may not use transit
    let token = server.token_reading("elsewhere/");
    let run = decrypt(Tool::Ours, &sandbox, &[("VAULT_TOKEN", &token)], &file);
    assert_eq!(run.code, EXIT_DECRYPTION, "{}", run.outcome());
    assert!(
        run.stderr.contains(&uri) && run.stderr.contains("access denied"),
        "{}",
        run.failure()
    );
    assert!(
        !run.stderr.contains(&token),
        "the token leaked: {}",
        run.stderr
    );
    let bogus = "s.not-a-real-token-1234";
    let run = decrypt(Tool::Ours, &sandbox, &[("VAULT_TOKEN", bogus)], &file);
    assert!(
        run.code == EXIT_DECRYPTION && run.stderr.contains("access denied"),
        "{}",
        run.outcome()
    );
    assert!(
        !run.stderr.contains(bogus),
        "the token leaked: {}",
        run.stderr
    );
    // without any token
    let run = decrypt(Tool::Ours, &sandbox, &[], &file);
    assert!(
        run.code == EXIT_DECRYPTION && run.stderr.contains("no Vault token"),
        "{}",
        run.outcome()
    );
}

#[test]
fn a_server_that_is_down_is_reported_and_encrypting_to_it_fails() {
    sops_bin();
    let sandbox = Sandbox::new();
    let input = sandbox.write("plain.yaml", CLEARTEXT);
    let (file, with_age) = {
        let server = transit_server();
        let uri = uri(&server, "transit");
        let written = encrypt(Tool::Ours, &sandbox, &uri, &input);
        let with_age = encrypt_with(Tool::Ours, &sandbox, &uri, &input, &["--age", KEY1])
            .expect_ok()
            .stdout;
        (
            sandbox.write_bytes("enc.yaml", &written),
            sandbox.write_bytes("with-age.yaml", &with_age),
        )
    }; // the server is stopped here
    // A key of the same group that still opens: the server being down is no obstacle.
    let with_age = with_age.to_str().unwrap();
    for tool in [Tool::Ours, Tool::Sops] {
        let run = run_with(
            tool,
            &sandbox,
            Some(Keys::One),
            &[("VAULT_TOKEN", ROOT_TOKEN)],
            &["decrypt", with_age],
        );
        assert!(
            run.ok() && run.stdout == CLEARTEXT.as_bytes(),
            "{}",
            run.outcome()
        );
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let address = text
        .lines()
        .find_map(|l| {
            l.trim()
                .trim_start_matches("- ")
                .strip_prefix("vault_address: ")
        })
        .unwrap()
        .to_owned();
    let run = decrypt(Tool::Ours, &sandbox, &[("VAULT_TOKEN", ROOT_TOKEN)], &file);
    assert_eq!(run.code, EXIT_DECRYPTION, "{}", run.outcome());
    assert!(
        run.stderr.contains("cannot reach") && run.stderr.contains(&address),
        "{}",
        run.failure()
    );
    assert!(
        !run.stderr.contains(ROOT_TOKEN),
        "the token leaked: {}",
        run.stderr
    );

    let nobody = format!("http://127.0.0.1:{}/v1/transit/keys/sops", free_port());
    let out = sandbox.path().join("out.yaml");
    let run = encrypt_with(
        Tool::Ours,
        &sandbox,
        &nobody,
        &input,
        &["--output", out.to_str().unwrap()],
    );
    assert!(
        !run.ok() && run.stderr.contains(&nobody) && !out.exists(),
        "{}",
        run.outcome()
    );
}

#[test]
fn an_https_server_is_trusted_through_vault_cacert_only() {
    sops_bin();
    let certs = tempfile::tempdir().unwrap();
    let server = with_transit(DevServer::start_tls(certs.path()));
    let ca = certs.path().join("vault-ca.pem");
    let sandbox = Sandbox::new();
    let input = sandbox.write("plain.yaml", CLEARTEXT);
    let input = input.to_str().unwrap();
    let uri = uri(&server, "transit");
    let trusted = [
        ("VAULT_TOKEN", ROOT_TOKEN),
        ("VAULT_CACERT", ca.to_str().unwrap()),
    ];
    let mut problems = Vec::new();
    for (writer, reader) in [(Tool::Sops, Tool::Ours), (Tool::Ours, Tool::Sops)] {
        let args = match writer {
            Tool::Sops => ["encrypt", "--hc-vault-transit", &uri, input],
            Tool::Ours => ["encrypt", input, "--hc-vault-transit", &uri],
        };
        let written = run_with(writer, &sandbox, None, &trusted, &args);
        if !written.ok() {
            problems.push(written.failure());
            continue;
        }
        let file = sandbox.write_bytes("enc.yaml", &written.stdout);
        let file = file.to_str().unwrap();
        let read = run_with(reader, &sandbox, None, &trusted, &["decrypt", file]);
        if !read.ok() || read.stdout != CLEARTEXT.as_bytes() {
            problems.push(read.outcome());
        }
        // Without the CA the server's certificate is not trusted: never a silent downgrade.
        let untrusted = run_with(
            Tool::Ours,
            &sandbox,
            None,
            &trusted[..1],
            &["decrypt", file],
        );
        if untrusted.code != EXIT_DECRYPTION || !untrusted.stderr.contains("cannot reach") {
            problems.push(format!("without VAULT_CACERT: {}", untrusted.outcome()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
