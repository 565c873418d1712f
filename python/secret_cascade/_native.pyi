"""Type stubs of the native module secret_cascade._native."""

import os
from typing import Optional, Sequence, Union, final

@final
class Resolver:
    """An ordered chain of layers; the first that has a name answers."""

    @staticmethod
    def from_config_file(path: Union[str, os.PathLike[str]]) -> Resolver:
        """The resolver a config file describes. Raises ConfigError."""
    @staticmethod
    def discover() -> Resolver:
        """The resolver of the discovered config file, else the environment without a prefix."""
    def resolve(
        self,
        name: str,
        scope: Optional[str] = None,
        default: Optional[str] = None,
        key_path: Optional[Sequence[str]] = None,
    ) -> SecretRecord:
        """The first layer's answer, else ``default``, else SecretNotFoundError."""
    def lookup(
        self,
        name: str,
        scope: Optional[str] = None,
        default: Optional[str] = None,
        key_path: Optional[Sequence[str]] = None,
    ) -> Optional[SecretRecord]:
        """Like ``resolve``, but ``None`` when missing and no default was given."""
    def purge_cache(self, path: Union[str, os.PathLike[str], None] = None) -> None:
        """Drops the decrypted document of ``path`` from the cache, or every document."""
    @property
    def cached_documents(self) -> int:
        """How many decrypted documents the cache holds now."""
    @property
    def name(self) -> str:
        """The resolver's name, shown in errors."""
    @property
    def layers(self) -> list[str]:
        """The labels of the layers, in the order they are asked."""

@final
class SecretRecord:
    """A resolved secret. ``repr()`` never shows the value."""

    @property
    def source(self) -> str:
        """``override``, ``env``, ``keyring``, ``sops``, ``default``, ... (the layer's kind)."""
    @property
    def metadata(self) -> dict[str, str]:
        """How the layer found it (``path``, ``key``, ``variable``, ...); a new dict each read."""
    @property
    def value(self) -> Optional[str]:
        """The value as a new ``str`` (Python cannot wipe it), ``None`` once wiped."""
    @property
    def wiped(self) -> bool:
        """Whether ``wipe()`` has run."""
    def wipe(self, purge_cache: bool = False) -> None:
        """Zeroizes the Rust buffer of the value; ``purge_cache`` also drops its document."""

def get_resolver() -> Resolver:
    """The process-wide resolver, built from the discovered config on first use."""

def resolve_secret(
    name: str,
    scope: Optional[str] = None,
    default: Optional[str] = None,
    key_path: Optional[Sequence[str]] = None,
) -> SecretRecord:
    """``get_resolver().resolve(...)``."""
