#!/usr/bin/env bash
# Writing SOPS files as whole processes, ours against the Go sops 3.11, on the 2000-leaf files of
# benches/data/ (large.yaml, 67 KB; large.enc.yaml, 300 KB, one age recipient):
#   encrypt  secret-cascade encrypt large.yaml --age R          sops encrypt --age R large.yaml
#   set      secret-cascade set F services.payments.db.password < value (the value `v`)
#                                                              sops set F '["services"]["payments"]["db"]["password"]' '"v"'
#   rotate   secret-cascade rotate F                            sops rotate -i F
# F is a fresh copy of large.enc.yaml before every run (hyperfine --prepare), in a new folder under
# TMPDIR (default /tmp). Our set and rotate fsync the new file and its folder; the Go sops does not:
# TMPDIR=/dev/shm (tmpfs, where fsync costs nothing) shows how much of ours is the disk.
# Prints, per command: hyperfine's median / min / max wall time and mean CPU time (user + sys; the
# Go sops is multi-threaded); the median peak RSS of RUNS runs (GNU time -v); then our instruction
# counts under callgrind (the Go sops does not run under valgrind); then checks that each tool
# reads what the other wrote.
# `set` runs through sh (for the stdin redirect; hyperfine subtracts the shell's start), the others
# without a shell (-N). The machine is a shared 2-core VM: run it when nothing else builds (the load
# is printed before and after), more than once, and compare only figures of the same run.
# Installs nothing; says what is missing. Needs:
#   hyperfine and GNU time              apt-get install hyperfine time
#   sops 3.11 in SOPS_BIN, SOPS or PATH export SOPS_BIN=$(scripts/install-sops)
#   valgrind, for the instruction counts (skipped without it)
#
#   benches/writes.sh [RUNS]      (RUNS: runs per command, default 15; 2 warm-ups besides)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=${1:-15}
export SOPS_DISABLE_VERSION_CHECK=1 SOPS_AGE_KEY_FILE=$root/fixtures/sops/key.txt
recipient=$(sed -n 's/^# public key: //p' "$SOPS_AGE_KEY_FILE")
name=services.payments.db.password
sops_name='["services"]["payments"]["db"]["password"]'

missing=()
command -v hyperfine >/dev/null || missing+=("hyperfine (apt-get install hyperfine)")
[ -x /usr/bin/time ] || missing+=("GNU time at /usr/bin/time (apt-get install time)")
sops=${SOPS_BIN:-${SOPS:-$(command -v sops || true)}}
if [ -z "$sops" ]; then
  missing+=("sops 3.11 in SOPS_BIN (export SOPS_BIN=\$(scripts/install-sops))")
elif ! "$sops" --version 2>/dev/null | grep -q '^sops 3\.11\.'; then
  missing+=("sops 3.11 (found: $("$sops" --version 2>/dev/null | head -1), at $sops; a pip wrapper script will not do, use scripts/install-sops)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  printf 'writes.sh: missing %s\n' "${missing[@]}" >&2
  exit 2
fi
cargo build -q --release --bin secret-cascade
ours=$(realpath "${CARGO_TARGET_DIR:-target}/release/secret-cascade")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp benches/data/large.yaml benches/data/large.enc.yaml "$tmp"
printf v >"$tmp/value"
cd "$tmp" # no .sops.yaml above it, short paths

echo "# $(date -u +%FT%TZ), $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $("$sops" --version 2>/dev/null | head -1) ($sops), $ours, $runs runs, in $tmp ($(df --output=fstype . | tail -1))"

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fresh='cp large.enc.yaml work.enc.yaml'

# compare OPERATION HYPERFINE-FLAGS OURS SOPS: times both, then prints both lines and the ratio.
compare() {
  local op=$1 flags=$2 a=$3 b=$4
  # shellcheck disable=SC2086 # flags are words
  hyperfine $flags --warmup 2 --runs "$runs" --prepare "$fresh" --export-json "$op.json" "$a" "$b" >/dev/null 2>&1
  python3 - "$op" "$op.json" <<'EOF'
import json, sys
op, path = sys.argv[1], sys.argv[2]
ours, theirs = json.load(open(path))["results"]
for who, r in (("secret-cascade", ours), ("Go sops", theirs)):
    print(f"{op:8} {who:15} median {r['median'] * 1e3:6.1f} ms  min {r['min'] * 1e3:6.1f}  max {r['max'] * 1e3:6.1f}  "
          f"CPU mean {(r['user'] + r['system']) * 1e3:6.1f} ms")
print(f"{op:8} ratio (sops / ours): median {theirs['median'] / ours['median']:.1f}x, "
      f"CPU {(theirs['user'] + theirs['system']) / (ours['user'] + ours['system']):.1f}x")
EOF
}

# rss OPERATION WHO COMMAND...: median peak RSS of RUNS runs, each on a fresh copy.
rss() {
  local op=$1 who=$2
  shift 2
  for _ in $(seq "$runs"); do
    $fresh
    /usr/bin/time -v "$@" <value 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p'
  done >rss
  echo "$op $who peak RSS: median $(median <rss) KiB (min $(sort -n rss | head -1), max $(sort -n rss | tail -1))"
}

compare encrypt -N "$ours encrypt large.yaml --age $recipient" "$sops encrypt --age $recipient large.yaml"
compare set "" "$ours set work.enc.yaml $name < value" "$sops set work.enc.yaml '$sops_name' '\"v\"'"
compare rotate -N "$ours rotate work.enc.yaml" "$sops rotate -i work.enc.yaml"

rss encrypt secret-cascade "$ours" encrypt large.yaml --age "$recipient"
rss encrypt "Go sops" "$sops" encrypt --age "$recipient" large.yaml
rss set secret-cascade "$ours" set work.enc.yaml "$name"
rss set "Go sops" "$sops" set work.enc.yaml "$sops_name" '"v"'
rss rotate secret-cascade "$ours" rotate work.enc.yaml
rss rotate "Go sops" "$sops" rotate -i work.enc.yaml

if command -v valgrind >/dev/null; then
  count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null <value | sed -n 's/.*Collected : //p'; }
  $fresh
  echo "secret-cascade instructions (callgrind): encrypt $(count "$ours" encrypt large.yaml --age "$recipient")," \
    "set $(count "$ours" set work.enc.yaml "$name")," \
    "rotate $(count "$ours" rotate work.enc.yaml)," \
    "decrypt $(count "$ours" decrypt work.enc.yaml)"
fi

# Each reads what the other wrote.
"$ours" encrypt large.yaml --age "$recipient" >ours.enc.yaml
"$sops" encrypt --age "$recipient" large.yaml >sops.enc.yaml
cmp -s <("$sops" decrypt ours.enc.yaml) <("$ours" decrypt sops.enc.yaml) || { echo "encrypt: the outputs differ" >&2; exit 1; }
check() { [ "$1" = v ] || { echo "writes.sh: $2 reads \`$1\` after the other's set and rotate" >&2; exit 1; }; }
$fresh && "$ours" set work.enc.yaml "$name" <value && "$ours" rotate work.enc.yaml
check "$("$sops" decrypt --extract "$sops_name" work.enc.yaml)" "sops"
$fresh && "$sops" set work.enc.yaml "$sops_name" '"v"' && "$sops" rotate -i work.enc.yaml
check "$("$ours" decrypt --extract "$sops_name" work.enc.yaml)" "secret-cascade"
echo "# checked: each tool reads the other's output"
echo "# done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
