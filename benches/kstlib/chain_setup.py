"""kstlib 3.8.2's `env -> sops` chain, as its config builds it: what chain_lookup.py and
chain_loop.py share, the side of benches/chain.rs and of lookup_loop's `env-then-sops`.

The config is the `secrets:` section of a kstlib.conf.yml,

    secrets:
      providers:
        - {name: environment, settings: {prefix: BENCH}}
        - {name: sops, settings: {path: benches/data/large.enc.yaml}}

which kstlib's get_secret_resolver turns into SecretResolver([EnvironmentProvider, SOPSProvider])
(no keyring layer: an explicit provider list replaces kstlib's default chain). The env layer looks
for BENCH__SERVICES__PAYMENTS__DB__PASSWORD etc., the same variables as ours with prefix BENCH.

kstlib decrypts by running `sops --decrypt`: the Go binary from SOPS_BIN (scripts/install-sops),
else `sops` on PATH, with the age key of SOPS_AGE_KEY_FILE (default fixtures/sops/key.txt).
"""

import os
import shutil
import sys
from pathlib import Path

import yaml
from kstlib.secrets.models import SecretRequest
from kstlib.secrets.resolver import get_secret_resolver

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "benches/data/large.enc.yaml"
os.environ.setdefault("SOPS_AGE_KEY_FILE", str(ROOT / "fixtures/sops/key.txt"))
os.environ["SOPS_DISABLE_VERSION_CHECK"] = "1"
# The env layer's answer; the other two names have no variable.
os.environ["BENCH__SERVICES__PAYMENTS__DB__USER"] = "from-env"
os.environ.pop("BENCH__SERVICES__PAYMENTS__DB__PASSWORD", None)
os.environ.pop("BENCH__SERVICES__PAYMENTS__DB__ABSENT", None)

SOPS = os.environ.get("SOPS_BIN") or shutil.which("sops")
if not SOPS:
    sys.exit(f"{Path(sys.argv[0]).name}: no sops (kstlib shells out to it): set SOPS_BIN=$(scripts/install-sops)")

# name -> (request, the source that must answer it; None: no layer, kstlib's default record)
CASES = {
    "env-then-sops": (SecretRequest(name="services.payments.db.password"), "sops"),
    "chain-env-hit": (SecretRequest(name="services.payments.db.user"), "environment"),
    "chain-miss": (SecretRequest(name="services.payments.db.absent", required=False), None),
}


def new_resolver():
    """The chain, with its SOPS cache warm and every case checked to be answered by its layer."""
    resolver = get_secret_resolver({
        "name": "bench",
        "providers": [
            {"name": "environment", "settings": {"prefix": "BENCH"}},
            {"name": "sops", "settings": {"path": str(FILE), "binary": SOPS}},
        ],
    })
    plain = yaml.safe_load((ROOT / "benches/data/large.yaml").read_text())
    expected = {"sops": plain["services"]["payments"]["db"]["password"], "environment": "from-env", None: None}
    for name, (request, source) in CASES.items():
        record = resolver.resolve(request)
        got = record.source.value if record.value is not None else None
        assert got == source and record.value == expected[source], f"{name}: answered by {got}"
    return resolver
