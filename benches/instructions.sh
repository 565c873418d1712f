#!/usr/bin/env bash
# Instructions per lookup under callgrind, ours and kstlib's: a count that does not move with
# machine load, unlike the wall times of `cargo bench`. Needs valgrind and, for the kstlib side,
# a Python with kstlib 3.8.2 (KSTLIB_PYTHON, default: python3).
#
#   python3 -m venv /tmp/kstlib && /tmp/kstlib/bin/pip install kstlib==3.8.2
#   KSTLIB_PYTHON=/tmp/kstlib/bin/python benches/instructions.sh
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
for case in env override env-after-miss default; do
  echo "secret-cascade $case: $(per_lookup 100000 target/release/examples/lookup_loop "$case") instructions/lookup"
done
python=${KSTLIB_PYTHON:-python3}
echo "kstlib env: $(per_lookup 20000 "$python" benches/kstlib/env_loop.py) instructions/lookup"
