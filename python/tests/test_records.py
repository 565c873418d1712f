"""Records, sensitive(), and that no repr or error ever shows a value."""

from __future__ import annotations

from pathlib import Path

import pytest

import secret_cascade as sc
from conftest import WriteConfig

VALUE = "tok-123"


def test_repr_never_shows_the_value(sops_config: WriteConfig) -> None:
    resolver = sc.Resolver.from_config_file(sops_config())
    record = resolver.resolve("token")
    assert record.value == VALUE
    shown = repr(record) + str(record) + repr(resolver)
    assert VALUE not in shown
    assert "source='sops'" in repr(record) and "value=<hidden>" in repr(record)
    default = resolver.resolve("absent", default="the-default-value")
    assert "the-default-value" not in repr(default) + str(default)


def test_sensitive_yields_then_wipes(sops_config: WriteConfig) -> None:
    resolver = sc.Resolver.from_config_file(sops_config())
    record = resolver.resolve("token")
    with sc.sensitive(record) as value:
        assert value == VALUE
        assert record.value == VALUE
    assert record.value is None and record.wiped
    assert "value=<wiped>" in repr(record)
    # The source and metadata stay; the value cannot come back.
    assert record.source == "sops" and record.metadata["key"] == "token"
    with pytest.raises(ValueError):
        with sc.sensitive(record):
            pass


def test_sensitive_wipes_when_the_block_raises(sops_config: WriteConfig) -> None:
    record = sc.Resolver.from_config_file(sops_config()).resolve("token")
    with pytest.raises(KeyError):
        with sc.sensitive(record):
            raise KeyError("boom")
    assert record.value is None


def test_sensitive_can_purge_the_decrypted_document(sops_config: WriteConfig) -> None:
    resolver = sc.Resolver.from_config_file(sops_config())
    with sc.sensitive(resolver.resolve("token")):
        pass
    assert resolver.cached_documents == 1
    with sc.sensitive(resolver.resolve("token"), purge_cache=True):
        pass
    assert resolver.cached_documents == 0
    assert resolver.resolve("token").value == VALUE
    assert resolver.cached_documents == 1
    resolver.purge_cache()
    assert resolver.cached_documents == 0


def test_metadata_is_a_copy(sops_config: WriteConfig) -> None:
    record = sc.Resolver.from_config_file(sops_config()).resolve("token")
    record.metadata["key"] = "changed"
    assert record.metadata["key"] == "token"


def test_errors_never_carry_a_value(sops_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = sops_config()
    monkeypatch.setenv("SCTEST__OTHER", "env-value-secret")
    file = tmp_path / "secrets.enc.yaml"
    file.write_text(file.read_text().replace("key_unencrypted: visible", "key_unencrypted: changed"))
    resolver = sc.Resolver.from_config_file(config)
    with pytest.raises(sc.SecretError) as caught:
        resolver.resolve("token", default="a-default-secret")
    error = caught.value
    text = str(error) + repr(error) + repr(vars(error)) + repr(error.args)
    for value in (VALUE, "s3cr3t", "a-default-secret", "env-value-secret"):
        assert value not in text
    with pytest.raises(sc.SecretNotFoundError) as missed:
        env_only = tmp_path / "env.yml"
        env_only.write_text("providers:\n  - kind: env\n    prefix: SCTEST\n")
        sc.Resolver.from_config_file(env_only).resolve("absent.secret")
    assert "env-value-secret" not in repr(vars(missed.value)) + str(missed.value)


def test_process_wide_resolver(sops_config: WriteConfig) -> None:
    sops_config()
    first = sc.get_resolver()
    assert first.name == sc.get_resolver().name
    # Built once per process: whatever config the first use found.
    assert sc.resolve_secret("absent.process.wide", default="d").source == "default"
