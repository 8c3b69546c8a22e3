"""Frames in the contract: an engine that streams is streamed as it decodes, not a sentence at
a time; closing the stream stops the engine; engines that do not stream keep sentence chunks."""

from __future__ import annotations

import asyncio
import time

import importlib_metadata
import numpy as np
import pytest
import voicebox_core as vb
from voicebox_core.registry import ENTRY_POINT_GROUP, Registry

import frames_plugin


@pytest.fixture
def synthesizer() -> vb.Synthesizer:
    point = importlib_metadata.EntryPoint("frames", "frames_plugin", ENTRY_POINT_GROUP)
    return vb.Synthesizer(Registry.discover([point], isolated=False, strict=True))


def request(text: str = "One sentence. Another one.", model: str = "frames") -> vb.SynthesisRequest:
    return vb.SynthesisRequest(text=text, model=model, normalize=False)


def test_the_first_frame_leaves_before_the_engine_is_done(synthesizer: vb.Synthesizer) -> None:
    async def run() -> tuple[float, list[np.ndarray]]:
        frames, first = [], 0.0
        async for audio, rate in synthesizer.stream(request()):
            assert rate == frames_plugin.RATE and audio.dtype == np.float32 and audio.ndim == 1
            first = first or time.perf_counter()
            frames.append(audio)
        return first, frames

    first, frames = asyncio.run(run())
    assert first < frames_plugin.LOG["finished"]  # type: ignore[operator]
    assert len(frames) == frames_plugin.FRAMES  # the engine's own chunks, one text chunk
    expected = np.concatenate([frames_plugin.frame(i) for i in range(frames_plugin.FRAMES)])
    assert np.array_equal(np.concatenate(frames), expected)


def test_closing_the_stream_stops_the_engine_within_a_frame(synthesizer: vb.Synthesizer) -> None:
    async def run() -> None:
        stream = synthesizer.stream(request())
        await stream.__anext__()
        await stream.aclose()

    asyncio.run(run())
    assert frames_plugin.LOG["closed"] and frames_plugin.LOG["made"] == 1
    assert frames_plugin.LOG["finished"] is None


def test_stop_between_frames_cancels(synthesizer: vb.Synthesizer) -> None:
    seen: list[int] = []

    async def run() -> None:
        async for _audio, _rate in synthesizer.stream(request(), stop=lambda: len(seen) >= 2):
            seen.append(1)

    with pytest.raises(vb.GenerationCancelledError):
        asyncio.run(run())
    assert frames_plugin.LOG["closed"] and frames_plugin.LOG["made"] <= 3  # type: ignore[operator]


def test_a_whole_request_still_uses_generate(synthesizer: vb.Synthesizer) -> None:
    result = asyncio.run(synthesizer.synthesize(request()))
    assert result.sample_rate == frames_plugin.RATE and result.duration > 0


def test_streaming_without_generate_stream_is_a_contract_error(synthesizer: vb.Synthesizer) -> None:
    with pytest.raises(vb.ContractError, match="declares Capabilities\\(streaming=True\\).*generate_stream"):
        synthesizer.registry.backend("frames_liar")
