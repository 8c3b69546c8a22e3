"""One server per data directory: the lock that ``voicebox serve`` and ``voicebox wyoming``
both take before they open the database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from voicebox_core.errors import StorageError, VoiceboxError

__all__ = ["DataDirInUseError", "lock_data_dir"]


class DataDirInUseError(VoiceboxError):
    """Another server already uses this data directory."""

    status_code = 409


def lock_data_dir(data_dir: Path) -> Any:
    """Hold ``data_dir``'s lock for the life of the process (the OS drops it when it dies);
    a second server on it is refused with the first one's PID, a directory that cannot be
    written with a :class:`StorageError` naming it."""
    from filelock import FileLock, Timeout

    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(data_dir / "voicebox.lock"))
        pid_file = data_dir / "voicebox.pid"
        try:
            lock.acquire(timeout=0)
        except Timeout:
            owner = pid_file.read_text().strip() if pid_file.is_file() else "unknown"
            raise DataDirInUseError(
                f"another voicebox server (PID {owner}) uses the data directory {str(data_dir)!r}; "
                "stop it, or give this one its own --data-dir") from None
        pid_file.write_text(str(os.getpid()))
    except OSError as exc:
        raise StorageError(f"data directory {str(data_dir)!r} cannot be written ({exc.strerror}); "
                           "choose another with --data-dir") from None
    return lock
