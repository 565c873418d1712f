#!/usr/bin/env bash
# Instructions per lookup under callgrind, ours and kstlib's: a count that does not move with
# machine load, unlike the wall times of `cargo bench`. Needs valgrind and, for the kstlib side,
# a Python with kstlib 3.8.2 (KSTLIB_PYTHON, default: python3) and, for kstlib's chain, the Go sops
# 3.11 binary (SOPS_BIN, else `sops` on PATH) that kstlib runs once to decrypt the file.
# The chain cases (`env-then-sops`, `chain-env-hit`, `chain-miss`) are the `env -> sops` chain of
# benches/chain.rs, warm: the first lookup, which decrypts, is in both the 0 and the N run and
# cancels out; kstlib's `sops --decrypt` subprocess is not traced (callgrind follows no children).
#
#   KSTLIB_PYTHON=$(scripts/install-kstlib) SOPS_BIN=$(scripts/install-sops) benches/instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | sed -n 's/.*Collected : //p'; }
per_lookup() { # command... (with N as the last argument, run for 0 and N)
  local n=$1; shift
  local base full
  base=$(count "$@" 0); full=$(count "$@" "$n")
  echo $(( (full - base) / n ))
}
cargo build -q --release --example lookup_loop
for case in env override env-after-miss default env-then-sops chain-env-hit chain-miss; do
  echo "secret-cascade $case: $(per_lookup 100000 target/release/examples/lookup_loop "$case") instructions/lookup"
done
python=${KSTLIB_PYTHON:-python3}
# A fixed hash seed: the same dict layouts, so the same count, on every run.
export PYTHONHASHSEED=0
echo "kstlib env: $(per_lookup 20000 "$python" benches/kstlib/env_loop.py) instructions/lookup"
for case in env-then-sops chain-env-hit chain-miss; do
  echo "kstlib $case: $(per_lookup 20000 "$python" benches/kstlib/chain_loop.py "$case") instructions/lookup"
done
