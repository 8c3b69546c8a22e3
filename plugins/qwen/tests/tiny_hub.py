"""The tiny Qwen3-TTS checkpoints as a Hugging Face cache, for tests outside this folder.

``build(hub)`` writes every model the plugin declares (Base, CustomVoice, VoiceDesign) under
its real repo id into ``hub`` and returns the environment the engines need (none).
"""

from __future__ import annotations

import functools
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"
KINDS = {"qwen": "base", "qwen_custom_voice": "custom_voice", "qwen_voice_design": "voice_design"}


def build(hub: Path) -> dict[str, str]:
    from qwen_tiny import build_checkpoint, build_shared
    from voicebox_core.testing import write_tiny_snapshot
    from voicebox_engine_qwen.plugin import MODELS

    shared = build_shared(Path(tempfile.mkdtemp(prefix="qwen-shared-")))
    for config in MODELS:
        write_tiny_snapshot(hub, str(config.hf_repo_id), functools.partial(
            build_checkpoint, shared=shared, kind=KINDS[config.engine], size=config.model_size), commit=FAKE_COMMIT)
    return {}
