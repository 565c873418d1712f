"""The exceptions of secret_cascade, raised by the native resolver.

Each carries what the Rust error carries, as attributes (``None`` where it does not apply), and
a message from the Rust error. Neither ever contains a secret value.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

__all__ = [
    "AccessDeniedError",
    "Attempt",
    "ConfigError",
    "InvalidRequestError",
    "SecretDecryptionError",
    "SecretError",
    "SecretNotFoundError",
    "UnavailableError",
]


class Attempt(NamedTuple):
    """One layer asked on the way to a ``SecretNotFoundError``."""

    layer: str
    """The layer's label: ``env``, ``keyring``, ``sops:/path/to/file``, ..."""
    outcome: str
    """``missed`` (asked, not there) or ``unavailable`` (could not be asked, skipped)."""
    reason: str
    """Why, in words: ``MYAPP__DB__PASSWORD is not set``."""


class SecretError(RuntimeError):
    """Base class of every error of secret_cascade (a ``RuntimeError``, as kstlib's)."""

    layer: Optional[str] = None
    """The layer that failed, when one did."""
    file: Optional[str] = None
    """The file concerned (a SOPS file, the config file), when one is."""
    reason: Optional[str] = None
    """What went wrong, without any value."""

    def __init__(self, message: str = "", **details: Any) -> None:
        super().__init__(message)
        for key, value in details.items():
            if key == "tried":
                value = [Attempt(*attempt) for attempt in value]
            elif key == "file" and value is not None:
                value = str(value)
            setattr(self, key, value)


class SecretNotFoundError(SecretError):
    """No layer has the secret and no default was given."""

    name: Optional[str] = None
    """The requested name, with its scope (``scope.name``)."""
    resolver: Optional[str] = None
    """The resolver's name."""
    tried: list[Attempt] = []  # noqa: RUF012 - replaced per instance, never mutated
    """Every layer asked, in order, with why it did not answer."""


class SecretDecryptionError(SecretError):
    """A source is present but broken: a file no key opens, a modified file, a wrong passphrase,
    an unusable value. The chain stops here; a default is never used in its place."""


class ConfigError(SecretError):
    """The config file cannot be read or does not describe a valid resolver."""

    key: Optional[str] = None
    """The offending key as a path (``providers[0].prefix``), when the error is about one."""
    line: Optional[int] = None
    """The 1-based line in the file, when known."""


class AccessDeniedError(SecretError):
    """A server refused access (a Vault/OpenBao 403)."""


class UnavailableError(SecretError):
    """A backend an operation needs cannot be reached (lookups skip unavailable layers instead)."""


class InvalidRequestError(SecretError, ValueError):
    """The request names no secret (an empty name, an empty segment in ``a..b``)."""
