//! Overrides: values given in code with [`crate::ResolverBuilder::override_secret`].
//!
//! Always the first layer when there are any; not configurable from a file. Keyed by the
//! request's qualified name (`scope.name`, or the name when there is no scope). Never unavailable.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::provider::{Answer, Provider};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::{Error, SecretRequest};

/// The in-code values, each in a zeroizing buffer.
#[derive(Default)]
pub(crate) struct Overrides {
    values: HashMap<String, SecretString>,
}

impl Overrides {
    pub(crate) fn insert(&mut self, name: String, value: String) {
        // Copy into an exact-size box and wipe the caller's String.
        let value = Zeroizing::new(value);
        self.values.insert(name, SecretString::from(value.as_str()));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl Provider for Overrides {
    fn label(&self) -> &str {
        "override"
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        let name = request.qualified_name();
        Ok(match self.values.get(&name) {
            Some(value) => Answer::Hit(SecretRecord::new(
                SecretString::from(value.expose_secret()),
                SecretSource::Override,
                Metadata::new().with("name", name),
            )),
            None => Answer::Miss(format!("no override for `{name}`")),
        })
    }
}
