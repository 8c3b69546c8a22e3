"""Offline fixtures: tiny Qwen3-TTS checkpoints as Hugging Face snapshots under the real repo ids.

The cache environment is set here, before anything imports huggingface_hub. The session
fixture builds every checkpoint the plugin declares (Base, CustomVoice, VoiceDesign; 0.6B
and 1.7B where they exist) once, in about ten seconds.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

from voicebox_core.testing import offline_hub

_ROOT = offline_hub("voicebox-qwen-tests-")
os.environ["VOICEBOX_DEVICE"] = "cpu"

import pytest  # noqa: E402
from voicebox_core.testing import write_reference_clip  # noqa: E402

FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"
KINDS = {"qwen": "base", "qwen_custom_voice": "custom_voice", "qwen_voice_design": "voice_design"}


@pytest.fixture(scope="session")
def qwen_hf_cache() -> dict[str, Path]:
    """``hub/models--Qwen--<repo>/{refs/main, snapshots/<commit>/...}`` for every declared model."""
    from qwen_tiny import build_checkpoint, build_shared
    from voicebox_core.testing import write_tiny_snapshot
    from voicebox_engine_qwen.plugin import MODELS

    shared = build_shared(_ROOT / "shared")
    snapshots = {}
    for config in MODELS:
        snapshots[config.model_name] = write_tiny_snapshot(
            os.environ["HF_HUB_CACHE"], str(config.hf_repo_id),
            functools.partial(build_checkpoint, shared=shared, kind=KINDS[config.engine], size=config.model_size),
            commit=FAKE_COMMIT)
    return snapshots


@pytest.fixture(scope="session")
def second_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another voice sample, at 16 kHz, for multi-sample profiles."""
    return write_reference_clip(tmp_path_factory.mktemp("qwen-ref") / "second.wav",
                                seconds=2.5, sample_rate=16000, seed=1)


@pytest.fixture(scope="class")
def offline(qwen_hf_cache: dict[str, Path]) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield
