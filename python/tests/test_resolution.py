"""The resolution semantics of the Rust suite (tests/resolution.rs, tests/sops_provider.rs),
through the Python package: env with prefix and scope, SOPS files, defaults, misses, and
failing closed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import secret_cascade as sc
from conftest import KEY, WRONG_KEY, WriteConfig


def test_env_with_prefix_and_scope_wins_over_sops(sops_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    resolver = sc.Resolver.from_config_file(sops_config())
    monkeypatch.setenv("SCTEST__MAIL__SMTP__PASSWORD", "from-env")
    record = resolver.resolve("smtp.password", scope="mail")
    assert (record.source, record.value) == ("env", "from-env")
    assert record.metadata == {"variable": "SCTEST__MAIL__SMTP__PASSWORD"}
    # The environment is read at each lookup, and it comes before the SOPS file.
    monkeypatch.setenv("SCTEST__TOKEN", "env-token")
    assert resolver.resolve("token").source == "env"
    monkeypatch.delenv("SCTEST__TOKEN")
    assert resolver.resolve("token").source == "sops"


def test_hyphens_become_underscores_in_variable_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("providers:\n  - kind: env\n    prefix: APP\n")
    monkeypatch.setenv("APP__API_KEY__X", "v")
    assert sc.Resolver.from_config_file(config).resolve("api-key.x").value == "v"


def test_sops_values_come_back_as_text(sops_config: WriteConfig) -> None:
    resolver = sc.Resolver.from_config_file(sops_config())
    values = {
        name: resolver.resolve(name).value
        for name in ["token", "database.password", "database.port", "database.ratio", "database.enabled", "database.empty"]
    }
    assert values == {
        "token": "tok-123",
        "database.password": "s3cr3t",
        "database.port": "5432",
        "database.ratio": "0.75",
        "database.enabled": "true",
        "database.empty": "",
    }
    record = resolver.resolve("password", scope="database")
    assert record.source == "sops"
    assert record.metadata["key"] == "database.password"
    assert Path(record.metadata["path"]) == (Path.cwd() / "secrets.enc.yaml").resolve()
    # Lists index by number; maps and lists come back as compact JSON.
    assert resolver.resolve("database.tags.1").value == "42"
    assert json.loads(resolver.resolve("database.tags.2").value) == {"nested_in_list": {"deep": "value"}}
    assert resolver.resolve("database.unicode").value == "héllo wörld ✓ 日本語 🔑"


def test_key_path_reaches_keys_and_null_is_a_miss(sops_config: WriteConfig) -> None:
    resolver = sc.Resolver.from_config_file(sops_config())
    assert resolver.resolve("ignored", key_path=["database", "user"]).value == "admin"
    assert resolver.lookup("database.nothing") is None
    with pytest.raises(TypeError):
        resolver.resolve("x", key_path="database.user")  # type: ignore[arg-type]


def test_every_store_serves_lookups(sops_config: WriteConfig) -> None:
    for fixture, name, expected in [
        ("data.json", "database.password", "s3cr3t"),
        ("data.json", "database.port", "5432"),
        ("app.env", "DB_PASSWORD", "s3cr3t"),
        ("app.ini", "database.password", "s3cr3t"),
    ]:
        record = sc.Resolver.from_config_file(sops_config(fixture)).resolve(name)
        assert (record.source, record.value) == ("sops", expected), fixture


def test_defaults_answer_only_misses(sops_config: WriteConfig) -> None:
    resolver = sc.Resolver.from_config_file(sops_config())
    record = resolver.resolve("absent.name", default="fallback")
    assert (record.source, record.value) == ("default", "fallback")
    assert resolver.resolve("token", default="fallback").value == "tok-123"
    # "" is a value, both as a default and in the file.
    assert resolver.resolve("absent.name", default="").value == ""
    assert resolver.resolve("database.empty", default="d").source == "sops"


def test_a_miss_raises_not_found_naming_every_layer(sops_config: WriteConfig) -> None:
    resolver = sc.Resolver.from_config_file(sops_config())
    assert resolver.lookup("absent.name") is None
    with pytest.raises(sc.SecretNotFoundError) as caught:
        resolver.resolve("absent.name")
    error = caught.value
    assert isinstance(error, sc.SecretError) and isinstance(error, RuntimeError)
    assert (error.name, error.resolver) == ("absent.name", "pytest")
    assert [attempt.layer for attempt in error.tried][0] == "env"
    assert error.tried[0] == sc.Attempt("env", "missed", "SCTEST__ABSENT__NAME is not set")
    assert error.tried[1].layer.startswith("sops:") and error.tried[1].outcome == "missed"
    assert "SCTEST__ABSENT__NAME is not set" in str(error)


def test_a_missing_file_is_unavailable_and_skipped(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(f"providers:\n  - kind: sops\n    path: absent.enc.yaml\n    age_key_file: {KEY}\n")
    resolver = sc.Resolver.from_config_file(config)
    assert resolver.resolve("token", default="d").source == "default"
    with pytest.raises(sc.SecretNotFoundError) as caught:
        resolver.resolve("token")
    assert caught.value.tried[0].outcome == "unavailable"


def test_a_tampered_file_fails_closed_even_with_a_default(sops_config: WriteConfig, tmp_path: Path) -> None:
    config = sops_config()
    file = tmp_path / "secrets.enc.yaml"
    file.write_text(file.read_text().replace("key_unencrypted: visible", "key_unencrypted: changed"))
    resolver = sc.Resolver.from_config_file(config)
    for call in (resolver.resolve, resolver.lookup):
        with pytest.raises(sc.SecretDecryptionError) as caught:
            call("token", default="d")
        assert "MAC mismatch" in str(caught.value)
        assert Path(caught.value.file) == file.resolve()
        assert "tok-123" not in str(caught.value) and "tok-123" not in repr(caught.value)


def test_a_wrong_key_fails_closed_naming_the_recipients(sops_config: WriteConfig) -> None:
    resolver = sc.Resolver.from_config_file(sops_config(key=WRONG_KEY))
    with pytest.raises(sc.SecretDecryptionError) as caught:
        resolver.resolve("token", default="d")
    assert "no identity matched" in str(caught.value)
    assert "age17qg6" in str(caught.value)


def test_config_errors_name_the_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("providers:\n  - kind: env\n    prefx: X\n")
    with pytest.raises(sc.ConfigError) as caught:
        sc.Resolver.from_config_file(config)
    error = caught.value
    assert Path(error.file) == config and error.key is not None and "prefx" in error.key
    assert error.line == 3
    with pytest.raises(sc.ConfigError):
        sc.Resolver.from_config_file(tmp_path / "absent.yml")


def test_invalid_requests_are_value_errors() -> None:
    resolver = sc.Resolver.discover()
    for bad in ["", "a..b", ".a"]:
        with pytest.raises(sc.InvalidRequestError):
            resolver.resolve(bad)
        with pytest.raises(ValueError):
            resolver.lookup(bad)


def test_discover_reads_the_config_of_the_current_folder(sops_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    sops_config()
    resolver = sc.Resolver.discover()
    assert resolver.name == "pytest"
    assert resolver.layers[0] == "env" and resolver.layers[1].startswith("sops:")
    assert resolver.resolve("token").value == "tok-123"


def test_discover_without_a_config_is_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    resolver = sc.Resolver.discover()
    assert resolver.name == "default"
    monkeypatch.setenv("SOME__NAME", "v")
    assert resolver.resolve("some.name").source == "env"
