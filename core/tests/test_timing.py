"""Word timestamps in the contract: an engine with alignments says when each word is spoken;
the core shifts its times onto the whole utterance (streamed or crossfaded); an engine
without them gives none; captions and ElevenLabs' character alignment come from them."""

from __future__ import annotations

import asyncio

import importlib_metadata
import numpy as np
import pytest
import voicebox_core as vb
from voicebox_core.registry import ENTRY_POINT_GROUP, Registry
from voicebox_core.timing import WordTime, character_alignment, locate_words, to_srt, to_webvtt

import frames_plugin

RATE = frames_plugin.RATE
TEXT = "One short sentence. Then another, longer one! And a third sentence that goes past sixty letters."


@pytest.fixture
def synthesizer() -> vb.Synthesizer:
    point = importlib_metadata.EntryPoint("frames", "frames_plugin", ENTRY_POINT_GROUP)
    return vb.Synthesizer(Registry.discover([point], isolated=False, strict=True))


def request(text: str = TEXT, model: str = "frames_words", **kwargs: object) -> vb.SynthesisRequest:
    return vb.SynthesisRequest(text=text, model=model, normalize=False, **kwargs)  # type: ignore[arg-type]


def loud_spans(audio: np.ndarray) -> list[tuple[float, float]]:
    """Where the test engine's tones are (its words), in seconds."""
    loud = np.abs(audio) > 1e-4
    spans: list[tuple[float, float]] = []
    begin = None
    for index, value in enumerate(loud):
        if value and begin is None:
            begin = index
        elif not value and begin is not None:
            spans.append((begin / RATE, index / RATE))
            begin = None
    if begin is not None:
        spans.append((begin / RATE, len(loud) / RATE))
    return spans


def merge_tones(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Zero crossings of a sine split a tone: join spans closer than 5 ms."""
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start - merged[-1][1] < 0.005:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def test_streamed_words_are_shifted_onto_the_utterance(synthesizer: vb.Synthesizer) -> None:
    async def run() -> tuple[np.ndarray, list[WordTime]]:
        audio, words = [], []
        async for chunk, rate, chunk_words in synthesizer.stream_timed(request()):
            assert rate == RATE and chunk_words is not None
            audio.append(chunk)
            words += chunk_words
        return np.concatenate(audio), words

    audio, words = asyncio.run(run())
    assert [w.word for w in words] == TEXT.split()
    tones = merge_tones(loud_spans(audio))
    assert len(tones) == len(words)
    for word, (start, end) in zip(words, tones, strict=True):
        assert abs(word.start - start) < 0.002 and abs(word.end - end) < 0.002, (word, start, end)


def test_whole_synthesis_words_follow_the_crossfade(synthesizer: vb.Synthesizer) -> None:
    assert len(synthesizer.plan(request()).chunks) >= 2  # the words cross text chunks
    result = asyncio.run(synthesizer.synthesize(request(crossfade_ms=50), timestamps=True))
    assert result.words is not None and [w.word for w in result.words] == TEXT.split()
    tones = merge_tones(loud_spans(result.audio))
    assert len(tones) == len(result.words)
    for word, (start, end) in zip(result.words, tones, strict=True):
        assert abs(word.start - start) < 0.002 and abs(word.end - end) < 0.002, (word, start, end)
    assert result.words[-1].end <= result.duration


def test_no_timestamps_unless_asked_or_aligned(synthesizer: vb.Synthesizer) -> None:
    assert asyncio.run(synthesizer.synthesize(request())).words is None
    plain = asyncio.run(synthesizer.synthesize(request("Just a tone.", model="frames"), timestamps=True))
    assert plain.words is None and plain.audio.size

    async def streamed() -> list[object]:
        return [words async for _a, _r, words in synthesizer.stream_timed(request("A tone.", model="frames"))]

    assert set(asyncio.run(streamed())) == {None}


def test_declaring_word_timestamps_without_generate_timed_is_a_contract_error(synthesizer: vb.Synthesizer) -> None:
    with pytest.raises(vb.ContractError, match="generate_timed"):
        synthesizer.registry.backend("frames_mute")


def test_closing_a_timed_stream_closes_the_engine(synthesizer: vb.Synthesizer) -> None:
    async def run() -> None:
        stream = synthesizer.stream_timed(request())
        await stream.__anext__()
        await stream.aclose()

    asyncio.run(run())  # nothing left running: asyncio.run would complain of pending tasks


def test_character_alignment_covers_every_character() -> None:
    text = "Hello, big world!"
    words = [WordTime("Hello,", 0.1, 0.5), WordTime("big", 0.6, 0.8), WordTime("world!", 0.9, 1.4)]
    alignment = character_alignment(text, words, duration=1.6)
    assert "".join(alignment["characters"]) == text
    starts, ends = alignment["character_start_times_seconds"], alignment["character_end_times_seconds"]
    assert len(starts) == len(ends) == len(text)
    assert all(a <= b for a, b in zip(starts, starts[1:]))
    assert all(s <= e for s, e in zip(starts, ends))
    assert starts[0] == 0.1 and ends[-1] == 1.4  # the first word starts it, the last ends it
    assert starts[text.index("big")] == 0.6 and ends[text.index("big") + 2] == 0.8


def test_locate_words_skips_words_not_written_so() -> None:
    text = "I paid $5 today"
    spans = locate_words(text, [WordTime("I", 0, 0.1), WordTime("five", 0.2, 0.4), WordTime("today", 0.5, 0.9)])
    assert spans == [(0, 1), None, (10, 15)]


def test_captions_split_at_sentence_ends() -> None:
    words = [WordTime("Hello", 0.0, 0.4), WordTime("there.", 0.45, 0.9), WordTime("Bye", 3661.0, 3661.25),
             WordTime("now.", 3661.3, 3661.5)]
    assert to_webvtt(words) == ("WEBVTT\n\n00:00:00.000 --> 00:00:00.900\nHello there.\n\n"
                                "01:01:01.000 --> 01:01:01.500\nBye now.\n")
    assert to_srt(words) == ("1\n00:00:00,000 --> 00:00:00,900\nHello there.\n\n"
                             "2\n01:01:01,000 --> 01:01:01,500\nBye now.\n")
