"""secret_cascade.kstlib: kstlib 3.8.2's documented examples, unchanged but for the import, and
its resolution semantics over the native resolver."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

import secret_cascade as sc
from conftest import WriteConfig
from secret_cascade.kstlib import (
    SecretDecryptionError,
    SecretNotFoundError,
    SecretRecord,
    SecretRequest,
    SecretResolver,
    SecretSource,
    get_secret_resolver,
    resolve_secret,
    sensitive,
)

# Runs every example (doctest) in the docstrings of kstlib.secrets' modules (the installed kstlib
# 3.8.2), with `kstlib.secrets` and its submodules imported as `secret_cascade.kstlib`: the one
# change a kstlib user makes. In a fresh process: the process-wide resolver is built there, in a
# folder without a config, as in kstlib's examples.
RUN_EXAMPLES = r"""
import doctest, importlib, json, re, sys
finder = doctest.DocTestFinder()
runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
ran, skipped = [], []
for module in ["kstlib.secrets.models", "kstlib.secrets.resolver", "kstlib.secrets.sensitive"]:
    for test in finder.find(importlib.import_module(module)):
        if not test.examples:
            continue
        source = "".join(example.source for example in test.examples)
        # kstlib's provider registry (get_provider) is what config kinds replace here.
        if "get_provider" in source:
            skipped.append(test.name)
            continue
        for example in test.examples:
            example.source = re.sub(r"kstlib\.secrets(\.\w+)?", "secret_cascade.kstlib", example.source)
        test.globs = {}
        runner.run(test, out=sys.stderr.write)
        ran.append(test.name)
print(json.dumps({"ran": sorted(ran), "skipped": sorted(skipped), "failed": runner.failures}))
"""


def test_kstlib_documented_examples_run_unchanged(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "SECRET_CASCADE_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-c", RUN_EXAMPLES], cwd=tmp_path, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    import json

    report = json.loads(done.stdout)
    assert report == {
        "ran": [
            "kstlib.secrets.resolver.get_secret_resolver",
            "kstlib.secrets.resolver.resolve_secret",
            "kstlib.secrets.sensitive.sensitive",
        ],
        "skipped": ["kstlib.secrets.resolver.SecretResolver"],
        "failed": 0,
    }, done.stderr


def test_the_names_and_signatures_are_kstlibs() -> None:
    import inspect

    import kstlib.secrets as original

    import secret_cascade.kstlib as ours

    for name in original.__all__:
        if name == "SecretResolver":  # built over the native resolver, not kstlib's providers
            continue
        assert hasattr(ours, name), name
        theirs, mine = getattr(original, name), getattr(ours, name)
        if inspect.isfunction(theirs):
            assert list(inspect.signature(theirs).parameters) == list(inspect.signature(mine).parameters), name
    for member in original.SecretSource:
        assert ours.SecretSource(member.value).name == member.name
    assert [f for f in SecretRequest.__dataclass_fields__] == ["name", "scope", "required", "default", "metadata"]
    assert issubclass(SecretNotFoundError, RuntimeError) and issubclass(SecretDecryptionError, RuntimeError)


def resolver_for(config: Path, **kwargs: object) -> SecretResolver:
    return SecretResolver(sc.Resolver.from_config_file(config), **kwargs)  # type: ignore[arg-type]


def test_sources_and_records_are_kstlibs(sops_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    resolver = resolver_for(sops_config(), secrets={"api.key": "kw"})
    monkeypatch.setenv("SCTEST__MAIL__SMTP__PASSWORD", "from-env")
    env = resolver.resolve(SecretRequest("smtp.password", scope="mail"))
    assert (env.value, env.source) == ("from-env", SecretSource.ENVIRONMENT)
    sops = resolver.resolve(SecretRequest("database.password"))
    assert (sops.value, sops.source, sops.metadata["key"]) == ("s3cr3t", SecretSource.SOPS, "database.password")
    kwargs = resolver.resolve(SecretRequest("api.key"))
    assert (kwargs.value, kwargs.source) == ("kw", SecretSource.KWARGS)
    assert "s3cr3t" not in repr(sops) and "SecretSource.SOPS" in repr(sops)


def test_defaults_required_and_key_path_as_in_kstlib(sops_config: WriteConfig) -> None:
    resolver = resolver_for(sops_config())
    # Any default but None wins, kept as given: 0 and "" too.
    zero = resolver.resolve(SecretRequest("absent", default=0))
    assert (zero.value, zero.source, zero.metadata) == (0, SecretSource.DEFAULT, {"resolver": "pytest"})
    assert resolver.resolve(SecretRequest("absent", default="")).value == ""
    optional = resolver.resolve(SecretRequest("absent", required=False))
    assert (optional.value, optional.source) == (None, SecretSource.DEFAULT)
    with pytest.raises(SecretNotFoundError):
        resolver.resolve(SecretRequest("absent"))
    for key_path in ("database.user", ["database", "user"]):
        record = resolver.resolve(SecretRequest("ignored", metadata={"key_path": key_path}))
        assert record.value == "admin"
    with pytest.raises(ValueError):
        resolver.resolve(SecretRequest("token", metadata={"path": "other.enc.yaml"}))


def test_a_broken_source_is_never_replaced_by_a_default(sops_config: WriteConfig, tmp_path: Path) -> None:
    config = sops_config()
    file = tmp_path / "secrets.enc.yaml"
    file.write_text(file.read_text().replace("key_unencrypted: visible", "key_unencrypted: changed"))
    resolver = resolver_for(config)
    for request in (SecretRequest("token", default="d"), SecretRequest("token", required=False)):
        with pytest.raises(SecretDecryptionError):
            resolver.resolve(request)


def test_sensitive_wipes_the_native_buffer_and_purges_providers(sops_config: WriteConfig) -> None:
    resolver = resolver_for(sops_config())
    record = resolver.resolve(SecretRequest("token"))
    native = record._native
    assert native is not None and native.value == "tok-123"
    with sensitive(record, providers=[resolver]) as value:
        assert value == "tok-123"
    assert record.value is None and native.wiped
    assert resolver._resolver.cached_documents == 0


def test_resolve_async(sops_config: WriteConfig) -> None:
    resolver = resolver_for(sops_config())
    record = asyncio.run(resolver.resolve_async(SecretRequest("token")))
    assert record.value == "tok-123"
    default = asyncio.run(resolver.resolve_async(SecretRequest("absent", default="d")))
    assert default.metadata == {"resolver": "pytest", "async": True}


def test_process_wide_functions(sops_config: WriteConfig) -> None:
    with pytest.raises(TypeError, match="Unsupported keyword arguments: bogus"):
        resolve_secret("x", bogus=1)
    with pytest.raises(ValueError, match="from files"):
        get_secret_resolver({"providers": []})
    assert resolve_secret("absent.kstlib.name", default=5).value == 5
    record = SecretRecord(value=bytearray(b"abc"), source=SecretSource.SOPS)
    with sensitive(record) as buffer:
        assert buffer == bytearray(b"abc")
    assert record.value is None
