//! Overrides: values given in code with [`crate::ResolverBuilder::override_secret`].
//!
//! Always the first layer when there are any; not configurable from a file. Keyed by the
//! request's qualified name (`scope.name`, or the name when there is no scope). Never unavailable.

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::check::{Check, count};
use crate::error::Error;
use crate::provider::{Answer, Provider};
use crate::record::{Metadata, SecretRecord, SecretSource};
use crate::request::SecretRequest;

/// The in-code values, each in a zeroizing buffer. A short list searched in order: overrides are
/// few, and comparing in place avoids building `scope.name` and hashing it on every lookup.
#[derive(Default)]
pub(crate) struct Overrides {
    values: Vec<(String, SecretString)>,
}

impl Overrides {
    pub(crate) fn insert(&mut self, name: String, value: String) {
        // Copy into an exact-size box and wipe the caller's String.
        let value = SecretString::from(Zeroizing::new(value).as_str());
        match self.values.iter_mut().find(|(known, _)| *known == name) {
            Some(entry) => entry.1 = value,
            None => self.values.push((name, value)),
        }
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
        let found = self.values.iter().find(|(name, _)| names(name, request));
        Ok(match found {
            Some((name, value)) => Answer::Hit(SecretRecord::new(
                SecretString::from(value.expose_secret()),
                SecretSource::Override,
                Metadata::new().with("name", name.as_str()),
            )),
            None => Answer::Miss("not set in code".into()),
        })
    }

    fn diagnose(&self) -> Vec<Check> {
        vec![Check::ok(
            "values",
            format!("{} set in code", count(self.values.len(), "override")),
        )]
    }
}

/// Whether `name` is the request's qualified name (`scope.name`, or the name alone).
fn names(name: &str, request: &SecretRequest) -> bool {
    match request.scope() {
        None => name == request.name(),
        Some(scope) => name
            .strip_prefix(scope)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| rest == request.name()),
    }
}
