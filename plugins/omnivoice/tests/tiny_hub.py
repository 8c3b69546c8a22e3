"""The tiny OmniVoice checkpoint as a Hugging Face cache, for tests outside this folder.

``build(hub)`` writes it under the real repo id into ``hub`` and returns the environment the
engine needs to run it (two decoding steps instead of 32).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

ENV = {"VOICEBOX_OMNIVOICE_OPTIONS": '{"num_step": 2}'}


def build(hub: Path) -> dict[str, str]:
    from tiny_omnivoice import build as build_tiny
    from voicebox_core.testing import write_tiny_snapshot
    from voicebox_engine_omnivoice.plugin import MODELS

    for config in MODELS:
        write_tiny_snapshot(hub, str(config.hf_repo_id), build_tiny)
    return dict(ENV)
