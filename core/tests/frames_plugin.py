"""A streaming test engine for test_streaming.py: ten frames of a tone, each after a pause,
with a log of what it made and when (so a test can tell when the engine finished); and
``frames_words`` for test_timing.py: a tone per word, 60 ms per letter, a 100 ms pause
after each, one timed chunk per sentence (its alignment is exact by construction)."""

from __future__ import annotations

import asyncio
import json
import os
import time

import numpy as np

import voicebox_core as vb

VOICEBOX_API_VERSION = vb.API_VERSION
RATE = 16000
FRAMES = 10
#: What the last stream did: frames made, when it made its last one, whether it was closed.
LOG: dict[str, object] = {}


def frame(index: int) -> np.ndarray:
    t = np.arange(RATE // 20) / RATE
    return (0.3 * np.sin(2 * np.pi * (200 + 20 * index) * t)).astype(np.float32)


class FramesBackend:
    def __init__(self) -> None:
        self.loaded = False

    async def load_model(self, model_size: str = "default") -> None:
        self.loaded = True

    def unload_model(self) -> None:
        self.loaded = False

    def is_loaded(self) -> bool:
        return self.loaded

    def _get_model_path(self, model_size: str) -> str:
        return "builtin:frames"

    async def create_voice_prompt(self, audio_path, reference_text, use_cache=True):
        return {"voice_type": "cloned"}, False

    async def combine_voice_prompts(self, audio_paths, ref_texts):
        return np.zeros(RATE, dtype=np.float32), ""

    async def generate(self, text, voice_prompt, language="en", seed=None, instruct=None):
        return np.concatenate([frame(i) for i in range(FRAMES)]), RATE

    async def generate_stream(self, text, voice_prompt, language="en", seed=None, instruct=None):
        LOG.update(made=0, finished=None, closed=False)
        try:
            for index in range(FRAMES):
                await asyncio.sleep(0.02)  # the model decoding the next frame
                LOG["made"] = index + 1
                yield frame(index)
            LOG["finished"] = time.perf_counter()
        finally:
            LOG["closed"] = True
            if os.environ.get("VOICEBOX_FRAMES_LOG"):  # an isolated worker's log, for the host's test
                with open(os.environ["VOICEBOX_FRAMES_LOG"], "w") as log:
                    json.dump({**LOG, "finished": LOG["finished"] is not None}, log)


class WordsBackend(FramesBackend):
    """Every word a tone of 60 ms per letter, then 100 ms of silence; a chunk per sentence."""

    async def generate(self, text, voice_prompt, language="en", seed=None, instruct=None):
        return np.concatenate([c.audio async for c in self.generate_timed(text, voice_prompt)]), RATE

    async def generate_stream(self, text, voice_prompt, language="en", seed=None, instruct=None):
        async for chunk in self.generate_timed(text, voice_prompt):
            yield chunk.audio

    async def generate_timed(self, text, voice_prompt, language="en", seed=None, instruct=None):
        sentence: list = []
        words: list = []
        for word in text.split():
            start = sum(map(len, sentence)) / RATE
            tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(int(0.06 * RATE * len(word))) / RATE)
            sentence += [tone.astype(np.float32), np.zeros(RATE // 10, dtype=np.float32)]
            words.append(vb.WordTime(word, start, start + len(tone) / RATE))
            if word[-1] in ".!?":
                await asyncio.sleep(0.01)
                yield vb.TimedChunk(np.concatenate(sentence), tuple(words))
                sentence, words = [], []
        if sentence:
            yield vb.TimedChunk(np.concatenate(sentence), tuple(words))


class NoWords(FramesBackend):
    generate_timed = None


class NoFrames(FramesBackend):
    generate_stream = None  # type: ignore[assignment]


@vb.hookimpl
def voicebox_register_engines(register):
    for name, backend, words in (("frames", "FramesBackend", False), ("frames_liar", "NoFrames", False),
                                 ("frames_words", "WordsBackend", True), ("frames_mute", "NoWords", True)):
        register(vb.EngineInfo(
            name=name, display_name="Frames", backend=f"frames_plugin:{backend}", voice_kinds=("preset",),
            preset_voices=(vb.PresetVoice("tone", "Tone", "en"),), default_voice="tone",
            capabilities=vb.Capabilities(streaming=True, word_timestamps=words, max_chunk_chars=60 if words else 800),
            models=(vb.ModelConfig(model_name=name, display_name="Frames", engine=name, hf_repo_id=None,
                                   bundled=True, sample_rate=RATE, languages=("en",)),)))
