"""An engine's declared chunk size (``Capabilities.chunk_chars``) is what the core sends it,
for whole requests and sentence streams alike; without one, today's sizes stay."""

from __future__ import annotations

import asyncio

import chunks_plugin
import importlib_metadata
import pytest
import voicebox_core as vb
from voicebox_core.registry import ENTRY_POINT_GROUP, Registry
from voicebox_core.synthesis import STREAM_CHUNK_CHARS

#: Twenty sentences of 48 characters (about 980 in all).
SENTENCE = "The quick brown fox jumps over the lazy dog now."
TEXT = " ".join([SENTENCE] * 20)


@pytest.fixture
def synthesizer() -> vb.Synthesizer:
    point = importlib_metadata.EntryPoint("chunks", "chunks_plugin", ENTRY_POINT_GROUP)
    return vb.Synthesizer(Registry.discover([point], isolated=False, strict=True))


def calls(synthesizer: vb.Synthesizer, model: str, stream: bool, **options: object) -> list[str]:
    request = vb.SynthesisRequest(text=TEXT, model=model, normalize=False, **options)  # type: ignore[arg-type]

    async def run() -> None:
        if stream:
            async for _audio, _rate in synthesizer.stream(request):
                pass
        else:
            await synthesizer.synthesize(request)

    chunks_plugin.CALLS.clear()
    asyncio.run(run())
    assert " ".join(chunks_plugin.CALLS) == TEXT  # every word, once, in order
    return list(chunks_plugin.CALLS)


def test_a_whole_request_is_chunked_at_the_declared_size(synthesizer: vb.Synthesizer) -> None:
    sent = calls(synthesizer, "chunks_200", stream=False)
    assert all(len(chunk) <= 200 for chunk in sent)
    assert all(len(chunk) > 200 - len(SENTENCE) - 1 for chunk in sent[:-1])  # full, not sentence by sentence


def test_a_sentence_stream_is_chunked_at_the_declared_size(synthesizer: vb.Synthesizer) -> None:
    sent = calls(synthesizer, "chunks_200", stream=True)
    assert sent[0] == SENTENCE  # the first sentence still leaves alone
    assert all(len(chunk) <= 200 for chunk in sent)
    assert all(len(chunk) > 200 - len(SENTENCE) - 1 for chunk in sent[1:-1])


def test_an_engine_that_streams_gets_the_declared_size(synthesizer: vb.Synthesizer) -> None:
    assert synthesizer.streams("chunks_frames")
    whole = calls(synthesizer, "chunks_frames", stream=False)
    assert calls(synthesizer, "chunks_frames", stream=True) == whole
    assert all(len(chunk) <= 200 for chunk in whole) and len(whole) > 1


def test_the_request_limit_still_caps_the_declared_size(synthesizer: vb.Synthesizer) -> None:
    sent = calls(synthesizer, "chunks_200", stream=False, max_chunk_chars=100)
    assert all(len(chunk) <= 100 for chunk in sent)


def test_without_a_declared_size_the_old_sizes_stay(synthesizer: vb.Synthesizer) -> None:
    whole = calls(synthesizer, "chunks_default", stream=False)
    assert len(whole) == 2 and all(len(chunk) <= 800 for chunk in whole)
    streamed = calls(synthesizer, "chunks_default", stream=True)
    assert streamed[0] == SENTENCE and all(len(chunk) <= STREAM_CHUNK_CHARS for chunk in streamed)


def test_a_bad_declared_size_is_named() -> None:
    info = vb.EngineInfo(
        name="bad", display_name="Bad", backend="chunks_plugin:ChunksBackend", voice_kinds=("preset",),
        preset_voices=(vb.PresetVoice("tone", "Tone", "en"),), default_voice="tone",
        capabilities=vb.Capabilities(chunk_chars=5),
        models=(vb.ModelConfig(model_name="bad", display_name="Bad", engine="bad", hf_repo_id=None,
                               bundled=True, sample_rate=16000, languages=("en",)),))
    from voicebox_core.config import validate_engine

    assert any("capabilities.chunk_chars" in problem for problem in validate_engine(info))
