use super::*;

/// Cheap Argon2 parameters, allowed only because the floor is lowered with them.
const CHEAP: KdfParams = KdfParams {
    memory_kib: 64,
    passes: 1,
    lanes: 1,
};

fn vault_with(dir: &Path, entries: &[(&str, &str)]) -> PathBuf {
    let path = dir.join("vault");
    let mut vault = Vault::create(&path, b"pw", CHEAP, CHEAP).unwrap();
    for (name, value) in entries {
        vault.add(name, value, &["t".into()], "note").unwrap();
    }
    vault.save().unwrap();
    path
}

#[test]
fn values_round_trip_and_edits_bump_the_generation() {
    let dir = tempfile::tempdir().unwrap();
    let path = vault_with(dir.path(), &[("b", "2"), ("a", "1")]);
    let mut vault = Vault::open_with_password(&path, b"pw", CHEAP).unwrap();
    assert_eq!(
        vault.entries().map(|e| e.name).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(vault.get("a").unwrap().as_str(), "1");
    vault.update("a", Some("one"), None, Some("n2")).unwrap();
    vault.delete("b").unwrap();
    vault.save().unwrap();
    let vault = Vault::open_with_password(&path, b"pw", CHEAP).unwrap();
    assert_eq!(vault.get("a").unwrap().as_str(), "one");
    assert_eq!(vault.entries().next().unwrap().version, 2);
    assert!(matches!(vault.get("b"), Err(VaultError::NotFound { .. })));
}

#[test]
fn the_floor_refuses_weaker_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let path = vault_with(dir.path(), &[]);
    assert!(matches!(
        Vault::open_with_password(&path, b"pw", KdfParams::FLOOR),
        Err(VaultError::WeakKdf { .. })
    ));
    assert!(matches!(
        Vault::create(&dir.path().join("v2"), b"pw", CHEAP, KdfParams::FLOOR),
        Err(VaultError::WeakKdf { .. })
    ));
}

#[test]
fn a_stale_copy_is_not_saved_over_a_newer_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = vault_with(dir.path(), &[("a", "1")]);
    let mut first = Vault::open_with_password(&path, b"pw", CHEAP).unwrap();
    let mut second = Vault::open_with_password(&path, b"pw", CHEAP).unwrap();
    first.add("b", "2", &[], "").unwrap();
    first.save().unwrap();
    second.add("c", "3", &[], "").unwrap();
    assert!(matches!(second.save(), Err(VaultError::Conflict { .. })));
}

#[test]
fn shares_recover_the_key_and_refuse_what_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let path = vault_with(dir.path(), &[("a", "1")]);
    let vault = Vault::open_with_password(&path, b"pw", CHEAP).unwrap();
    let shares = vault.split(5, 3).unwrap();
    let parsed: Vec<Share> = shares
        .iter()
        .map(|s| Share::parse(&s.to_string()).unwrap())
        .collect();
    assert_eq!(parsed, shares);
    let recovered = Vault::recover(
        &path,
        &[parsed[0].clone(), parsed[2].clone(), parsed[4].clone()],
    )
    .unwrap();
    assert_eq!(recovered.get("a").unwrap().as_str(), "1");
    let bad = |shares: &[Share]| {
        matches!(
            Vault::recover(&path, shares),
            Err(VaultError::BadShares { .. })
        )
    };
    assert!(bad(&parsed[..2]));
    assert!(bad(&[
        parsed[0].clone(),
        parsed[0].clone(),
        parsed[1].clone()
    ]));
    // A digit copied wrong fails the checksum.
    let text = shares[1].to_string();
    let at = text.find("key=").unwrap() + 4;
    let flipped = if &text[at..=at] == "0" { "1" } else { "0" };
    let wrong = format!("{}{}{}", &text[..at], flipped, &text[at + 1..]);
    assert!(matches!(
        Share::parse(&wrong),
        Err(VaultError::BadShares { .. })
    ));
}

#[test]
fn rotate_changes_epoch_and_key_and_keeps_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = vault_with(dir.path(), &[("a", "1")]);
    let mut vault = Vault::open_with_password(&path, b"pw", CHEAP).unwrap();
    let old = vault.data_key().clone();
    let shares = vault.split(2, 2).unwrap();
    vault.rotate(b"pw", CHEAP, CHEAP).unwrap();
    vault.save().unwrap();
    assert_eq!(Vault::identify(&path).unwrap().epoch, 2);
    assert!(matches!(
        Vault::open_with_key(&path, old),
        Err(VaultError::Integrity { .. })
    ));
    assert!(matches!(
        Vault::recover(&path, &shares),
        Err(VaultError::BadShares { .. })
    ));
    let vault = Vault::open_with_password(&path, b"pw", CHEAP).unwrap();
    assert_eq!(vault.get("a").unwrap().as_str(), "1");
}

#[test]
fn errors_never_show_the_value_or_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = vault_with(dir.path(), &[("a", "hunter2-value")]);
    let wrong = Vault::open_with_password(&path, b"hunter2-password", CHEAP).unwrap_err();
    assert!(matches!(wrong, VaultError::WrongPassword { .. }));
    let vault = Vault::open_with_password(&path, b"pw", CHEAP).unwrap();
    let shown = format!("{wrong} {wrong:?} {vault:?} {:?}", vault.data_key());
    assert!(!shown.contains("hunter2"), "{shown}");
}
