//! Looking for plaintext where it should no longer be: in this process's own memory
//! (`/proc/self/mem`) and in a core dump of the CLI taken by gdb as it exits.
//!
//! The values looked for are [`Needle`]s, held only XOR-masked, so that the scanner never finds
//! its own copy of what it looks for.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use zeroize::Zeroizing;

use super::Sandbox;

/// Every masked byte has its top bit set, so no masked byte equals a plaintext (ASCII) byte.
const MASK: u8 = 0xA5;

/// A random value made of `[a-z0-9]`, unique to one test run, held XOR-masked.
pub struct Needle {
    masked: Vec<u8>,
}

impl Needle {
    /// 24 random characters; with `digit_first`, the first is a digit (the text then looks like the
    /// start of a number to YAML's scalar resolution, which takes another path).
    pub fn random(digit_first: bool) -> Self {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut random = [0u8; 24];
        getrandom::fill(&mut random).expect("the OS random source works");
        let masked = random
            .iter()
            .enumerate()
            .map(|(i, byte)| {
                let choices = if i == 0 && digit_first {
                    &ALPHABET[26..]
                } else {
                    ALPHABET
                };
                choices[usize::from(*byte) % choices.len()] ^ MASK
            })
            .collect();
        Self { masked }
    }

    fn len(&self) -> usize {
        self.masked.len()
    }

    /// Whether `bytes` is exactly the value.
    pub fn is(&self, bytes: &[u8]) -> bool {
        bytes.len() == self.masked.len() && self.is_at(bytes, 0)
    }

    /// How many times the value occurs in `haystack`.
    pub fn count_in(&self, haystack: &[u8]) -> usize {
        self.offsets_in(haystack).len()
    }

    /// Where the value occurs in `haystack`.
    pub fn offsets_in(&self, haystack: &[u8]) -> Vec<usize> {
        let first = self.masked[0] ^ MASK;
        let last_start = haystack.len().saturating_sub(self.masked.len() - 1);
        (0..last_start)
            .filter(|&at| haystack[at] == first && self.is_at(haystack, at))
            .collect()
    }

    fn is_at(&self, haystack: &[u8], at: usize) -> bool {
        haystack
            .get(at..at + self.masked.len())
            .is_some_and(|window| {
                window
                    .iter()
                    .zip(&self.masked)
                    .all(|(byte, masked)| byte ^ MASK == *masked)
            })
    }
}

/// A piece of a cleartext file: text as it is, or a needle's value.
pub enum Piece<'a> {
    Text(&'a str),
    Value(&'a Needle),
}

/// The pieces joined, in a buffer sized up front (so no reallocation leaves a copy) and wiped on
/// drop: the only plaintext copy of the needles this process makes.
pub fn cleartext(pieces: &[Piece<'_>]) -> Zeroizing<Vec<u8>> {
    let size = pieces
        .iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.len(),
            Piece::Value(needle) => needle.len(),
        })
        .sum();
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.extend_from_slice(text.as_bytes()),
            Piece::Value(needle) => out.extend(needle.masked.iter().map(|byte| byte ^ MASK)),
        }
    }
    out
}

/// `secrets.enc.yaml` in a sandbox, encrypted by the CLI (another process, whose copies of the
/// cleartext are not ours) to the fixture key, with fresh needles as values:
///
/// ```yaml
/// db:
///     user: <user>
///     password: <password>
///     note: plain words
/// unrequested: <unrequested>
/// ```
///
/// and `secret-cascade.yml` reading it with the key from a file.
pub struct SecretsFile {
    pub user: Needle,
    /// Starts with a digit.
    pub password: Needle,
    /// A value no test asks for, decrypted and hashed for the MAC all the same.
    pub unrequested: Needle,
    pub path: PathBuf,
    pub config: PathBuf,
    pub key_file: PathBuf,
}

