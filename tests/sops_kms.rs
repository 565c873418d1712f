//! SOPS files whose data key is held by an AWS KMS key (`kms` entries), against a real local AWS:
//! moto (`$MOTO_SERVER`), which checks every request's Signature Version 4 and the IAM policy of
//! the access key that signed it, as AWS does. The real sops 3.11 (`$SOPS_BIN`) is pointed at it
//! with `AWS_ENDPOINT_URL` too: files it writes with `--kms ARN` we decrypt, files we write it
//! decrypts, with an encryption context, through an assumed role, and with credentials from
//! profiles of temporary shared files. Also the failures a user must hear about (refused
//! credentials, no credentials, an unreachable endpoint) without a secret in any message. Without
//! either tool every test fails loudly.

mod support;

use std::path::Path;

use support::interop::{Run, Tool};
use support::moto::{Moto, ROLE_ARN};
use support::openbao::free_port;
use support::{Sandbox, sops_bin};

const CLEARTEXT: &str = "user: admin\npassword: s3cr3t\n";
/// secret-cascade's exit code for a file it cannot decrypt.
const EXIT_DECRYPTION: i32 = 3;
/// A secret moto did not issue.
const WRONG_SECRET: &str = "wrong/secret/NOT+ISSUED+BY+MOTO+0000000000";

/// Every AWS variable through which the machine's credentials or endpoints could reach a run.
const AWS_VARIABLES: [&str; 11] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_ENDPOINT_URL_STS",
    "AWS_REGION",
];

/// Runs `tool` with `args` in the sandbox with only the AWS variables of `env`.
fn run(tool: Tool, sandbox: &Sandbox, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = tool.command(sandbox, sandbox.path(), None);
    for name in AWS_VARIABLES {
        cmd.env_remove(name);
    }
    // The SDK that sops uses looks for instance credentials last: not on this machine.
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.args(args);
    tool.finish(&mut cmd, args.iter().map(|a| a.to_string()).collect())
}

/// The endpoint and the user's key as environment variables.
fn environment(moto: &Moto) -> Vec<(&'static str, &str)> {
    vec![
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", moto.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", moto.secret_access_key.as_str()),
    ]
}

fn encrypt(
    tool: Tool,
    sandbox: &Sandbox,
    env: &[(&str, &str)],
    flags: &[&str],
    input: &Path,
) -> Run {
    let input = input.to_str().unwrap();
    let mut args = vec!["encrypt"];
    match tool {
        Tool::Sops => args.extend(flags.iter().copied().chain([input])),
        Tool::Ours => args.extend([input].into_iter().chain(flags.iter().copied())),
    }
    run(tool, sandbox, env, &args)
}

fn decrypt(tool: Tool, sandbox: &Sandbox, env: &[(&str, &str)], file: &Path) -> Run {
    run(tool, sandbox, env, &["decrypt", file.to_str().unwrap()])
}

/// Each tool writes with `flags` and `env`; the other tool and the writer itself must decrypt it.
fn both_ways(sandbox: &Sandbox, env: &[(&str, &str)], flags: &[&str], label: &str) -> Vec<String> {
    let input = sandbox.write("plain.yaml", CLEARTEXT);
    let mut problems = Vec::new();
    for writer in [Tool::Sops, Tool::Ours] {
        let written = encrypt(writer, sandbox, env, flags, &input);
        if !written.ok() {
            problems.push(format!("{label}: {}", written.failure()));
            continue;
        }
        let file = sandbox.write_bytes("enc.yaml", &written.stdout);
        for reader in [Tool::Sops, Tool::Ours] {
            let read = decrypt(reader, sandbox, env, &file);
            if !read.ok() || read.stdout != CLEARTEXT.as_bytes() {
                problems.push(format!(
                    "{label}: written by {}: {}",
                    written.tool,
                    read.outcome()
                ));
            }
        }
    }
    problems
}

