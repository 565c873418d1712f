//! A kind of layer from outside the crate: secrets as files in a folder, one file per name, as
//! Docker and Kubernetes mount them (`/run/secrets/db.password`). Run: `cargo run --example
//! custom_provider`.

use std::path::PathBuf;

use secret_cascade::config::{Options, Registry};
use secret_cascade::{
    Answer, ConfigError, Error, ExposeSecret, Metadata, Provider, Resolver, SecretRecord,
    SecretRequest, SecretSource,
};

/// `kind: secret-dir`, option `path` (the folder). A missing file is a miss.
struct SecretDir {
    folder: PathBuf,
    label: String,
}

impl SecretDir {
    fn from_options(options: &mut Options<'_>) -> Result<Self, ConfigError> {
        let folder = options
            .path("path")?
            .ok_or_else(|| options.error(None, "missing `path`: the folder of secret files"))?;
        let label = format!("secret-dir:{}", folder.display());
        Ok(Self { folder, label })
    }
}

impl Provider for SecretDir {
    fn label(&self) -> &str {
        &self.label
    }

    fn fetch(&self, request: &SecretRequest) -> Result<Answer, Error> {
        let file = self.folder.join(request.qualified_name());
        match std::fs::read_to_string(&file) {
            Ok(text) => Ok(Answer::Hit(SecretRecord::new(
                text.trim_end_matches('\n').into(),
                SecretSource::Other("secret-dir"),
                Metadata::new().with("path", file.display().to_string()),
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Answer::Miss(format!("no file {}", file.display()).into()))
            }
            Err(e) => Err(Error::provider(&self.label, e)),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut registry = Registry::builtin();
    registry.register(
        "secret-dir",
        "example.secret-dir.v1",
        SecretDir::from_options,
    )?;

    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("secrets"))?;
    std::fs::write(dir.path().join("secrets/db.password"), "from-a-file\n")?;
    let config = dir.path().join("secret-cascade.yml");
    std::fs::write(
        &config,
        "providers:\n  - kind: env\n  - kind: secret-dir\n    path: secrets\n",
    )?;

    let resolver = Resolver::from_config_file_with(&config, &registry)?;
    let record = resolver.resolve(&SecretRequest::new("db.password"))?;
    assert_eq!(record.expose_secret(), "from-a-file");
    println!(
        "db.password came from {} ({:?})",
        record.source(),
        record.metadata().get("path")
    );
    Ok(())
}
