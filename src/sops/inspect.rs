//! What can be learned from an encrypted file without any key: its recipients.

use super::metadata::Metadata;
use super::{DecryptionError, Format, stores};

/// The master keys (age recipients `age1...`, `pgp FINGERPRINT`, `hc_vault URI`, `kms ARN`, ...)
/// an encrypted file's data key is wrapped for, in file order,
/// across all key groups. Needs no identity and decrypts nothing; fails when the file or its
/// `sops` section does not parse.
pub fn recipients(text: &[u8], format: Format) -> Result<Vec<String>, DecryptionError> {
    Ok(key_groups(text, format)?.groups.concat())
}

/// A file's master keys by key group, and how many groups open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGroups {
    /// Each group's keys as messages name them (see [`recipients`]).
    pub groups: Vec<Vec<String>>,
    /// How many groups are needed (1 for a single group).
    pub threshold: usize,
}

/// The master keys of an encrypted file by key group, and its Shamir threshold. Needs no
/// identity and decrypts nothing.
pub fn key_groups(text: &[u8], format: Format) -> Result<KeyGroups, DecryptionError> {
    let parsed = stores::parse(text, format)?;
    let sops = parsed
        .sops
        .ok_or(DecryptionError::MissingMetadata)?
        .into_tree()?;
    let metadata = Metadata::parse(&sops)?;
    Ok(KeyGroups {
        groups: metadata
            .key_groups
            .iter()
            .map(|group| group.keys.iter().map(|key| key.describe()).collect())
            .collect(),
        threshold: metadata.threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY1: &str = "age17qg6tvlhy6l2al555r5a3vzlz0773f8hewax38d8fhphjc6kvy2qdd0hrg";

    fn recipients_of(name: &str) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/sops/enc")
            .join(name);
        let text = std::fs::read(&path).unwrap();
        recipients(&text, Format::from_path(&path)).unwrap()
    }

    #[test]
    fn recipients_are_listed_for_every_store_and_key_group() {
        assert_eq!(recipients_of("simple.yaml"), [KEY1]);
        for two in [
            "tworecip.yaml",
            "shamir.yaml",
            "shamir.env",
            "app_tworecip_regex_maconly.env",
        ] {
            let found = recipients_of(two);
            assert_eq!(found.len(), 2, "{two}: {found:?}");
            assert!(found.iter().any(|r| r == KEY1), "{two}: {found:?}");
        }
        assert_eq!(recipients_of("app.ini"), [KEY1]);
        assert_eq!(recipients_of("data.json"), [KEY1]);
    }

    #[test]
    fn a_file_without_a_sops_section_has_no_recipients() {
        assert!(matches!(
            recipients(b"a: 1\n", Format::Yaml),
            Err(DecryptionError::MissingMetadata)
        ));
    }
}
