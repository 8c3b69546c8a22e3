"""Test oracle: offline English transcription with pocketsphinx, and word error rate."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import soundfile as sf


def transcribe(path: str | Path) -> str:
    """Transcribe a WAV with pocketsphinx's bundled en-us model (16 kHz mono)."""
    from pocketsphinx import Decoder

    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != 16000:
        target = int(len(mono) * 16000 / rate)
        mono = np.interp(np.linspace(0, len(mono) - 1, target), np.arange(len(mono)), mono)
    pcm = (np.clip(mono, -1, 1) * 32767).astype("<i2").tobytes()
    decoder = Decoder(samprate=16000)
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    return decoder.hyp().hypstr if decoder.hyp() else ""


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[len(hyp)] / max(1, len(ref))
