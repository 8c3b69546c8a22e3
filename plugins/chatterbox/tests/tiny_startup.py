"""Run by ``voicebox`` (VOICEBOX_STARTUP_SCRIPTS) to load the tiny test checkpoints.

Applies tiny_chatterbox.shrink's size patches without pytest (a frozen binary has none).
Tests only: a real checkpoint needs none of this.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


class Patches:
    """The two MonkeyPatch methods shrink() uses, kept for the life of the process."""

    def setattr(self, target: Any, name: str, value: Any) -> None:
        setattr(target, name, value)

    def setitem(self, mapping: Any, key: Any, value: Any) -> None:
        mapping[key] = value


if __name__ in ("__main__", "__voicebox_startup__"):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import tiny_chatterbox

    tiny_chatterbox.shrink(Patches())
