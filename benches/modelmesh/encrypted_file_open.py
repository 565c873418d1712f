"""modelmesh-lite 0.1.1's side of benches/encrypted_file.rs, on the same files.

Run with the interpreter scripts/install-modelmesh prints:

    $(scripts/install-modelmesh) benches/modelmesh/encrypted_file_open.py [ROUNDS]

Prints, best of ROUNDS (default 10) and median: PBKDF2-HMAC-SHA256 at 600 000 rounds alone
(hashlib, OpenSSL underneath), a cold open of worked_passphrase.enc (EncryptedFileSecretStore
construction: read, PBKDF2, AES-GCM, json.loads) and the first get, a cold open of
rawkey_mixed.enc (no PBKDF2), and a warm get (the store's cache on, as by default).
"""
import hashlib
import statistics
import sys
import time
from pathlib import Path

from modelmesh.connectors.secret_stores.encrypted_file_store import (
    EncryptedFileSecretStore,
    EncryptedFileSecretStoreConfig,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "modelmesh"
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def measure(label, action, rounds=ROUNDS, inner=1):
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(inner):
            action()
        times.append((time.perf_counter() - started) / inner)
    best, median = min(times), statistics.median(times)
    unit, scale = ("ms", 1e3) if best > 1e-3 else ("us", 1e6)
    print(f"{label:<42} best {best * scale:9.3f} {unit}   median {median * scale:9.3f} {unit}")


def passphrase_store():
    return EncryptedFileSecretStore(EncryptedFileSecretStoreConfig(
        file_path=str(FIXTURES / "worked_passphrase.enc"),
        passphrase="correct horse battery staple"))


def rawkey_store():
    return EncryptedFileSecretStore(EncryptedFileSecretStoreConfig(
        file_path=str(FIXTURES / "rawkey_mixed.enc"),
        encryption_key="4b43d22cb6b0ef788367b2f0642fab326796f75e8e9e8378db94e992908d2b7f"))


measure("pbkdf2 600k (hashlib)", lambda: hashlib.pbkdf2_hmac(
    "sha256", b"correct horse battery staple", bytes(range(16)), 600_000))
measure("cold open + get, passphrase (600k)", lambda: passphrase_store().get("OPENAI_API_KEY"))
measure("cold open + get, raw key", lambda: rawkey_store().get("DB_PASSWORD"), inner=100)
warm = passphrase_store()
warm.get("OPENAI_API_KEY")
measure("warm get (cache on)", lambda: warm.get("OPENAI_API_KEY"), inner=100_000)
