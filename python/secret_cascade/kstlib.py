"""kstlib.secrets' names and signatures over secret-cascade's native resolver.

Change ``from kstlib.secrets import ...`` to ``from secret_cascade.kstlib import ...``; the
names, signatures, records and exceptions are kstlib 3.8.2's. What differs (on purpose):

- The resolver is the process-wide one, built once from the discovered config
  (``secret_cascade.Resolver.discover()``: a secret-cascade config file, else kstlib's own
  config where this build reads it, else the environment), so its SOPS cache lives for the
  process instead of one ``sops`` subprocess per call.
- A source that is present but broken (a tampered file, a wrong key) raises
  ``SecretDecryptionError`` even when a default was given; an unavailable one (no keyring daemon)
  is skipped. ``SecretNotFoundError`` names every layer tried.
- ``scope`` is part of the document path in SOPS files (``scope.name``), as in the environment.
- ``config=`` mappings are not read: the config comes from files (``ValueError`` if one is given);
  the request metadata ``path`` (pick another SOPS file) is refused the same way.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Optional, Protocol, Union

from secret_cascade import _native
from secret_cascade.errors import SecretDecryptionError, SecretError, SecretNotFoundError

__all__ = [
    "CachePurgeProtocol",
    "SecretDecryptionError",
    "SecretError",
    "SecretNotFoundError",
    "SecretRecord",
    "SecretRequest",
    "SecretResolver",
    "SecretSource",
    "get_secret_resolver",
    "resolve_secret",
    "sensitive",
]

# kstlib's dataclasses have slots, which Python 3.9 does not offer.
_SLOTS: dict[str, bool] = {"slots": True} if sys.version_info >= (3, 10) else {}


class SecretSource(str, Enum):
    """Where a resolved secret came from: kstlib's members, then secret-cascade's other layers."""

    KWARGS = "kwargs"
    ENVIRONMENT = "environment"
    KEYRING = "keyring"
    SOPS = "sops"
    KMS = "kms"
    DEFAULT = "default"
    VAULT = "vault"
    ENCRYPTED_FILE = "encrypted-file"
    DOTENV = "dotenv"
    JSON = "json"
    MEMORY = "memory"
    OTHER = "other"
    """A kind of layer registered by an application; ``metadata["source"]`` names it."""


# secret-cascade's source words to kstlib's members (override is kstlib's kwargs).
_SOURCES = {
    "override": SecretSource.KWARGS,
    "env": SecretSource.ENVIRONMENT,
    "keyring": SecretSource.KEYRING,
    "sops": SecretSource.SOPS,
    "default": SecretSource.DEFAULT,
    "vault": SecretSource.VAULT,
    "encrypted-file": SecretSource.ENCRYPTED_FILE,
    "dotenv": SecretSource.DOTENV,
    "json": SecretSource.JSON,
    "memory": SecretSource.MEMORY,
}


@dataclass(**_SLOTS)
class SecretRequest:
    """Describes a secret lookup request (kstlib's, field for field).

    Attributes:
        name: Identifier of the secret (e.g. "smtp.password").
        scope: Optional scope that providers can exploit for namespacing.
        required: Whether the resolver must raise if the secret is missing.
        default: Optional fallback value when the secret is not required.
        metadata: Provider hints: ``key_path`` (a dotted string or a list of keys).
    """

    name: str
    scope: Optional[str] = None
    required: bool = True
    default: Optional[Any] = field(default=None, repr=False)
    metadata: MutableMapping[str, Any] = field(default_factory=dict)


@dataclass(**_SLOTS)
class SecretRecord:
    """The value returned by the resolver (kstlib's); ``repr`` hides the value.

    A record from the native resolver also keeps the native record, whose Rust buffer
    ``sensitive()`` zeroizes on exit.
    """

    value: Any = field(repr=False)
    source: SecretSource
    metadata: Mapping[str, Any] = field(default_factory=dict)
    _native: Optional[_native.SecretRecord] = field(
        default=None, init=False, repr=False, compare=False
    )


class CachePurgeProtocol(Protocol):
    """An object ``sensitive(record, providers=[...])`` can ask to drop cached plaintext."""

    def purge_cache(self, *, path: Union[str, Path, None] = None) -> None:
        """Clear cached decrypted material."""


class SecretResolver:
    """Resolves requests through the native resolver, with kstlib's ``resolve`` signature.

    ``secrets`` are overrides asked first, as kstlib's kwargs provider (``source`` KWARGS).
    """

    def __init__(
        self,
        resolver: _native.Resolver,
        *,
        secrets: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self._resolver = resolver
        self._secrets: dict[str, Any] = dict(secrets) if secrets else {}

    @property
    def name(self) -> str:
        """Return the resolver name."""
        return self._resolver.name

    def resolve(self, request: SecretRequest) -> SecretRecord:
        """Resolve the request: the first layer that has it, else its default.

        Raises:
            SecretNotFoundError: If the secret is not found and required=True.
            SecretDecryptionError: If a source is present but broken (never hidden by a default).
        """
        override = self._secrets.get(request.name)
        if override is not None:
            return SecretRecord(override, SecretSource.KWARGS, {"provider": "kwargs"})
        key_path = _key_path(request)
        if request.default is None and request.required:
            # The native resolver raises SecretNotFoundError naming every layer it tried.
            return _record(self._resolver.resolve(request.name, request.scope, None, key_path))
        found = self._resolver.lookup(request.name, request.scope, None, key_path)
        if found is not None:
            return _record(found)
        # The default is kstlib's: any object but None, kept as given ("" and 0 count).
        return SecretRecord(request.default, SecretSource.DEFAULT, {"resolver": self.name})

    async def resolve_async(self, request: SecretRequest) -> SecretRecord:
        """Async counterpart of ``resolve`` (runs it in a worker thread)."""
        record = await asyncio.get_running_loop().run_in_executor(None, self.resolve, request)
        if record.source is SecretSource.DEFAULT:
            record.metadata = {**record.metadata, "async": True}
        return record

    def purge_cache(self, *, path: Union[str, Path, None] = None) -> None:
        """Drop decrypted documents from the cache: the one of ``path``, or all."""
        self._resolver.purge_cache(path)

    def __repr__(self) -> str:
        return f"SecretResolver(name={self.name!r}, layers={self._resolver.layers!r})"


def get_secret_resolver(
    config: Optional[Mapping[str, Any]] = None,
    *,
    secrets: Optional[Mapping[str, Any]] = None,
) -> SecretResolver:
    """The process-wide resolver (from the discovered config), with optional overrides.

    Example:
        >>> from kstlib.secrets.resolver import get_secret_resolver
        >>> resolver = get_secret_resolver()  # uses defaults
        >>> resolver.name
        'default'
    """
    if config:
        raise ValueError(
            "secret_cascade.kstlib reads its config from files, not from a mapping: describe the "
            "layers in secret-cascade.yml (or kstlib.conf.yml) and call get_secret_resolver()"
        )
    return SecretResolver(_native.get_resolver(), secrets=secrets)


def resolve_secret(
    name: str,
    *,
    config: Optional[Mapping[str, Any]] = None,
    secrets: Optional[Mapping[str, Any]] = None,
    **request_kwargs: Any,
) -> SecretRecord:
    """Resolve a secret by name with the process-wide resolver.

    ``request_kwargs`` are ``scope``, ``required``, ``default`` and ``metadata``, as in kstlib.

    Example:
        >>> from kstlib.secrets.resolver import resolve_secret
        >>> # Override for testing
        >>> record = resolve_secret("api.key", secrets={"api.key": "test-value"})
        >>> record.source
        <SecretSource.KWARGS: 'kwargs'>
    """
    unexpected = set(request_kwargs) - {"scope", "required", "default", "metadata"}
    if unexpected:
        raise TypeError(f"Unsupported keyword arguments: {', '.join(sorted(unexpected))}")
    metadata = request_kwargs.get("metadata")
    request = SecretRequest(
        name=name,
        scope=request_kwargs.get("scope"),
        required=request_kwargs.get("required", True),
        default=request_kwargs.get("default"),
        metadata=dict(metadata) if metadata else {},
    )
    return get_secret_resolver(config, secrets=secrets).resolve(request)


@contextmanager
def sensitive(
    record: SecretRecord,
    *,
    providers: Optional[Sequence[CachePurgeProtocol]] = None,
) -> Iterator[Any]:
    """Temporarily expose a secret and scrub it afterwards (kstlib's).

    On exit: mutable buffers (``bytearray``, writable ``memoryview``) are zeroed in place,
    ``record.value`` becomes ``None``, the native record's Rust buffer is zeroized, and
    ``providers`` (a ``SecretResolver`` among them) drop the document the value came from.
    A ``str`` value cannot be wiped by Python; it is only dereferenced.

    Example:
        >>> from kstlib.secrets.models import SecretRecord, SecretSource
        >>> from kstlib.secrets.sensitive import sensitive
        >>> record = SecretRecord(value=bytearray(b"api-token"), source=SecretSource.SOPS)
        >>> with sensitive(record) as secret:
        ...     secret[:3] = b"***"  # handle the secret
        >>> record.value is None
        True
    """
    try:
        yield record.value
    finally:
        _scrub(record.value)
        record.value = None
        native = getattr(record, "_native", None)
        if native is not None:
            native.wipe()
        path = record.metadata.get("path") if isinstance(record.metadata, Mapping) else None
        for provider in providers or ():
            purge = getattr(provider, "purge_cache", None)
            if callable(purge):
                purge(path=path if isinstance(path, (str, Path)) else None)


def _scrub(value: Any) -> None:
    """Zeroes mutable buffers in place, as kstlib does; other values are only dropped."""
    if isinstance(value, bytearray):
        value[:] = bytes(len(value))
    elif isinstance(value, memoryview):
        if not value.readonly:
            value[:] = bytes(value.nbytes)
        value.release()


def _key_path(request: SecretRequest) -> Optional[list[str]]:
    """kstlib's ``metadata["key_path"]``: a dotted string or a sequence of keys."""
    hints = request.metadata or {}
    if hints.get("path"):
        raise ValueError(
            "secret_cascade.kstlib: metadata 'path' (another SOPS file per request) is not "
            "supported; add a `kind: sops` layer for that file to the config"
        )
    key_path = hints.get("key_path")
    if key_path is None:
        return None
    if isinstance(key_path, str):
        return [part for part in key_path.split(".") if part]
    if isinstance(key_path, Sequence):
        return [str(part) for part in key_path]
    raise SecretDecryptionError("Invalid 'key_path' metadata; expected string or sequence of strings.")


def _record(native: _native.SecretRecord) -> SecretRecord:
    source = _SOURCES.get(native.source, SecretSource.OTHER)
    metadata: dict[str, Any] = native.metadata
    if source is SecretSource.OTHER:
        metadata["source"] = native.source
    record = SecretRecord(native.value, source, metadata)
    record._native = native
    return record
