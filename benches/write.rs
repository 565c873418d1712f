//! Writing SOPS files, in memory, on the 2000-leaf, 300 KB file of `benches/data/`:
//!
//! - encrypt: `sops::encrypt` of the cleartext `large.yaml` (YAML in, YAML out, one age
//!   recipient): parse, a new data key wrapped for the recipient, 2000 values encrypted, the MAC;
//! - set: `EditableFile::open` + `set` of one value + `to_bytes` on `large.enc.yaml`, what
//!   `secret-cascade set` does between reading and writing the file: the age unwrap, 2000 values
//!   decrypted and the MAC verified, then 1999 ciphertexts reused from the stash, one value
//!   encrypted, the MAC renewed;
//! - rotate: `rotate` + `to_bytes` on a file opened once outside the loop (opening is the set
//!   case's cost): a new data key wrapped for the recipient, all 2000 values encrypted again.
//!
//! The Go sops's side, as whole processes, is `benches/writes.sh`; results are in
//! docs/performance.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use secret_cascade::sops::{self, EditableFile, EncryptOptions, Format, Identities};

fn writes(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read(root.join(path)).unwrap();
    let plain = read("benches/data/large.yaml");
    let encrypted = read("benches/data/large.enc.yaml");
    let identities = Identities::from_text(
        &String::from_utf8(read("fixtures/sops/key.txt")).unwrap(),
        "key.txt",
    )
    .unwrap();
    let options = EncryptOptions::for_recipients(identities.recipients());
    let name: Vec<String> = ["services", "payments", "db", "password"]
        .map(str::to_owned)
        .to_vec();

    let mut group = c.benchmark_group("write 2000 leaves");
    // Tens of milliseconds per iteration: flat sampling, 20 samples of equal size.
    group.sample_size(20).sampling_mode(SamplingMode::Flat);
    group.bench_function("encrypt", |b| {
        b.iter(|| sops::encrypt(black_box(&plain), Format::Yaml, Format::Yaml, &options).unwrap())
    });
    group.bench_function("open + set one value + to_bytes", |b| {
        b.iter(|| {
            let mut file =
                EditableFile::open(black_box(&encrypted), Format::Yaml, &identities).unwrap();
            file.set(&name, b"new value").unwrap();
            file.to_bytes().unwrap()
        })
    });
    let mut file = EditableFile::open(&encrypted, Format::Yaml, &identities).unwrap();
    group.bench_function("rotate + to_bytes", |b| {
        b.iter(|| {
            file.rotate(&[], &[]).unwrap();
            file.to_bytes().unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, writes);
criterion_main!(benches);
