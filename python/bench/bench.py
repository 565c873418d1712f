"""secret_cascade (Python) beside kstlib 3.8.2, on the same file and names, in one process.

- cold SOPS lookup: a new resolver, nothing cached, one lookup of services.payments.db.password
  in benches/data/large.enc.yaml (2000 leaves, 300 KB). kstlib runs `sops --decrypt` and parses
  its output with PyYAML; secret_cascade decrypts in process.
- warm SOPS lookup: the same resolver again: the cached document (after a stat of the file).
- env lookup: smtp.password in scope mail from KSTLIB__MAIL__SMTP__PASSWORD (kstlib's
  environment provider; secret_cascade's env layer with `prefix: KSTLIB`).

Figures are medians of runs (quartiles and best beside), wall time. Needs kstlib 3.8.2 in this
Python and the sops 3.11 binary for kstlib (SOPS_BIN, else `scripts/install-sops`):

    scripts/test-python --collect-only -q >/dev/null   # makes .tools/python-venv with both
    .tools/python-venv/bin/python python/bench/bench.py [COLD_RUNS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import yaml
from kstlib.secrets.models import SecretRequest
from kstlib.secrets.providers import get_provider
from kstlib.secrets.resolver import SecretResolver

import secret_cascade as sc

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "benches/data/large.enc.yaml"
KEY = ROOT / "fixtures/sops/key.txt"
NAME = "services.payments.db.password"


def sops_on_path() -> None:
    """kstlib finds `sops` on PATH: the Go binary itself, not pip's Python wrapper around it."""
    binary = os.environ.get("SOPS_BIN") or subprocess.run(
        [str(ROOT / "scripts/install-sops")], capture_output=True, text=True, check=True
    ).stdout.strip()
    folder = Path(tempfile.mkdtemp())
    (folder / "sops").symlink_to(binary)
    os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ['PATH']}"


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e9:.0f} ns"


def report(label: str, runs: list[float]) -> float:
    q = statistics.quantiles(runs, n=4)
    median = statistics.median(runs)
    print(f"  {label:<16} median {fmt(median):>10}  (quartiles {fmt(q[0])} - {fmt(q[2])}, best {fmt(min(runs))}, {len(runs)} runs)")
    return median


def once(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def per_call(fn, number: int, repeat: int = 15) -> list[float]:  # type: ignore[no-untyped-def]
    return [timeit.timeit(fn, number=number) / number for _ in range(repeat)]


def main() -> None:
    cold_runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    sops_on_path()
    os.environ.update(SOPS_AGE_KEY_FILE=str(KEY), SOPS_DISABLE_VERSION_CHECK="1")
    os.environ["KSTLIB__MAIL__SMTP__PASSWORD"] = "from-env"
    expected = yaml.safe_load((ROOT / "benches/data/large.yaml").read_text())
    for part in NAME.split("."):
        expected = expected[part]

    folder = Path(tempfile.mkdtemp())
    config = folder / "secret-cascade.yml"
    config.write_text(f"providers:\n  - kind: sops\n    path: {FILE}\n    age_key_file: {KEY}\n")
    env_config = folder / "env.yml"
    env_config.write_text("providers:\n  - kind: env\n    prefix: KSTLIB\n")

    def kstlib_resolver() -> SecretResolver:
        return SecretResolver([get_provider("sops", path=str(FILE))], name="bench")

    request = SecretRequest(name=NAME)
    assert kstlib_resolver().resolve(request).value == expected
    assert sc.Resolver.from_config_file(config).resolve(NAME).value == expected

    results: dict[str, dict[str, float]] = {}
    print(f"# Python {sys.version.split()[0]}, kstlib 3.8.2, {FILE.name} ({FILE.stat().st_size} bytes), "
          f"load {os.getloadavg()[0]:.2f}")
    print("kstlib 3.8.2")
    results["kstlib"] = {
        "cold": report("SOPS cold", [once(lambda: kstlib_resolver().resolve(request)) for _ in range(cold_runs)]),
    }
    warm = kstlib_resolver()
    warm.resolve(request)
    results["kstlib"]["warm"] = report("SOPS warm", per_call(lambda: warm.resolve(request), 20_000))
    env = SecretResolver([get_provider("environment")], name="bench")
    env_request = SecretRequest(name="smtp.password", scope="mail")
    assert env.resolve(env_request).value == "from-env"
    results["kstlib"]["env"] = report("env", per_call(lambda: env.resolve(env_request), 100_000))

    print("secret_cascade")
    results["sc"] = {
        "cold": report("SOPS cold", [once(lambda: sc.Resolver.from_config_file(config).resolve(NAME)) for _ in range(cold_runs)]),
    }
    resolver = sc.Resolver.from_config_file(config)
    resolver.resolve(NAME)
    results["sc"]["warm"] = report("SOPS warm", per_call(lambda: resolver.resolve(NAME), 100_000))
    env_resolver = sc.Resolver.from_config_file(env_config)
    assert env_resolver.resolve("smtp.password", scope="mail").value == "from-env"
    results["sc"]["env"] = report("env", per_call(lambda: env_resolver.resolve("smtp.password", scope="mail"), 200_000))

    from secret_cascade.kstlib import SecretRequest as ScRequest, SecretResolver as ScResolver

    print("secret_cascade.kstlib (kstlib's API over it)")
    shim = ScResolver(resolver)
    shim_request = ScRequest(name=NAME)
    results["shim"] = {"warm": report("SOPS warm", per_call(lambda: shim.resolve(shim_request), 100_000))}
    shim_env = ScResolver(env_resolver)
    shim_env_request = ScRequest(name="smtp.password", scope="mail")
    results["shim"]["env"] = report("env", per_call(lambda: shim_env.resolve(shim_env_request), 100_000))

    print("kstlib / secret_cascade (median): " + ", ".join(
        f"{case} {results['kstlib'][case] / results['sc'][case]:.0f}x" for case in ("cold", "warm", "env")
    ))


if __name__ == "__main__":
    main()
