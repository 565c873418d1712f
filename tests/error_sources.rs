//! Errors keep their causes: `source()` leads from a SOPS error down to the `io::Error` (or the
//! parse error) that caused it, and no message carries a value.

use std::error::Error as _;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secret_cascade::sops::{
    self, DecryptionError, EncryptionError, Identities, IdentityError, ParseError, ParseProblem,
    ReadError,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/sops")
        .join(name)
}

fn identities() -> Identities {
    Identities::discover(Some(&fixture("keys_both.txt"))).unwrap()
}

/// The last error of `error`'s `source()` chain.
fn root_cause<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> &'a (dyn std::error::Error + 'static) {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause
}

fn io_kind(error: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    root_cause(error)
        .downcast_ref::<io::Error>()
        .map(io::Error::kind)
}

#[test]
fn a_missing_sops_file_chains_to_a_not_found_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = sops::decrypt_file(&dir.path().join("absent.yaml"), None, &identities())
        .expect_err("a missing file cannot be decrypted");
    assert!(matches!(error, DecryptionError::Read(ReadError::Io(_))));
    assert!(error.to_string().starts_with("cannot read the file: "));
    assert_eq!(io_kind(&error), Some(io::ErrorKind::NotFound));
}

#[test]
fn a_fifo_is_a_read_error_whose_source_is_the_bounded_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo (coreutils) is needed for this test");
    assert!(made.success());
    let error = sops::decrypt_file(&path, None, &identities()).unwrap_err();
    let source = error.source().expect("the read error is kept");
    assert!(matches!(
        source.downcast_ref::<ReadError>(),
        Some(ReadError::NotRegular { kind: "a FIFO" })
    ));
}

/// A key file that cannot be opened (here: its "folder" is a regular file, which fails the same
/// way for root, who reads files of any mode) keeps the operating system's error as the cause.
#[test]
fn an_unopenable_key_file_chains_to_its_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_folder = dir.path().join("keys");
    std::fs::write(&not_a_folder, "").unwrap();
    let key = not_a_folder.join("keys.txt");
    let Err(error) = Identities::discover(Some(&key)) else {
        panic!("an unopenable key file is an error");
    };
    assert!(matches!(error, DecryptionError::Identities(_)));
    assert!(error.to_string().contains(&key.display().to_string()));
    assert_eq!(io_kind(&error), Some(io::ErrorKind::NotADirectory));
}

#[test]
fn a_missing_key_file_chains_to_a_not_found_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("absent-keys.txt");
    let Err(error) = Identities::discover(Some(&key)) else {
        panic!("a missing key file is an error");
    };
    assert!(matches!(
        &error,
        DecryptionError::Identities(IdentityError::KeyFile { path, .. }) if *path == key
    ));
    assert!(error.to_string().starts_with(&format!(
        "cannot load age identities: cannot read the age key file {}: ",
        key.display()
    )));
    assert_eq!(io_kind(&error), Some(io::ErrorKind::NotFound));
}

#[test]
fn editing_a_missing_file_chains_to_a_not_found_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.yaml");
    let error = sops::edit_file(&path, None, &identities(), Duration::from_secs(1), |_| {
        Ok(())
    })
    .expect_err("a missing file cannot be edited");
    assert!(
        matches!(&error, EncryptionError::Read { path: named, .. } if *named == path),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot read {}: ", path.display()))
    );
    assert_eq!(io_kind(&error), Some(io::ErrorKind::NotFound));
}

#[test]
fn cleartext_that_does_not_parse_is_an_input_error_not_a_decryption_error() {
    let options = sops::EncryptOptions::for_recipients([
        "age17qg6tvlhy6l2al555r5a3vzlz0773f8hewax38d8fhphjc6kvy2qdd0hrg",
    ]);
    let error = sops::encrypt(
        b"NAME=hunter2\nbroken line\n",
        sops::Format::Dotenv,
        sops::Format::Dotenv,
        &options,
    )
    .expect_err("a line without `=` is refused");
    assert!(
        matches!(
            &error,
            EncryptionError::Input(ParseError::AtLine {
                line: 2,
                problem: ParseProblem::NoEquals,
            })
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "cannot read the cleartext: line 2: expected KEY=VALUE"
    );
    let source = error.source().expect("the parse error is the source");
    assert!(source.downcast_ref::<ParseError>().is_some());
    assert!(!format!("{error} {error:?}").contains("hunter2"));

    let error = sops::encrypt(
        b"a: [1, 2\n",
        sops::Format::Yaml,
        sops::Format::Yaml,
        &options,
    )
    .unwrap_err();
    assert!(matches!(
        error,
        EncryptionError::Input(ParseError::Syntax {
            format: sops::Format::Yaml,
            ..
        })
    ));
}

#[test]
fn an_encrypted_file_that_does_not_parse_is_a_decryption_parse_error() {
    let error = sops::decrypt(b"{\"a\": 1,", sops::Format::Json, &identities()).unwrap_err();
    assert!(matches!(
        &error,
        DecryptionError::Parse(ParseError::Syntax {
            format: sops::Format::Json,
            ..
        })
    ));
    assert!(
        error
            .source()
            .unwrap()
            .downcast_ref::<ParseError>()
            .is_some()
    );
}

#[test]
fn a_sops_yaml_that_does_not_parse_keeps_the_parse_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join(".sops.yaml");
    std::fs::write(&config, "creation_rules: [\n").unwrap();
    let error = sops::find_creation_rule(&dir.path().join("secrets.yaml")).unwrap_err();
    assert!(
        matches!(&error, sops::CreationRuleError::Parse { config: named, .. } if *named == config),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}: cannot parse the file: ", config.display()))
    );
    assert!(
        error
            .source()
            .unwrap()
            .downcast_ref::<ParseError>()
            .is_some()
    );

    std::fs::write(&config, b"creation_rules:\n  - age: \xff\n").unwrap();
    let error = sops::find_creation_rule(&dir.path().join("secrets.yaml")).unwrap_err();
    assert!(matches!(error, sops::CreationRuleError::NotUtf8 { .. }));
    assert!(
        error
            .source()
            .unwrap()
            .downcast_ref::<std::str::Utf8Error>()
            .is_some()
    );
}

#[test]
fn debug_of_an_error_is_its_message_and_causes_in_words() {
    let sandbox = tempfile::tempdir().unwrap();
    let config = sandbox.path().join("secret-cascade.yml");
    std::fs::write(&config, "providers:\n  - kind: env\n    bogus: 1\n").unwrap();
    let error = secret_cascade::Resolver::from_config_file(&config).unwrap_err();
    let debug = format!("{error:?}");
    assert_eq!(debug, error.to_string(), "no struct dump: {debug}");
    assert!(debug.contains("unknown option `bogus`"), "{debug}");

    let missing = sandbox.path().join("absent.yml");
    let error = secret_cascade::Resolver::from_config_file(&missing).unwrap_err();
    let debug = format!("{error:?}");
    assert!(debug.starts_with(&error.to_string()), "{debug}");
    assert!(!debug.contains("ConfigError {"), "{debug}");
}
