"""Where the core keeps its files."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir"]


def data_dir() -> Path:
    """``VOICEBOX_DATA_DIR``, else ``$XDG_DATA_HOME/voicebox``, else ``~/.local/share/voicebox``."""
    explicit = os.environ.get("VOICEBOX_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "voicebox"
