"""The reference backend: deterministic formant synthesis, voice = base pitch."""

from __future__ import annotations

import asyncio

import numpy as np
import voicebox_core as vb

from voicebox_core.runtime import (
    as_mono_float32,
    load_audio,
    load_reference_audio,
    normalize_audio,
    prompt_cache,
)

ENGINE = "reference"
PITCH = {"low": 110.0, "high": 220.0, "alto": 180.0, "bright": 260.0}
RATES = {"default": 16000, "24k": 24000}
#: Seconds per syllable (a vowel of the text): its word times follow from it.
SYLLABLE = 0.18


class ReferenceBackend:
    def __init__(self) -> None:
        self._rate: int | None = None

    async def load_model(self, model_size: str = "default") -> None:
        await asyncio.sleep(0)
        self._rate = RATES[model_size]

    def unload_model(self) -> None:
        self._rate = None

    def is_loaded(self) -> bool:
        return self._rate is not None

    def _get_model_path(self, model_size: str) -> str:
        return f"builtin:reference/{model_size}"

    async def create_voice_prompt(self, audio_path, reference_text, use_cache=True):
        key = prompt_cache.key(ENGINE, audio_path, reference_text)
        if use_cache and (hit := prompt_cache.get(key)) is not None:
            return hit, True
        audio, rate = load_reference_audio(audio_path)
        spectrum = np.abs(np.fft.rfft(audio))
        freqs = np.fft.rfftfreq(len(audio), 1 / rate)
        band = (freqs > 60) & (freqs < 400)
        prompt = {"voice_type": "cloned", "pitch": float(freqs[band][np.argmax(spectrum[band])])}
        if use_cache:
            prompt_cache.put(key, prompt)
        return prompt, False

    async def combine_voice_prompts(self, audio_paths, ref_texts):
        clips = [load_audio(p, 16000)[0] for p in audio_paths]
        return normalize_audio(np.concatenate(clips)), " ".join(ref_texts)

    async def generate(self, text, voice_prompt, language="en", seed=None, instruct=None):
        audio, _syllables = self._speak(text, voice_prompt, seed)
        return audio, self._rate

    async def generate_timed(self, text, voice_prompt, language="en", seed=None, instruct=None):
        """generate's audio, one chunk, with each word's syllables as its time."""
        audio, syllables = self._speak(text, voice_prompt, seed)
        words, at = [], 0
        for word in text.split():
            count = _syllables(word)
            if count:
                words.append(vb.WordTime(word, at * SYLLABLE, (at + count) * SYLLABLE))
            at += count
        yield vb.TimedChunk(audio, tuple(words))

    def _speak(self, text, voice_prompt, seed):
        if self._rate is None:
            self._rate = RATES["default"]
        rate = self._rate
        pitch = voice_prompt.get("pitch") or PITCH[voice_prompt["preset_voice_id"]]
        rng = np.random.default_rng(seed)
        syllables = max(1, _syllables(text))
        pieces = []
        for index in range(syllables):
            n = int(rate * SYLLABLE)
            t = np.arange(n) / rate
            f0 = pitch * (1 + 0.05 * np.sin(index))
            tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
            pieces.append(tone * np.hanning(n) + 0.01 * rng.standard_normal(n))
        audio = 0.3 * np.concatenate(pieces)
        return as_mono_float32(audio), syllables


def _syllables(text: str) -> int:
    return sum(ch in "aeiouy" for ch in text.lower())
