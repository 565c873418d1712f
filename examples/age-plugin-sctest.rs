//! `age-plugin-sctest`: a small age plugin for the tests (tests/age_keys.rs), built on the
//! `age-plugin` crate, that both sops (through Go age's plugin client) and secret-cascade (through
//! the age crate's) run from `PATH`.
//!
//! `age-plugin-sctest --generate` prints a new identity (`AGE-PLUGIN-SCTEST-1...`) and its
//! recipient (`age1sctest1...`). The key inside is an age X25519 key: the plugin wraps a file key
//! as age's X25519 recipient does and renames the stanza `sctest`, so what travels is real
//! encryption, carried by the plugin protocol. It exists to test the plugin path; use a real
//! plugin for real keys.

use std::collections::{HashMap, HashSet};
use std::io;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age_core::format::{FileKey, Stanza};
use age_plugin::identity::{self, IdentityPluginV1};
use age_plugin::recipient::{self, RecipientPluginV1};
use age_plugin::{Callbacks, PluginHandler, print_new_identity, run_state_machine};
use bech32::{Bech32, Hrp};

const NAME: &str = "sctest";
const X25519_TAG: &str = "X25519";

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag] if flag == "--generate" => {
            let identity = age::x25519::Identity::generate();
            let secret = decode(identity.to_string().expose_secret());
            let public = decode(&identity.to_public().to_string());
            print_new_identity(NAME, &secret, &public);
            Ok(())
        }
        [flag] if flag.starts_with("--age-plugin=") => {
            run_state_machine(&flag["--age-plugin=".len()..], Handler)
        }
        _ => Err(io::Error::other(
            "usage: age-plugin-sctest --generate (or run by age as --age-plugin=...)",
        )),
    }
}

/// The 32 bytes inside an age X25519 key string.
fn decode(text: &str) -> Vec<u8> {
    let checked = bech32::primitives::decode::CheckedHrpstring::new::<Bech32>(text)
        .expect("age keys are Bech32");
    checked.byte_iter().collect()
}

fn encode(hrp: &str, bytes: &[u8]) -> String {
    bech32::encode_lower::<Bech32>(Hrp::parse_unchecked(hrp), bytes).expect("a key fits")
}

struct Handler;

impl PluginHandler for Handler {
    type RecipientV1 = Recipients;
    type IdentityV1 = Identities;

    fn recipient_v1(self) -> io::Result<Recipients> {
        Ok(Recipients(Vec::new()))
    }

    fn identity_v1(self) -> io::Result<Identities> {
        Ok(Identities(Vec::new()))
    }
}

struct Recipients(Vec<age::x25519::Recipient>);

impl RecipientPluginV1 for Recipients {
    fn add_recipient(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        match age::x25519::Recipient::from_str(&encode("age", bytes)) {
            Ok(recipient) if plugin_name == NAME => {
                self.0.push(recipient);
                Ok(())
            }
            _ => Err(recipient::Error::Recipient {
                index,
                message: "not an sctest recipient".to_owned(),
            }),
        }
    }

    fn add_identity(
        &mut self,
        index: usize,
        _plugin_name: &str,
        _bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        Err(recipient::Error::Identity {
            index,
            message: "sctest encrypts to recipients only".to_owned(),
        })
    }

    fn labels(&mut self) -> HashSet<String> {
        HashSet::new()
    }

    fn wrap_file_keys(
        &mut self,
        file_keys: Vec<FileKey>,
        _callbacks: impl Callbacks<recipient::Error>,
    ) -> io::Result<Result<Vec<Vec<Stanza>>, Vec<recipient::Error>>> {
        let mut wrapped = Vec::new();
        for file_key in &file_keys {
            let mut stanzas = Vec::new();
            for recipient in &self.0 {
                let (x25519, _) =
                    age::Recipient::wrap_file_key(recipient, file_key).map_err(io::Error::other)?;
                stanzas.extend(x25519.into_iter().map(|s| Stanza {
                    tag: NAME.to_owned(),
                    ..s
                }));
            }
            wrapped.push(stanzas);
        }
        Ok(Ok(wrapped))
    }
}

struct Identities(Vec<age::x25519::Identity>);

impl IdentityPluginV1 for Identities {
    fn add_identity(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), identity::Error> {
        let text = encode("age-secret-key-", bytes).to_uppercase();
        match age::x25519::Identity::from_str(&text) {
            Ok(identity) if plugin_name == NAME => {
                self.0.push(identity);
                Ok(())
            }
            _ => Err(identity::Error::Identity {
                index,
                message: "not an sctest identity".to_owned(),
            }),
        }
    }

    fn unwrap_file_keys(
        &mut self,
        files: Vec<Vec<Stanza>>,
        _callbacks: impl Callbacks<identity::Error>,
    ) -> io::Result<HashMap<usize, Result<FileKey, Vec<identity::Error>>>> {
        let mut file_keys = HashMap::new();
        for (index, stanzas) in files.into_iter().enumerate() {
            let opened = stanzas
                .into_iter()
                .filter(|s| s.tag == NAME)
                .map(|s| Stanza {
                    tag: X25519_TAG.to_owned(),
                    ..s
                })
                .find_map(|s| {
                    self.0
                        .iter()
                        .find_map(|i| age::Identity::unwrap_stanza(i, &s))
                });
            match opened {
                Some(Ok(file_key)) => {
                    file_keys.insert(index, Ok(file_key));
                }
                Some(Err(e)) => {
                    file_keys.insert(
                        index,
                        Err(vec![identity::Error::Stanza {
                            file_index: index,
                            stanza_index: 0,
                            message: e.to_string(),
                        }]),
                    );
                }
                None => {}
            }
        }
        Ok(file_keys)
    }
}
