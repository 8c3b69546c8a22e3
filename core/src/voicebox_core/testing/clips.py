"""Synthetic reference clips: voiced, not silent, of a chosen length."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voicebox_core.runtime.audio import save_audio

__all__ = ["REFERENCE_TEXT", "write_reference_clip"]

REFERENCE_TEXT = "The quick brown fox jumps over the lazy dog."


def write_reference_clip(path: str | Path, seconds: float = 3.0, sample_rate: int = 24000,
                         seed: int = 0) -> Path:
    """A vowel-like buzz with a moving pitch and syllable envelope, saved as WAV."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    pitch = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    audio = 0.3 * voice * envelope / np.max(np.abs(voice)) + 0.005 * rng.standard_normal(len(t))
    return save_audio(Path(path), audio.astype(np.float32), sample_rate)
