//! Snapshots of the CLI's help texts and messages (trycmd): every case in `tests/cmd/` runs the
//! built binary and compares its exit code, stdout and stderr with the file. After a deliberate
//! change, regenerate with `TRYCMD=overwrite cargo test --test cli_snapshots` and review the diff.

#[test]
fn cli_texts_match_their_snapshots() {
    trycmd::TestCases::new()
        .env("HOME", "/nonexistent-home")
        .env("XDG_CONFIG_HOME", "/nonexistent-xdg")
        .env("XDG_CONFIG_DIRS", "/nonexistent-xdg-dirs")
        .env("SECRET_CASCADE_CONFIG", "")
        .env("SECRET_CASCADE_LOG", "")
        .env("SOPS_AGE_KEY", "")
        .env("SOPS_AGE_KEY_FILE", "")
        .env("SOPS_AGE_KEY_CMD", "")
        .env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", "")
        .env("SOPS_AGE_RECIPIENTS", "")
        .case("tests/cmd/*.md");
}
