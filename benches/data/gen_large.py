#!/usr/bin/env python3
"""Writes benches/data/large.yaml: the 2000-leaf secrets file the SOPS benchmarks run on.

Deterministic (seeded, standard library only): the same plaintext on every run. Nested maps
2-4 levels deep under `services`, `infrastructure`, `third_party`, ...; lists of strings and of
maps; strings of varied length (passwords, tokens, URLs, hosts, a few PEM blocks), ints, floats,
bools; a few comments. The lookup the benchmarks time is `services.payments.db.password`.

The encrypted file is made by the real sops 3.11 (random data key and IVs, so it is not
reproducible byte for byte; the committed large.enc.yaml is the one the figures were taken on):

    python3 benches/data/gen_large.py
    SOPS_DISABLE_VERSION_CHECK=1 sops encrypt \
        --age age17qg6tvlhy6l2al555r5a3vzlz0773f8hewax38d8fhphjc6kvy2qdd0hrg \
        benches/data/large.yaml > benches/data/large.enc.yaml

Sized so that the ENCRYPTED file is about 300 KB, the size the performance targets are stated for:
sops adds ~110 bytes per leaf, so the plaintext is only ~67 KB (values short-ish on average, as
in real files: half are ints, floats and bools). Leaves: 966 str, 467 bool, 375 int, 192 float.
"""

import json
import random
import re
import string
from pathlib import Path

SEED = 20261122
LEAVES = 2000
OUT = Path(__file__).with_name("large.yaml")

rng = random.Random(SEED)


class Block(str):
    """A multi-line string written as a YAML literal block (`|`)."""


# --- leaf values -------------------------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits
SPECIAL = "!#%&*+-=?@^_~"
REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-1"]


def chars(n, alphabet=ALNUM):
    return "".join(rng.choice(alphabet) for _ in range(n))


def password():
    return chars(rng.randint(10, 18), ALNUM + SPECIAL)


def token(prefix=""):
    return prefix + chars(rng.randint(10, 24))


def hexkey(n=20):
    return chars(n, "0123456789abcdef")


def host(svc, role):
    return f"{svc}-{role}-{rng.randint(1, 9)}.internal"


