"""The tiny Kokoro checkpoint as a Hugging Face cache, for tests outside this folder.

``build(hub)`` writes ``hexgrad/Kokoro-82M`` (the tiny random-weight model and the voice packs
of conftest.py) into ``hub`` and returns the environment the engine needs to run it (none).
The all-engines frozen test calls it for every installed plugin that has this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def build(hub: Path) -> dict[str, str]:
    from conftest import FAKE_COMMIT, REPO_ID, build_tiny_snapshot
    from voicebox_core.testing import write_tiny_snapshot

    write_tiny_snapshot(hub, REPO_ID, build_tiny_snapshot, commit=FAKE_COMMIT)
    return {}
