"""A downloadable engine for the server's download/progress tests: weights are a pitch.

The preset voice ``slow`` spends ``HUBTEST_SLOW_SECONDS`` (default 1) in a worker thread per
chunk, as a real engine does: what the cancellation, queue and restart tests need.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import numpy as np
import voicebox_core as vb
from voicebox_core.runtime import as_mono_float32, ensure_model

VOICEBOX_API_VERSION = vb.API_VERSION
REPO = "voicebox-test/tiny-tone"
MODEL = vb.ModelConfig(
    model_name="hubtest-tiny", display_name="Hub test tone", engine="hubtest", hf_repo_id=REPO,
    sample_rate=16000, languages=("en",), files=("config.json", "weights.bin"), size_mb=1)
MISSING = vb.ModelConfig(
    model_name="hubtest-missing", display_name="Not on the hub", engine="hubtest",
    hf_repo_id="voicebox-test/absent", sample_rate=16000, languages=("en",),
    files=("config.json",), model_size="missing")


@vb.hookimpl
def voicebox_register_engines(register):  # type: ignore[no-untyped-def]
    register(vb.EngineInfo(
        name="hubtest", display_name="Hub test", backend="voicebox_test_hubtest:HubBackend",
        voice_kinds=("preset",),
        preset_voices=(vb.PresetVoice("tone", "Tone", "en"), vb.PresetVoice("slow", "Slow tone", "en")),
        default_voice="tone", models=(MODEL, MISSING)))


class HubBackend:
    def __init__(self) -> None:
        self.pitch: float | None = None
        self.loads = 0

    async def load_model(self, model_size: str = "default") -> None:
        config = MISSING if model_size == "missing" else MODEL
        directory = await asyncio.to_thread(ensure_model, config)
        self.pitch = float(json.loads((directory / "config.json").read_text())["pitch"])
        self.loads += 1

    def unload_model(self) -> None:
        self.pitch = None

    def is_loaded(self) -> bool:
        return self.pitch is not None

    def _get_model_path(self, model_size: str) -> str:
        return REPO

    async def create_voice_prompt(self, audio_path, reference_text, use_cache=True):  # type: ignore[no-untyped-def]
        raise vb.InvalidRequestError("hubtest has preset voices only")

    async def combine_voice_prompts(self, audio_paths, ref_texts):  # type: ignore[no-untyped-def]
        raise vb.InvalidRequestError("hubtest has preset voices only")

    async def generate(self, text, voice_prompt, language="en", seed=None, instruct=None):  # type: ignore[no-untyped-def]
        if voice_prompt.get("preset_voice_id") == "slow":
            await asyncio.to_thread(time.sleep, float(os.environ.get("HUBTEST_SLOW_SECONDS", "1")))
        t = np.arange(int(16000 * 0.1 * max(1, len(text.split())))) / 16000
        return as_mono_float32(0.3 * np.sin(2 * np.pi * float(self.pitch or 200) * t)), 16000