def pem(kind="CERTIFICATE", lines=6):
    body = "\n".join(chars(64, ALNUM + "+/") for _ in range(lines))
    return Block(f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n")


def ratio():
    return round(rng.uniform(0.01, 0.99), 2)


# --- sections ----------------------------------------------------------------------------------

COMPONENTS = {
    "db": lambda s: {
        "host": host(s, "db"), "port": 5432, "name": s.replace("-", "_"), "user": f"{s}_app",
        "password": password(), "pool_size": rng.choice([5, 10, 20, 40]), "max_idle": rng.choice([2, 5, 10]),
        "ssl": rng.random() < 0.8,
        "replicas": [{"host": host(s, "replica"), "port": 5432, "password": password()}
                     for _ in range(rng.randint(1, 3))],
    },
    "cache": lambda s: {
        "url": f"redis://{host(s, 'redis')}:6379/{rng.randint(0, 15)}", "password": password(),
        "ttl_seconds": rng.choice([60, 300, 900, 3600]), "enabled": True,
    },
    "api": lambda s: {
        "key": token("key_"), "secret": hexkey(), "rate_limit": rng.choice([100, 500, 1000, 5000]),
        "timeout_ms": rng.choice([250, 500, 1500, 3000]),
        "allowed_cidrs": [f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0/24" for _ in range(rng.randint(1, 3))],
    },
    "smtp": lambda s: {
        "host": "smtp.mailrelay.example.com", "port": rng.choice([25, 587, 2525]),
        "username": f"{s}@mail.example.com", "password": password(), "starttls": True,
    },
    "queue": lambda s: {
        "brokers": [f"{host(s, 'kafka')}:9092" for _ in range(rng.randint(2, 3))],
        "sasl_username": f"{s}-producer", "sasl_password": password(), "acks": rng.choice([0, 1, -1]),
        "batch_size": rng.choice([100, 500]),
    },
    "oauth": lambda s: {
        "client_id": f"{s}-{hexkey(8)}", "client_secret": token(),
        "token_url": "https://auth.example.com/oauth2/token",
        "scopes": rng.sample(["read", "write", "admin", "openid", "profile", "offline_access"], rng.randint(1, 4)),
    },
    "s3": lambda s: {
        "bucket": f"acme-{s}-{rng.choice(REGIONS)}", "region": rng.choice(REGIONS),
        "access_key_id": "AKIA" + chars(16, string.ascii_uppercase + string.digits),
        "secret_access_key": chars(40, ALNUM + "+/"), "versioning": rng.random() < 0.5,
    },
    "jwt": lambda s: {
        "signing_key": hexkey(32), "issuer": f"https://{s}.example.com", "ttl_seconds": 900, "leeway_seconds": 30,
        "algorithm": "HS256",
    },
    "sentry": lambda s: {
        "dsn": f"https://{hexkey(16)}@sentry.example.com/{rng.randint(10, 999)}",
        "sample_rate": ratio(), "enabled": rng.random() < 0.9,
    },
    "webhooks": lambda s: {
        "signing_secret": token("whsec_"), "retries": rng.randint(1, 5),
        "endpoints": [f"https://hooks.example.net/{hexkey(8)}" for _ in range(rng.randint(1, 2))],
    },
}

SERVICES = [
    "payments", "billing", "auth", "search", "checkout", "inventory", "orders", "shipping", "notifications",
    "analytics", "reporting", "catalog", "pricing", "recommendations", "reviews", "accounts", "gateway",
    "media", "ledger", "fraud", "support", "onboarding", "scheduler", "exports", "imports", "audit",
    "loyalty", "marketing", "partners", "warehouse", "returns", "subscriptions", "identity", "profiles",
]


def service(name):
    picked = ["db"] + rng.sample([c for c in COMPONENTS if c != "db"], rng.randint(3, 6))
    if name != "payments" and rng.random() < 0.3:
        picked.remove("db")
    return {c: COMPONENTS[c](name) for c in picked}


def infrastructure():
    clusters = {r: {"api_server": f"https://k8s.{r}.example.com:6443", "token": token("eyJ"),
                    "namespace": "prod", "ca_cert": pem()} for r in REGIONS[:3]}
    return {
        "clusters": clusters,
        "vpn": {"psk": password(), "gateway": "vpn.example.com", "port": 51820, "mtu": 1420},
        "monitoring": {
            "grafana": {"admin_password": password(), "api_key": token("glsa_")},
            "prometheus": {"remote_write_url": "https://prom.example.com/api/v1/write",
                           "basic_auth": {"username": "prom", "password": password()}},
        },
        "tls": {"wildcard_key": pem("PRIVATE KEY", 8), "wildcard_cert": pem()},
    }


def third_party():
    return {
        "stripe": {"publishable_key": token("pk_live_"), "secret_key": token("sk_live_"), "webhook_secret": token("whsec_")},
        "twilio": {"account_sid": "AC" + hexkey(), "auth_token": hexkey()},
        "sendgrid": {"api_key": "SG." + chars(22) + "." + chars(43)},
        "github": {"app_id": rng.randint(100000, 999999), "private_key": pem("RSA PRIVATE KEY", 10), "webhook_secret": hexkey(40)},
        "slack": {"bot_token": token("xoxb-"), "signing_secret": hexkey()},
        "datadog": {"api_key": hexkey(), "app_key": hexkey(40), "site": "datadoghq.eu"},
        "pagerduty": {"routing_key": hexkey(), "enabled": True},
    }


def count(node):
    if isinstance(node, dict):
        return sum(count(v) for k, v in node.items() if not k.startswith("#"))
    if isinstance(node, list):
        return sum(count(v) for v in node)
    return 1


def document():
    head = {"# Production secrets. Rotate quarterly; see the runbook.": None,
            "environment": "production", "schema_version": 3}
    infra, third = infrastructure(), third_party()
    accounts = [{"name": f"svc-{n}", "token": token("sa_"), "expires_days": rng.choice([30, 90, 365])}
                for n in ("ci", "deploy", "backup", "migrations")]
    budget = LEAVES - count(head) - count(infra) - count(third) - count(accounts)
    services, names = {}, iter(SERVICES + [f"{n}-v2" for n in SERVICES])
    while True:
        name = next(names)
        svc = service(name)
        if count(svc) > budget - 500:  # leave the rest for feature flags
            break
        services[name] = svc
        budget -= count(svc)
    flags = {}
    for i in range(budget):
        flag = f"{rng.choice(['new', 'beta', 'old'])}_{rng.choice(['cart', 'search', 'login', 'export'])}_{i}"
        flags[flag] = rng.random() < 0.5 if i % 3 else ratio()
    doc = dict(head)
    doc.update({"services": services, "infrastructure": infra, "third_party": third,
                "service_accounts": accounts, "# Rollout switches, not secret but kept together.": None,
                "feature_flags": flags})
    assert count(doc) == LEAVES, count(doc)
    return doc


# --- a small YAML writer (block style, quoting only where a plain scalar would change type) ------

PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_./:@+-]*$")
RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if PLAIN.match(v) and v.lower() not in RESERVED:
        return v
    return json.dumps(v)


def emit(node, pad, out):
    for k, v in node.items():
        if k.startswith("#"):
            out.append(f"{pad}{k}")
        elif isinstance(v, Block):
            out.append(f"{pad}{k}: |")
            out.extend(f"{pad}  {line}" for line in v.splitlines())
        elif isinstance(v, dict):
            out.append(f"{pad}{k}:")
            emit(v, pad + "  ", out)
        elif isinstance(v, list):
            out.append(f"{pad}{k}:")
            for item in v:
                if isinstance(item, dict):
                    sub = []
                    emit(item, pad + "    ", sub)
                    out.append(f"{pad}  - {sub[0].lstrip()}")
                    out.extend(sub[1:])
                else:
                    out.append(f"{pad}  - {scalar(item)}")
        else:
            out.append(f"{pad}{k}: {scalar(v)}")


if __name__ == "__main__":
    lines = []
    emit(document(), "", lines)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"{OUT}: {LEAVES} leaves, {OUT.stat().st_size} bytes")
