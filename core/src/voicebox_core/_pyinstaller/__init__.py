"""PyInstaller integration of voicebox-core, found through the ``pyinstaller40`` entry point."""

from __future__ import annotations

import os

__all__ = ["get_hook_dirs"]


def get_hook_dirs() -> list[str]:
    return [os.path.dirname(__file__)]
