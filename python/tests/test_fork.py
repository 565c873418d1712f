"""A pre-forking server's workers: a child made by os.fork() has no thread reading file watches,
so its SOPS layers check their files with stat (the package stops watching in the child)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import secret_cascade as sc

from conftest import SOPS, WriteConfig


def test_a_forked_child_sees_a_change_at_once(sops_config: WriteConfig, tmp_path: Path) -> None:
    resolver = sc.Resolver.from_config_file(sops_config())
    # The parent has read the file (and watches it) before forking, as a preloading server does.
    assert resolver.resolve("token").value == "tok-123"
    file = tmp_path / "secrets.enc.yaml"
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            before = os.stat(file)
            shutil.copyfile(SOPS / "enc" / "simple.yaml", file)
            os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))
            # No watcher thread here: only a stat can see this, and it must, on this lookup.
            code = 0 if resolver.resolve("hello").value == "world" else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's watching thread sees the child's change within moments.
    deadline = time.monotonic() + 10
    while resolver.lookup("hello") is None and time.monotonic() < deadline:
        time.sleep(0.001)
    assert resolver.resolve("hello").value == "world"
