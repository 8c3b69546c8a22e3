"""The tiny TADA checkpoints as a Hugging Face cache, for tests outside this folder.

``build(hub)`` writes tada-1b, tada-3b-ml, the codec, the tokenizer mirror and the aligner
config (tiny_tada.py) into ``hub`` and returns the environment the tiny model needs: a
noiseless flow-matching ODE (its steered head is not a trained one).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

ENV = {"VOICEBOX_TADA_INFERENCE_OPTIONS": '{"noise_temperature": 0.0, "num_flow_matching_steps": 4}'}


def build(hub: Path) -> dict[str, str]:
    from tiny_tada import build as build_tiny

    hub.mkdir(parents=True, exist_ok=True)
    build_tiny(hub)
    return dict(ENV)