impl SecretsFile {
    pub fn new(sandbox: &Sandbox) -> Self {
        let [user, password, unrequested] = [
            Needle::random(false),
            Needle::random(true),
            Needle::random(false),
        ];
        let key_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sops/key.txt");
        let recipient = std::fs::read_to_string(&key_file)
            .unwrap()
            .lines()
            .find_map(|line| line.strip_prefix("# public key: ").map(str::to_owned))
            .expect("the fixture key file names its public key");
        // Enough other values (more than 64) that a machine with two cores decrypts them on two
        // threads, so that the worker's memory is scanned too.
        let filler: String = (0..100)
            .map(|i| format!("\nfiller_{i}: not a needle {i}"))
            .collect();
        let plain = cleartext(&[
            Piece::Text("db:\n    user: "),
            Piece::Value(&user),
            Piece::Text("\n    password: "),
            Piece::Value(&password),
            // Long enough that the map's JSON outgrows several allocations on its way.
            Piece::Text(
                "\n    note: plain words that lengthen the JSON of the map by about seventy bytes",
            ),
            Piece::Text(&filler),
            Piece::Text("\nunrequested: "),
            Piece::Value(&unrequested),
            Piece::Text("\n"),
        ]);
        let plain_path = sandbox.write_bytes("plain.yaml", &plain);
        drop(plain);
        let output = sandbox
            .cli()
            .args(["encrypt", "--age", &recipient, "plain.yaml"])
            .args(["--output", "secrets.enc.yaml"])
            .output()
            .unwrap();
        assert!(output.status.success(), "encrypt failed: {output:?}");
        std::fs::remove_file(plain_path).unwrap();
        let config = sandbox.write(
            "secret-cascade.yml",
            &format!(
                "providers:\n  - kind: sops\n    path: secrets.enc.yaml\n    age_key_file: {}\n",
                key_file.display()
            ),
        );
        Self {
            user,
            password,
            unrequested,
            path: sandbox.path().join("secrets.enc.yaml"),
            config,
            key_file,
        }
    }

    /// The needles with their key paths, for messages.
    pub fn needles(&self) -> [(&'static str, &Needle); 3] {
        [
            ("db.user", &self.user),
            ("db.password", &self.password),
            ("unrequested", &self.unrequested),
        ]
    }
}

/// One place a needle was found: which needle (by index), at which address, in which mapping.
#[derive(Debug)]
pub struct Found {
    pub needle: usize,
    pub address: u64,
    pub region: String,
}

/// Scans every writable mapping of this process (heap, stacks, globals, anonymous maps) for the
/// needles, reading `/proc/self/mem`.
pub fn scan_own_memory(needles: &[&Needle]) -> Vec<Found> {
    let maps = File::open("/proc/self/maps").expect("/proc/self/maps is readable");
    let regions: Vec<(u64, u64, String)> = BufReader::new(maps)
        .lines()
        .map(|line| line.expect("/proc/self/maps reads"))
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (start, end) = fields.next()?.split_once('-')?;
            let permissions = fields.next()?;
            let name = fields.nth(3).unwrap_or("[anonymous]").to_owned();
            // Only writable memory can hold data made at run time; `[vvar]` and friends are not.
            (permissions.starts_with("rw")).then(|| {
                let parse = |hex| u64::from_str_radix(hex, 16).expect("hex address");
                (parse(start), parse(end), name)
            })
        })
        .collect();
    let memory = File::open("/proc/self/mem").expect("/proc/self/mem is readable");
    let overlap = needles.iter().map(|n| n.len()).max().unwrap_or(1) - 1;
    // One buffer for every read: it lies in the memory being scanned, and only ever holds bytes
    // copied from elsewhere in it.
    let mut chunk = vec![0u8; 1 << 20];
    let mut found = Vec::new();
    for (start, end, region) in regions {
        let mut at = start;
        while at < end {
            let size = (end - at).min(chunk.len() as u64) as usize;
            let bytes = &mut chunk[..size];
            memory.read_exact_at(bytes, at).unwrap_or_else(|error| {
                panic!("cannot read {region} at {at:#x} from /proc/self/mem: {error}")
            });
            for (index, needle) in needles.iter().enumerate() {
                for offset in needle.offsets_in(bytes) {
                    found.push(Found {
                        needle: index,
                        address: at + offset as u64,
                        region: region.clone(),
                    });
                }
            }
            // Overlapping reads catch a value that straddles two chunks.
            at = if at + size as u64 >= end {
                end
            } else {
                at + (size - overlap) as u64
            };
        }
    }
    found
}

