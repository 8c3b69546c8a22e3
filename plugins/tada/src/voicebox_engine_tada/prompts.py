"""TADA's voice prompt as plain data: encoding a clip into it, and back to an ``EncoderOutput``.

The prompt's ``encoder_output`` is TADA's ``EncoderOutput`` as a dict of CPU tensors, so that
the prompt cache can pickle it and a prompt made on one device serves on another. A clip
encoded for another language's aligner is cached as ``tada_<lang>_<md5>`` next to the
English ``tada_<md5>`` it came from.

Kept apart from backend.py, which decides when to encode (locks, aligners, the cache); this
module holds how, with the encoder and recogniser calls that need torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np
from voicebox_core import ReferenceAudioError
from voicebox_core.runtime import resample, seed_everything

from voicebox_engine_tada.plugin import ENGINE, SAMPLE_RATE

__all__ = ["encode", "language_key", "reference_clip", "to_encoder_output", "transcribe"]

#: Fixed seed of the encoder's sampling noise, so one clip always gives one cached prompt.
_PROMPT_SEED = 0


def encode(encoder: Any, audio: Any, text: str, device: str) -> dict[str, Any]:
    """``encoder``'s output for ``audio`` (a ``(1, samples)`` tensor at 24 kHz) and its
    transcript ``text``, as a dict of CPU tensors."""
    import torch

    seed_everything(_PROMPT_SEED)
    with torch.no_grad():
        output = encoder(audio.to(device), text=[text], sample_rate=SAMPLE_RATE)
    return {field.name: _to_cpu(getattr(output, field.name))
            for field in dataclasses.fields(output)}


def to_encoder_output(output_class: type, encoded: dict[str, Any], device: str) -> Any:
    """An encoded prompt as TADA's ``EncoderOutput`` again, its tensors on ``device``."""
    return output_class(**{name: value.to(device) if hasattr(value, "to") else value
                           for name, value in encoded.items()})


def transcribe(encoder: Any, audio: np.ndarray) -> str:
    """English transcript of a 24 kHz clip by the recogniser attached to ``encoder``."""
    import torch

    audio_16k = torch.from_numpy(resample(audio, SAMPLE_RATE, 16000))
    with torch.no_grad():
        texts = encoder.transcribe_audio_parakeet([audio_16k])
    if not texts or not texts[0].strip():
        raise ReferenceAudioError(
            "no speech was recognised in the reference clip; give its transcript"
        )
    return texts[0]


def language_key(voice_prompt: dict[str, Any], language: str) -> str:
    """The cache key of ``voice_prompt`` re-encoded for ``language``."""
    base = voice_prompt.get("cache_key") or hashlib.md5(
        json.dumps(voice_prompt["reference_text"]).encode()).hexdigest()
    return f"{ENGINE}_{language}_{base.removeprefix(ENGINE + '_')}"


def reference_clip(encoded: dict[str, Any]) -> Any:
    """The 24 kHz clip an encoded prompt was made from, cut to its ``audio_len``."""
    return encoded["audio"][..., : int(encoded["audio_len"].reshape(-1)[0])]


def _to_cpu(value: Any) -> Any:
    return value.detach().cpu() if hasattr(value, "detach") else value
