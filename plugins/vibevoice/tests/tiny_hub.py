"""The tiny VibeVoice checkpoints as a Hugging Face cache, for tests outside this folder.

``build(hub)`` writes every model the plugin declares under its real repo id into ``hub`` and
returns the environment the engine needs to run them (a few tokens, few diffusion steps: the
tiny model never stops by itself).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

ENV = {"VOICEBOX_VIBEVOICE_OPTIONS": '{"max_new_tokens": 6, "num_diffusion_steps": 2}'}


def build(hub: Path) -> dict[str, str]:
    from tiny_vibevoice import build as build_tiny
    from voicebox_core.testing import write_tiny_snapshot
    from voicebox_engine_vibevoice.plugin import MODELS

    for config in MODELS:
        write_tiny_snapshot(hub, str(config.hf_repo_id), build_tiny)
    return dict(ENV)
