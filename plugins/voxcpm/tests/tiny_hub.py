"""The tiny VoxCPM checkpoints as a Hugging Face cache, for tests outside this folder.

``build(hub)`` writes every model the plugin declares under its real repo id into ``hub`` and
returns the environment the engine needs to run them (short generation for random weights).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

#: A random stop head may never stop: cap the length, few diffusion steps, no retries.
ENV = {"VOICEBOX_VOXCPM_OPTIONS": '{"inference_timesteps": 2, "max_len": 24, "retry_badcase": false}'}


def build(hub: Path) -> dict[str, str]:
    from tiny_voxcpm import build as build_tiny
    from voicebox_core.testing import write_tiny_snapshot
    from voicebox_engine_voxcpm.plugin import MODELS

    for config in MODELS:
        write_tiny_snapshot(hub, str(config.hf_repo_id),
                            functools.partial(build_tiny, size=config.model_size))
    return dict(ENV)
