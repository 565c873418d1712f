"""Several threads resolving at once, and the GIL released while one resolves."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

import secret_cascade as sc
from conftest import KEY, SOPS, WriteConfig


def test_threads_share_one_resolver(sops_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    resolver = sc.Resolver.from_config_file(sops_config())
    monkeypatch.setenv("SCTEST__FROM__ENV", "env-value")
    expected = {"token": "tok-123", "database.password": "s3cr3t", "from.env": "env-value"}
    failures: list[BaseException] = []
    seen: list[tuple[str, str | None]] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(50):
                for name in expected:
                    record = resolver.resolve(name)
                    with lock:
                        seen.append((name, record.value))
                assert resolver.lookup("absent.name") is None
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert len(seen) == 8 * 50 * 3
    assert all(value == expected[name] for name, value in seen)
    assert resolver.cached_documents == 1


def test_the_gil_is_released_while_resolving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The age identity comes from SOPS_AGE_KEY_CMD, a command that waits for this test's main
    # thread to create `go`. The main thread can only do that (it is Python code) while the other
    # thread is inside resolve() if resolve() released the GIL; else the command gives up and
    # resolve() fails.
    shutil.copy(SOPS / "enc" / "nested.yaml", tmp_path / "secrets.enc.yaml")
    config = tmp_path / "c.yml"
    config.write_text("providers:\n  - kind: sops\n    path: secrets.enc.yaml\n")
    started, go = tmp_path / "started", tmp_path / "go"
    script = (
        f"touch {started}; i=0; while [ ! -e {go} ]; do sleep 0.01; i=$((i+1)); "
        f"[ $i -gt 2000 ] && exit 1; done; cat {KEY}"
    )
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", f"sh -c '{script}'")
    resolver = sc.Resolver.from_config_file(config)
    outcome: dict[str, object] = {}

    def resolve() -> None:
        try:
            outcome["value"] = resolver.resolve("token").value
        except sc.SecretError as error:
            outcome["error"] = error

    thread = threading.Thread(target=resolve)
    thread.start()
    for _ in range(3000):
        if started.exists() or not thread.is_alive():
            break
        time.sleep(0.01)
    go.touch()
    thread.join(60)
    assert outcome == {"value": "tok-123"}
