"""Shared fixtures: the repository's SOPS fixtures and configs written into a temporary folder."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
SOPS = REPO / "fixtures" / "sops"
KEY = SOPS / "key.txt"
WRONG_KEY = SOPS / "key2.txt"
LARGE = REPO / "benches" / "data" / "large.enc.yaml"

# Identity sources other than the config's age_key_file, kept out of every test.
IDENTITY_VARIABLES = ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in IDENTITY_VARIABLES + ("SECRET_CASCADE_CONFIG",):
        monkeypatch.delenv(variable, raising=False)
    # No user config, no sops default key file from the machine.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


WriteConfig = Callable[..., Path]


@pytest.fixture
def sops_config(tmp_path: Path) -> WriteConfig:
    """Copies fixture ``enc/NAME`` to secrets.enc.yaml and writes a config: env (prefix
    SCTEST), then that file with ``key``. Returns the config's path."""

    def write(name: str = "nested.yaml", key: Path = KEY, source: Path | None = None) -> Path:
        # The store (yaml, json, dotenv, ini) follows the file's extension.
        file = f"secrets.enc{Path(name).suffix}"
        shutil.copy(source or SOPS / "enc" / name, tmp_path / file)
        config = tmp_path / "secret-cascade.yml"
        config.write_text(
            "name: pytest\n"
            "providers:\n"
            "  - kind: env\n"
            "    prefix: SCTEST\n"
            "  - kind: sops\n"
            f"    path: {file}\n"
            f"    age_key_file: {key}\n"
        )
        return config

    return write
