"""The tiny Chatterbox checkpoints as a Hugging Face cache, for tests outside this folder.

chatterbox-tts hard-codes its model sizes, so the tiny checkpoints only load with
tiny_chatterbox.shrink's patches active, in the process that builds them and in the one
that runs them. ``build(hub)`` writes both repositories into ``hub`` and returns the
environment that applies the patches in a ``voicebox`` process, frozen or not:
``VOICEBOX_STARTUP_SCRIPTS`` naming ``tiny_startup.py`` beside this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MTL_REPO, TURBO_REPO = "ResembleAI/chatterbox", "ResembleAI/chatterbox-turbo"
MTL_COMMIT, TURBO_COMMIT = "1" * 40, "2" * 40


def build(hub: Path) -> dict[str, str]:
    import tiny_chatterbox
    from tiny_startup import Patches

    tiny_chatterbox.shrink(Patches())
    tiny_chatterbox.as_hf_snapshot(hub, MTL_REPO, tiny_chatterbox.build_multilingual, MTL_COMMIT)
    tiny_chatterbox.as_hf_snapshot(hub, TURBO_REPO, tiny_chatterbox.build_turbo, TURBO_COMMIT)
    return {"VOICEBOX_STARTUP_SCRIPTS": str(HERE / "tiny_startup.py")}
