//! The library example of README.md, the same text (tests/readme.rs checks it). Run it in a folder
//! with a `secret-cascade.yml`: scripts/test runs it with an `env` layer.

use secret_cascade::providers::EnvProvider;
use secret_cascade::{Error, Resolver, SecretRequest, with_sensitive};

fn main() -> Result<(), Error> {
    let resolver = Resolver::from_config_file("secret-cascade.yml")?;
    let record = resolver.resolve(&SecretRequest::new("smtp.password").with_scope("mail"))?;
    println!("found in {}", record.source()); // env, sops, default, ...
    let sent = with_sensitive(record, |password: &str| send_mail(password)); // wiped afterwards
    println!("sent: {sent}");

    // Or in code, without a file:
    let resolver = Resolver::builder()
        .name("myapp")
        .override_secret("api.token", "test-token") // always asked first
        .provider(EnvProvider::new().with_prefix("MYAPP")) // MYAPP__API__TOKEN
        .build();
    let maybe = resolver.lookup(&SecretRequest::new("api.token").with_default("dev"))?;
    println!("api.token from {:?}", maybe.map(|record| record.source()));

    // One process-wide resolver from the discovered config, built on first use:
    let record = secret_cascade::resolve_secret("mail.smtp.password")?;
    println!("the process-wide resolver found it in {}", record.source());
    Ok(())
}

/// Stands for what the application does with the password.
fn send_mail(password: &str) -> bool {
    !password.is_empty()
}
