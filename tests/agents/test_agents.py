"""Voice-agent frameworks' OpenAI TTS clients, each with its own defaults and ``base_url`` at a
real `voicebox serve`, driven standalone (no room, no call):

- LiveKit Agents' ``openai.TTS`` (``gpt-4o-mini-tts``, ``ash``, SSE deltas of mp3) through its
  ``synthesize()``, which decodes to 24 kHz frames;
- Pipecat's ``OpenAITTSService`` (``gpt-4o-mini-tts``, ``alloy``, raw 24 kHz pcm) in Pipecat's
  own ``run_test`` pipeline.

Each client's audio, read at the rate the client states, must last what the engine's own audio
of the text lasts (within 2%: a rate either side assumes wrongly shows as 8% or more), and be
understood (pocketsphinx word error rate).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from conftest import ROOT, TEXT, Server

sys.path.insert(0, str(ROOT))
from tests.support.speech import transcribe, word_error_rate

#: What pocketsphinx may get wrong of piper's real voice (the other suites allow the same).
MAX_WER = 0.3


def check(server: Server, pcm: np.ndarray, rate: int, alias: str, tmp_path: Path) -> None:
    """``pcm`` (int16, as the client hands it on) at the client's ``rate``: as long as the
    engine's own takes of TEXT (within 2%), and intelligible."""
    assert pcm.dtype == np.int16 and pcm.size > 0
    seconds = pcm.size / rate
    takes, engine_rate = server.engine_takes(TEXT, server.voice_of(alias))
    low, high = min(takes) * 0.98, max(takes) * 1.02
    assert low <= seconds <= high, (f"{seconds:.3f} s at the client's {rate} Hz; the engine's takes at its "
                                    f"{engine_rate} Hz: {', '.join(f'{t:.3f}' for t in takes)} s")
    path = tmp_path / "heard.wav"
    sf.write(path, pcm, rate, subtype="PCM_16")
    heard = transcribe(path)
    assert word_error_rate(TEXT, heard) < MAX_WER, heard


def test_livekit_openai_tts_with_its_defaults(server: Server, tmp_path: Path) -> None:
    from livekit.plugins import openai as livekit_openai

    async def speak() -> tuple[np.ndarray, int, list[int], str]:
        tts = livekit_openai.TTS(base_url=f"{server.base}/v1", api_key="unused")
        try:
            assert tts.model == "gpt-4o-mini-tts"  # its default: SSE, mp3 deltas
            pieces, rates = [], set()
            stream = tts.synthesize(TEXT)
            async with stream:
                async for event in stream:
                    frame = event.frame
                    assert frame.num_channels == 1
                    rates.add(frame.sample_rate)
                    pieces.append(np.frombuffer(bytes(frame.data), dtype=np.int16))
            return np.concatenate(pieces), tts.sample_rate, sorted(rates), tts._opts.voice
        finally:
            await tts.aclose()

    pcm, rate, rates, voice = asyncio.run(speak())
    assert rates == [rate] == [24000], rates  # the rate it states is the rate of its frames
    check(server, pcm, rate, voice, tmp_path)


def test_pipecat_openai_tts_service_with_its_defaults(server: Server, tmp_path: Path) -> None:
    from pipecat.frames.frames import ErrorFrame, TTSAudioRawFrame, TTSSpeakFrame
    from pipecat.services.openai.tts import OpenAITTSService
    from pipecat.tests.utils import run_test

    service = OpenAITTSService(api_key="unused", base_url=f"{server.base}/v1")
    assert service._settings.voice == "alloy"  # its default voice; pcm is all it asks for
    down, up = asyncio.run(run_test(service, frames_to_send=[TTSSpeakFrame(TEXT)], start_timeout=30))
    errors = [f for f in (*down, *up) if isinstance(f, ErrorFrame)]
    assert not errors, errors
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert audio, [type(f).__name__ for f in down]
    rates = {f.sample_rate for f in audio}
    assert rates == {24000} and {f.num_channels for f in audio} == {1}, rates
    pcm = np.frombuffer(b"".join(f.audio for f in audio), dtype=np.int16)
    check(server, pcm, 24000, "alloy", tmp_path)
