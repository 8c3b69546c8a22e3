"""Helpers shared by the Piper plugin's test modules (not fixtures)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import numpy as np

#: The Hugging Face voice the session cache holds (as copies of joe's files).
CACHED_VOICE = "en_US-lessac-medium"
#: A Hugging Face voice the cache does not hold.
MISSING_VOICE = "en_GB-alan-medium"
DEFAULT_VOICE = "en_US-joe-medium"


def preset(voice_id: str) -> dict[str, str]:
    return {"voice_type": "preset", "preset_engine": "piper", "preset_voice_id": voice_id}


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference length (lower case, no punctuation)."""

    def words(text: str) -> list[str]:
        return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()

    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ref_word != hyp_word))
    return row[len(hyp)] / max(len(ref), 1)


def transcribe(audio: np.ndarray, sample_rate: int) -> str:
    """Offline English ASR with pocketsphinx's bundled en-us model (16 kHz int16 input)."""
    from pocketsphinx import Decoder

    times = np.arange(0, len(audio) / sample_rate, 1 / 16000)
    audio16k = np.interp(times, np.arange(len(audio)) / sample_rate, audio)
    pcm = (np.clip(audio16k, -1, 1) * 32767).astype(np.int16).tobytes()
    decoder = Decoder(samprate=16000)
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    return decoder.hyp().hypstr if decoder.hyp() else ""


def run(coro: Any) -> Any:
    return asyncio.run(coro)
