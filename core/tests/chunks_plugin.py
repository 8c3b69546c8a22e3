"""A test engine for test_chunk_size.py: a tone per ``generate`` call, recording the text of each
call, declared with and without a preferred chunk size."""

from __future__ import annotations

import numpy as np
import voicebox_core as vb

from frames_plugin import FramesBackend

VOICEBOX_API_VERSION = vb.API_VERSION
RATE = 16000
#: The text of every ``generate`` / ``generate_stream`` call, in order.
CALLS: list[str] = []


class ChunksBackend(FramesBackend):
    async def generate(self, text, voice_prompt, language="en", seed=None, instruct=None):
        CALLS.append(text)
        t = np.arange(RATE // 10) / RATE
        return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), RATE

    async def generate_stream(self, text, voice_prompt, language="en", seed=None, instruct=None):
        audio, _ = await self.generate(text, voice_prompt, language, seed, instruct)
        yield audio


class SentenceChunks(ChunksBackend):
    generate_stream = None  # type: ignore[assignment]


#: engine name -> (backend, capabilities)
ENGINES = {
    "chunks_200": ("SentenceChunks", vb.Capabilities(chunk_chars=200, max_chunk_chars=800)),
    "chunks_default": ("SentenceChunks", vb.Capabilities(max_chunk_chars=800)),
    "chunks_frames": ("ChunksBackend", vb.Capabilities(streaming=True, chunk_chars=200, max_chunk_chars=800)),
}


@vb.hookimpl
def voicebox_register_engines(register):
    for name, (backend, capabilities) in ENGINES.items():
        register(vb.EngineInfo(
            name=name, display_name="Chunks", backend=f"chunks_plugin:{backend}", voice_kinds=("preset",),
            preset_voices=(vb.PresetVoice("tone", "Tone", "en"),), default_voice="tone",
            capabilities=capabilities,
            models=(vb.ModelConfig(model_name=name, display_name="Chunks", engine=name, hf_repo_id=None,
                                   bundled=True, sample_rate=RATE, languages=("en",)),)))
