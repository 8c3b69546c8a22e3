"""When each word is spoken: what an engine with real alignments returns, and the caption and
character-alignment forms the server serves.

An engine with ``Capabilities(word_timestamps=True)`` implements ``generate_timed``
(:class:`voicebox_core.TimedBackend`): it yields :class:`TimedChunk` pieces, each with the
words its audio speaks and their times in seconds *from the start of that chunk's audio*,
taken from the model's own alignment (durations the model predicted), never estimated from
text length. The core shifts them onto the whole utterance. Numpy is not imported here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "TimedChunk",
    "WordTime",
    "character_alignment",
    "locate_words",
    "shift_words",
    "to_srt",
    "to_webvtt",
    "words_from_json",
    "words_to_json",
]


@dataclass(frozen=True)
class WordTime:
    """One spoken word: its text as written and its span in seconds."""

    word: str
    start: float
    end: float

    def shifted(self, seconds: float) -> WordTime:
        return replace(self, start=self.start + seconds, end=self.end + seconds)


@dataclass(frozen=True)
class TimedChunk:
    """A chunk of one utterance's audio (mono float32) and the words it speaks.

    ``words`` is None when the model gave no alignment for this chunk (say, a language whose
    text front end has none): the core then reports no timestamps rather than guessing.
    """

    audio: Any
    words: tuple[WordTime, ...] | None


def shift_words(words: Iterable[WordTime], seconds: float) -> tuple[WordTime, ...]:
    return tuple(word.shifted(seconds) for word in words)


def words_to_json(words: Sequence[WordTime] | None) -> list[dict[str, Any]] | None:
    """The JSON form every face serves: ``[{"word", "start", "end"}, ...]`` in seconds (ms precision)."""
    if words is None:
        return None
    return [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3)} for w in words]


def words_from_json(value: Any) -> tuple[WordTime, ...] | None:
    if value is None:
        return None
    return tuple(WordTime(str(w["word"]), float(w["start"]), float(w["end"])) for w in value)


def locate_words(text: str, words: Sequence[WordTime]) -> list[tuple[int, int] | None]:
    """Where each word is in ``text`` (start, end character offsets), searching forward from
    the previous word; None for a word not found as written (an engine's normalised form)."""
    spans: list[tuple[int, int] | None] = []
    cursor = 0
    for word in words:
        at = text.find(word.word, cursor) if word.word else -1
        if at < 0:
            spans.append(None)
            continue
        spans.append((at, at + len(word.word)))
        cursor = at + len(word.word)
    return spans


def character_alignment(text: str, words: Sequence[WordTime], duration: float | None = None) -> dict[str, list[Any]]:
    """ElevenLabs' character alignment of ``text`` from word times: every character of a word
    shares its span evenly (the model aligns words, not letters), and the characters between
    two words (spaces, punctuation) span the pause between them. ``duration`` ends the text
    after the last word (else it ends with it).

    Returns ``{"characters", "character_start_times_seconds", "character_end_times_seconds"}``
    covering every character of ``text``.
    """
    starts = [0.0] * len(text)
    ends = [0.0] * len(text)
    cursor, clock = 0, 0.0
    for word, span in zip(words, locate_words(text, words), strict=True):
        if span is None:
            continue
        first, last = span
        _fill(starts, ends, cursor, first, clock, max(clock, word.start))
        begin = max(clock, word.start)
        finish = max(begin, word.end)
        _fill(starts, ends, first, last, begin, finish)
        cursor, clock = last, finish
    _fill(starts, ends, cursor, len(text), clock, max(clock, duration if duration is not None else clock))
    return {"characters": list(text),
            "character_start_times_seconds": [round(s, 3) for s in starts],
            "character_end_times_seconds": [round(e, 3) for e in ends]}


def _fill(starts: list[float], ends: list[float], first: int, last: int, begin: float, finish: float) -> None:
    count = last - first
    for index in range(count):
        starts[first + index] = begin + (finish - begin) * index / count
        ends[first + index] = begin + (finish - begin) * (index + 1) / count


# -- captions ---------------------------------------------------------------------------

#: A caption holds at most this many characters (two lines of broadcast captions) and
#: this many seconds, and ends after a word that ends a sentence.
CUE_CHARS = 84
CUE_SECONDS = 6.0
_SENTENCE_END = re.compile(r"[.!?…。！？]['\"”’)\]]*$")


def _cues(words: Sequence[WordTime]) -> list[tuple[float, float, str]]:
    cues: list[tuple[float, float, str]] = []
    current: list[WordTime] = []

    def close() -> None:
        if current:
            cues.append((current[0].start, current[-1].end, " ".join(w.word for w in current)))
            current.clear()

    for word in words:
        if current and (len(" ".join(w.word for w in current)) + 1 + len(word.word) > CUE_CHARS
                        or word.end - current[0].start > CUE_SECONDS):
            close()
        current.append(word)
        if _SENTENCE_END.search(word.word):
            close()
    close()
    return cues


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, math.floor(seconds * 1000 + 0.5))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_webvtt(words: Sequence[WordTime]) -> str:
    """WebVTT captions: a cue per sentence (split when longer than CUE_CHARS or CUE_SECONDS)."""
    lines = ["WEBVTT", ""]
    for start, end, text in _cues(words):
        lines += [f"{_clock(start, '.')} --> {_clock(end, '.')}", text.replace("-->", "->"), ""]
    return "\n".join(lines)


def to_srt(words: Sequence[WordTime]) -> str:
    """SubRip captions, numbered from 1, with the same cues as :func:`to_webvtt`."""
    blocks = [f"{index}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{text}\n"
              for index, (start, end, text) in enumerate(_cues(words), 1)]
    return "\n".join(blocks)