/// `gdb`, or a failure that says how to get it: these tests never skip.
pub fn gdb() -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("gdb"))
        .find(|candidate| candidate.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "gdb is not installed: the core dump tests need its `gcore`. Install it \
             (`apt-get install gdb`; scripts/test does this)."
        )
    })
}

/// A core dump of a process taken as it called `exit_group`, after everything in it was dropped
/// and libc's exit handlers ran, with what the process printed.
pub struct CoreDump {
    /// The contents of every memory segment.
    pub memory: Vec<u8>,
    /// Everything else the core holds: the notes (registers, among them the vector registers).
    pub notes: Vec<u8>,
    /// What the process wrote to stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: String,
}

/// Runs `program args` under gdb in `dir` with `env` and `stdin` (a file), stops it at the
/// `exit_group` system call, and dumps its core with `gcore`.
pub fn core_dump_at_exit(
    dir: &Path,
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&Path>,
) -> CoreDump {
    let core = dir.join("core");
    let out = dir.join("stdout");
    let err = dir.join("stderr");
    // gdb's `run` line goes through a shell, which also gives the program its own stdio files.
    let mut line = String::from("run");
    for arg in args {
        line.push(' ');
        line.push_str(&shell_quote(arg));
    }
    let stdin = stdin.map_or_else(|| PathBuf::from("/dev/null"), Path::to_path_buf);
    for (redirect, path) in [("<", &stdin), (">", &out), ("2>", &err)] {
        line.push_str(&format!(
            " {redirect} {}",
            shell_quote(&path.to_string_lossy())
        ));
    }
    let mut gdb = Command::new(gdb());
    gdb.current_dir(dir)
        .args(["-nx", "-batch"])
        .args(["-ex", "catch syscall exit_group"])
        .args(["-ex", &line])
        .args(["-ex", &format!("gcore {}", core.display())])
        .args(["-ex", "kill"])
        .arg(program)
        .env("SHELL", "/bin/sh")
        .env_remove("SECRET_CASCADE_CONFIG")
        .env_remove("SECRET_CASCADE_LOG")
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_CMD")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
        .env("HOME", dir.join("home"))
        .env("XDG_CONFIG_HOME", dir.join("xdg"));
    for (name, value) in env {
        gdb.env(name, value);
    }
    let output = gdb.output().expect("gdb runs");
    let gdb_said = || {
        format!(
            "gdb exited with {}; stdout: {} stderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("call to syscall exit_group"),
        "the program did not stop at exit_group: {}",
        gdb_said()
    );
    let bytes = std::fs::read(&core)
        .unwrap_or_else(|error| panic!("gcore wrote no core ({error}): {}", gdb_said()));
    let (memory, notes) = split_core(&bytes);
    CoreDump {
        memory,
        notes,
        stdout: std::fs::read(&out).expect("the program's stdout file"),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}

/// Single-quoted for `sh`.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// An ELF core's `PT_LOAD` segments (the process's memory) and the rest (the `PT_NOTE`s).
fn split_core(core: &[u8]) -> (Vec<u8>, Vec<u8>) {
    const PT_LOAD: u32 = 1;
    const PT_NOTE: u32 = 4;
    let u16_at = |at: usize| u16::from_le_bytes(core[at..at + 2].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(core[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(core[at..at + 8].try_into().unwrap()) as usize;
    assert!(
        core.starts_with(b"\x7fELF\x02\x01"),
        "not a 64-bit little-endian ELF core"
    );
    let (table, entry_size, entries) = (u64_at(0x20), usize::from(u16_at(0x36)), u16_at(0x38));
    let (mut memory, mut notes) = (Vec::new(), Vec::new());
    for index in 0..usize::from(entries) {
        let header = table + index * entry_size;
        let (kind, offset, size) = (u32_at(header), u64_at(header + 8), u64_at(header + 32));
        let contents = &core[offset..offset + size];
        match kind {
            PT_LOAD => memory.extend_from_slice(contents),
            PT_NOTE => notes.extend_from_slice(contents),
            _ => {}
        }
        // A separator, so that no match spans two segments.
        memory.push(0);
    }
    (memory, notes)
}
