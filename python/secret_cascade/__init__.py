"""secret_cascade: resolve secrets by name through a chain of sources, natively.

    import secret_cascade as sc

    resolver = sc.Resolver.from_config_file("secret-cascade.yml")
    record = resolver.resolve("smtp.password", scope="mail")
    print(record.source)              # "env", "sops", "default", ...
    with sc.sensitive(record) as password:
        send_mail(password)
    # here record.value is None and the Rust buffer that held it is zeroized

Values reach Python as ``str``. Python cannot wipe a ``str``: every copy stays in memory until
the garbage collector frees it, and even then it is not overwritten. ``sensitive()`` keeps that
window short; it cannot close it. For kstlib's API, see ``secret_cascade.kstlib``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from secret_cascade._native import Resolver, SecretRecord, get_resolver, resolve_secret
from secret_cascade.errors import (
    AccessDeniedError,
    Attempt,
    ConfigError,
    InvalidRequestError,
    SecretDecryptionError,
    SecretError,
    SecretNotFoundError,
    UnavailableError,
)

__all__ = [
    "AccessDeniedError",
    "Attempt",
    "ConfigError",
    "InvalidRequestError",
    "Resolver",
    "SecretDecryptionError",
    "SecretError",
    "SecretNotFoundError",
    "SecretRecord",
    "UnavailableError",
    "get_resolver",
    "resolve_secret",
    "sensitive",
]


@contextmanager
def sensitive(record: SecretRecord, *, purge_cache: bool = False) -> Iterator[str]:
    """Yields the record's value; on exit, wipes it (``record.value`` is then ``None``).

    The Rust buffer holding the value is zeroized on exit, also when the block raises. The
    ``str`` yielded is Python's: it cannot be wiped, so do not keep it past the block. With
    ``purge_cache=True`` the decrypted document the record came from (a SOPS file's) is also
    dropped from the resolver's cache, so the next lookup decrypts the file again.
    """
    value = record.value
    if value is None:
        raise ValueError("the record was already wiped; resolve the secret again")
    try:
        yield value
    finally:
        del value
        record.wipe(purge_cache=purge_cache)