#[test]
fn files_sops_writes_with_a_kms_key_we_decrypt_and_ours_sops_decrypts() {
    sops_bin();
    let moto = Moto::start();
    let sandbox = Sandbox::new();
    let mut problems = both_ways(
        &sandbox,
        &environment(&moto),
        &["--kms", &moto.key_arn],
        "AWS_ENDPOINT_URL",
    );
    // AWS_ENDPOINT_URL_KMS wins over AWS_ENDPOINT_URL (here a port nobody listens on).
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let mut env = environment(&moto);
    env[0] = ("AWS_ENDPOINT_URL", &nowhere);
    env.push(("AWS_ENDPOINT_URL_KMS", &moto.endpoint));
    problems.extend(both_ways(
        &sandbox,
        &env,
        &["--kms", &moto.key_arn],
        "AWS_ENDPOINT_URL_KMS",
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_encryption_context_is_sent_and_binds_the_data_key() {
    sops_bin();
    let moto = Moto::start();
    let sandbox = Sandbox::new();
    sandbox.write(
        ".sops.yaml",
        &format!(
            "creation_rules:\n\
             \x20 - key_groups:\n\
             \x20     - kms:\n\
             \x20         - arn: {}\n\
             \x20           context:\n\
             \x20             app: billing\n\
             \x20             stage: prod\n",
            moto.key_arn
        ),
    );
    let env = environment(&moto);
    let mut problems = both_ways(&sandbox, &env, &[], "context");
    // The context is not covered by the MAC: changing it must make KMS refuse, for both tools.
    let input = sandbox.path().join("plain.yaml");
    let ours = encrypt(Tool::Ours, &sandbox, &env, &[], &input).expect_ok();
    let text = String::from_utf8(ours.stdout).unwrap();
    assert!(text.contains("app: billing"), "no context written:\n{text}");
    let tampered = sandbox.write(
        "tampered.yaml",
        &text.replace("app: billing", "app: payroll"),
    );
    for reader in [Tool::Sops, Tool::Ours] {
        let read = decrypt(reader, &sandbox, &env, &tampered);
        if read.ok() {
            problems.push(format!(
                "a changed context still opened it: {}",
                read.outcome()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_role_is_assumed_through_sts_before_calling_kms() {
    sops_bin();
    let moto = Moto::start();
    let sandbox = Sandbox::new();
    // A user who may only assume the role: KMS answers it only through the role.
    let env = [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", moto.role_only_key.0.as_str()),
        ("AWS_SECRET_ACCESS_KEY", moto.role_only_key.1.as_str()),
    ];
    let input = sandbox.write("plain.yaml", CLEARTEXT);
    let direct = encrypt(
        Tool::Ours,
        &sandbox,
        &env,
        &["--kms", &moto.key_arn],
        &input,
    );
    assert!(
        !direct.ok() && direct.stderr.contains("access denied"),
        "without the role KMS must deny this user: {}",
        direct.outcome()
    );
    let key = format!("{}+{ROLE_ARN}", moto.key_arn);
    let problems = both_ways(&sandbox, &env, &["--kms", &key], "role");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let text = std::fs::read_to_string(sandbox.path().join("enc.yaml")).unwrap();
    assert!(text.contains(&format!("role: {ROLE_ARN}")), "{text}");
}

#[test]
fn profiles_of_the_shared_files_give_the_credentials() {
    sops_bin();
    let moto = Moto::start();
    let sandbox = Sandbox::new();
    let good = format!(
        "aws_access_key_id = {}\naws_secret_access_key = {}\n",
        moto.access_key_id, moto.secret_access_key
    );
    let bad = format!(
        "aws_access_key_id = {}\naws_secret_access_key = {WRONG_SECRET}\n",
        moto.access_key_id
    );
    let credentials = sandbox.write(
        "aws/credentials",
        &format!("[default]\n{bad}\n[dev]\n{good}"),
    );
    let config = sandbox.write(
        "aws/config",
        &format!("[default]\n{bad}\n[profile cfg]\n{good}"),
    );
    let credentials = credentials.to_str().unwrap();
    let config = config.to_str().unwrap();
    // The environment's keys are wrong: the entry's aws_profile must win over them, as in sops.
    let files = [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials),
        ("AWS_CONFIG_FILE", config),
        ("AWS_ACCESS_KEY_ID", moto.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", WRONG_SECRET),
    ];
    let mut problems = Vec::new();
    // --aws-profile dev (the credentials file), recorded in the file as aws_profile.
    let input = sandbox.write("plain.yaml", CLEARTEXT);
    let ours = encrypt(
        Tool::Ours,
        &sandbox,
        &files,
        &["--kms", &moto.key_arn, "--aws-profile", "dev"],
        &input,
    );
    match ours.ok() {
        true => {
            let file = sandbox.write_bytes("dev.yaml", &ours.stdout);
            let text = std::fs::read_to_string(&file).unwrap();
            if !text.contains("aws_profile: dev") {
                problems.push(format!("aws_profile not written:\n{text}"));
            }
            for reader in [Tool::Sops, Tool::Ours] {
                let read = decrypt(reader, &sandbox, &files, &file);
                if !read.ok() || read.stdout != CLEARTEXT.as_bytes() {
                    problems.push(format!("aws_profile dev: {}", read.outcome()));
                }
            }
        }
        false => problems.push(format!("--aws-profile dev: {}", ours.failure())),
    }
    // AWS_PROFILE=cfg (the config file's [profile cfg]), without keys in the environment (which
    // would win over AWS_PROFILE in sops's Go SDK, and in ours).
    let mut with_profile = files[..3].to_vec();
    with_profile.push(("AWS_PROFILE", "cfg"));
    problems.extend(both_ways(
        &sandbox,
        &with_profile,
        &["--kms", &moto.key_arn],
        "AWS_PROFILE=cfg",
    ));
    // No variable at all: the default profile of ~/.aws/credentials.
    sandbox.write("home/.aws/credentials", &format!("[default]\n{good}"));
    let home_only = [("AWS_ENDPOINT_URL", moto.endpoint.as_str())];
    problems.extend(both_ways(
        &sandbox,
        &home_only,
        &["--kms", &moto.key_arn],
        "~/.aws/credentials",
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn refused_or_missing_credentials_and_an_unreachable_endpoint_are_reported_without_secrets() {
    let moto = Moto::start();
    let sandbox = Sandbox::new();
    let input = sandbox.write("plain.yaml", CLEARTEXT);
    let env = environment(&moto);
    let file = sandbox.write_bytes(
        "enc.yaml",
        &encrypt(
            Tool::Ours,
            &sandbox,
            &env,
            &["--kms", &moto.key_arn],
            &input,
        )
        .expect_ok()
        .stdout,
    );

    let wrong = [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", moto.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", WRONG_SECRET),
        ("AWS_SESSION_TOKEN", "SESSION-TOKEN-VALUE-123"),
    ];
    let read = decrypt(Tool::Ours, &sandbox, &wrong, &file);
    assert_eq!(read.code, EXIT_DECRYPTION, "{}", read.outcome());
    assert!(
        read.stderr.contains(&moto.key_arn) && read.stderr.contains("refused the credentials"),
        "{}",
        read.failure()
    );
    for secret in [
        WRONG_SECRET,
        "SESSION-TOKEN-VALUE-123",
        moto.secret_access_key.as_str(),
    ] {
        assert!(
            !read.stderr.contains(secret),
            "a secret leaked: {}",
            read.stderr
        );
    }

    let none = [("AWS_ENDPOINT_URL", moto.endpoint.as_str())];
    let read = decrypt(Tool::Ours, &sandbox, &none, &file);
    assert!(
        read.code == EXIT_DECRYPTION && read.stderr.contains("no AWS credentials"),
        "{}",
        read.outcome()
    );

    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let mut down = env.clone();
    down[0] = ("AWS_ENDPOINT_URL", &nowhere);
    let read = decrypt(Tool::Ours, &sandbox, &down, &file);
    assert!(
        read.code == EXIT_DECRYPTION && read.stderr.contains(&format!("cannot reach {nowhere}")),
        "{}",
        read.outcome()
    );
    assert!(
        !read.stderr.contains(&moto.secret_access_key),
        "a secret leaked: {}",
        read.stderr
    );
    let out = sandbox.path().join("out.yaml");
    let written = run(
        Tool::Ours,
        &sandbox,
        &down,
        &[
            "encrypt",
            input.to_str().unwrap(),
            "--kms",
            &moto.key_arn,
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        !written.ok() && !out.exists() && written.stderr.contains(&moto.key_arn),
        "{}",
        written.outcome()
    );
}
