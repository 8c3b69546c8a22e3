"""What the text asks for: ``crash`` (the process kills itself with SIGKILL), ``hang`` (no
answer, ever), ``slow`` (FAULTY_SLOW_SECONDS, default 5, in a worker thread), ``boom`` (a
RuntimeError), ``klingon`` (the engine's own UnsupportedLanguageError subclass); anything
else is a tone. VOICEBOX_TEST_FAULTY_BROKEN=1 makes this module fail to import."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import numpy as np
import voicebox_core as vb
from voicebox_core.runtime import ensure_model, load_reference_audio

from voicebox_test_faulty.plugin import HUB_MODEL

if os.environ.get("VOICEBOX_TEST_FAULTY_BROKEN"):
    raise ImportError("voicebox_test_faulty.backend is broken on purpose (VOICEBOX_TEST_FAULTY_BROKEN)")


class KlingonError(vb.UnsupportedLanguageError):
    """An engine's own error type: the host sees the core type it derives from."""


class FaultyBackend:
    def __init__(self) -> None:
        self._size: str | None = None

    async def load_model(self, model_size: str = "default") -> None:
        if model_size == "hub":
            await asyncio.to_thread(ensure_model, HUB_MODEL)  # byte progress to the host
        self._size = model_size

    def unload_model(self) -> None:
        self._size = None

    def is_loaded(self) -> bool:
        return self._size is not None

    def _get_model_path(self, model_size: str) -> str:
        return f"builtin:faulty/{model_size}"

    async def create_voice_prompt(self, audio_path, reference_text, use_cache=True):
        audio, _rate = load_reference_audio(audio_path)
        # Not JSON: the prompt stays in the worker and the host holds a handle.
        return {"voice_type": "cloned", "pitch": 150.0 + float(np.abs(audio).mean()) * 100,
                "clip": audio[:100].copy()}, False

    async def combine_voice_prompts(self, audio_paths, ref_texts):
        clips = [load_reference_audio(p)[0] for p in audio_paths]
        return np.concatenate(clips).astype(np.float32), " ".join(ref_texts)

    async def generate(self, text, voice_prompt, language="en", seed=None, instruct=None):
        lowered = text.lower()
        if "crash" in lowered:
            os.kill(os.getpid(), signal.SIGKILL)
        if "hang" in lowered:
            await asyncio.to_thread(time.sleep, 3600)
        if "slow" in lowered:
            await asyncio.to_thread(time.sleep, float(os.environ.get("FAULTY_SLOW_SECONDS", "5")))
        if "boom" in lowered:
            raise RuntimeError("boom: the engine failed on purpose")
        if "klingon" in lowered:
            raise KlingonError("tlh", "the faulty engine", ["en", "de"])
        if "clip" in voice_prompt:
            assert isinstance(voice_prompt["clip"], np.ndarray)  # the worker kept the real object
        pitch = float(voice_prompt.get("pitch", 220.0))
        rng = np.random.default_rng(seed)
        t = np.arange(int(16000 * 0.05 * max(1, len(text.split())))) / 16000
        audio = 0.3 * np.sin(2 * np.pi * pitch * t) + 0.01 * rng.standard_normal(t.size)
        return audio.astype(np.float32), 16000
