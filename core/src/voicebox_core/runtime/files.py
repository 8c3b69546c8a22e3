"""Files written whole or not at all, with the permissions the user's umask gives."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_file"]


@contextmanager
def atomic_file(target: Path) -> Iterator[BinaryIO]:
    """A handle on a new temporary file beside ``target`` (``.<name>.<random>.part``) that
    replaces ``target`` once the block ends, and is removed if it raises.

    Unlike ``tempfile.mkstemp`` (always 0600), the file is created 0666 less the umask, as
    ``open()`` would make it: a user's own ``hello.wav`` is readable by their media player.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.part"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
