"""Several reference clips made into one (``combine_voice_prompts``): the audio and the text."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np

from voicebox_core.runtime.audio import as_mono_float32, load_audio, normalize_audio

__all__ = ["join_clips", "join_transcripts"]


def join_clips(paths: Sequence[str | os.PathLike[str]], sample_rate: int, *, gap_seconds: float = 0.2,
               normalize: bool = False) -> np.ndarray:
    """The clips at ``paths``, read at ``sample_rate`` (mono float32), one after another with
    ``gap_seconds`` of silence between them. ``normalize``: each clip loudness-normalised,
    then the whole (Voicebox's own merge). No paths: an empty array."""
    clips = [load_audio(path, sample_rate)[0] for path in paths]
    if normalize:
        clips = [normalize_audio(clip) for clip in clips]
    gap = np.zeros(round(sample_rate * gap_seconds), dtype=np.float32)
    pieces = [part for clip in clips for part in (clip, gap)][:-1]
    audio = as_mono_float32(np.concatenate(pieces)) if pieces else np.zeros(0, dtype=np.float32)
    return normalize_audio(audio) if normalize and audio.size else audio


def join_transcripts(texts: Iterable[str | None]) -> str:
    """The clips' transcripts in order, stripped, the empty ones left out, joined by spaces."""
    return " ".join(text.strip() for text in texts if text and text.strip())
