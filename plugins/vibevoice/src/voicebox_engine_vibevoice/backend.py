"""The VibeVoice backend: transformers' native VibeVoice behind voicebox-core's TTSBackend.

- The model folder comes from :func:`voicebox_core.runtime.ensure_model` (offline checks,
  overrides, byte progress); ``from_pretrained`` then reads that folder only.
- A voice prompt is the reference clip as 24 kHz mono float32 (what the processor wants; it
  needs no transcript), cached under ``vibevoice_<md5>``.
- A dialogue (``{"voice_type": "dialogue", "speakers": [...]}``) becomes VibeVoice's chat:
  one message per ``Speaker N:`` turn with role ``"N-1"``, each speaker's clip attached to its
  first turn only (the processor's rule).
- ``max_new_tokens`` is capped from the text's length (7.5 speech tokens a second; a converted
  checkpoint's own default is 40,500). ``VOICEBOX_VIBEVOICE_OPTIONS`` (a JSON object) sets
  ``max_new_tokens``, ``num_diffusion_steps`` and ``guidance_scale``; the tests use it.
"""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from typing import Any

import numpy as np
from voicebox_core import (
    GenerationError,
    InvalidRequestError,
    ModelConfig,
    UnsupportedLanguageError,
)
from voicebox_core.runtime import (
    ModelSlot,
    as_mono_float32,
    choose_device,
    ensure_model,
    env_options,
    join_clips,
    join_transcripts,
    load_reference_audio,
    model_path,
    pick_model,
    prompt_cache,
    seed_everything,
    upstream_import_error,
)
from voicebox_core.runtime.text import script_turns

from voicebox_engine_vibevoice.plugin import DEFAULT_SIZE, ENGINE, MAX_SPEAKERS, MODELS, SAMPLE_RATE

__all__ = ["VibeVoiceBackend", "check_install", "token_budget"]

_OPTIONS_ENV = "VOICEBOX_VIBEVOICE_OPTIONS"
_OPTION_NAMES = {"max_new_tokens", "num_diffusion_steps", "guidance_scale"}
#: Speech tokens per second of audio (one token is 3200 samples at 24 kHz).
TOKENS_PER_SECOND = 7.5


def check_install() -> None:
    """The deep doctor's check: transformers has VibeVoice, and diffusers has its scheduler."""
    try:
        importlib.import_module("transformers.models.vibevoice.modeling_vibevoice")
        importlib.import_module("diffusers.schedulers.scheduling_dpmsolver_multistep")
    except (ImportError, OSError) as exc:
        raise upstream_import_error(exc, "transformers", "pip install 'transformers>=5.17,<5.25' diffusers") from exc


def token_budget(text: str) -> int:
    """Enough speech tokens for ``text`` read slowly (8 characters a second), plus a margin."""
    return int(len(text) / 8 * TOKENS_PER_SECOND) + 40


def _config_of(model_size: str) -> ModelConfig:
    return pick_model(MODELS, model_size, "vibevoice", DEFAULT_SIZE)


class VibeVoiceBackend:
    """TTSBackend for VibeVoice: one model in memory at a time."""

    def __init__(self) -> None:
        self._slot: ModelSlot[tuple[Any, Any]] = ModelSlot()  # (model, processor)
        self._lock = self._slot.lock
        self._device = "cpu"

    @property
    def _config(self) -> ModelConfig | None:
        return self._slot.config

    @property
    def _model(self) -> Any:
        return self._slot.model[0] if self._slot.model else None

    @property
    def _processor(self) -> Any:
        return self._slot.model[1] if self._slot.model else None

    # -- model lifecycle -----------------------------------------------------------------

    async def load_model(self, model_size: str = "default") -> None:
        config = _config_of(model_size)
        # The files first; then the other model is dropped before this one is built.
        await self._slot.ensure(config, lambda directory: self._build(config, directory),
                                prepare=lambda: ensure_model(config))

    def _build(self, config: ModelConfig, directory: Path) -> tuple[Any, Any]:
        """The model and its processor from ``directory``."""
        import torch
        from transformers import AutoProcessor, VibeVoiceForConditionalGeneration

        self._device = choose_device(config.devices)
        dtype = torch.bfloat16 if self._device == "cuda" else torch.float32
        processor = AutoProcessor.from_pretrained(str(directory))
        # device_map= would need accelerate: load, then move.
        model = VibeVoiceForConditionalGeneration.from_pretrained(str(directory), dtype=dtype)
        return model.to(self._device).eval(), processor

    def unload_model(self) -> None:
        self._slot.unload()

    def is_loaded(self) -> bool:
        return self._slot.is_loaded()

    @property
    def loaded_size(self) -> str | None:
        return self._config.model_size if self._config else None

    def _get_model_path(self, model_size: str) -> str:
        return model_path(_config_of(model_size))

    # -- voice prompts -------------------------------------------------------------------

    async def create_voice_prompt(self, audio_path: str, reference_text: str,
                                  use_cache: bool = True) -> tuple[dict[str, Any], bool]:
        """The clip itself, at 24 kHz: VibeVoice conditions on audio, not on a transcript."""
        key = prompt_cache.key(ENGINE, audio_path, "")
        if use_cache and (cached := prompt_cache.get(key)) is not None:
            return cached, True
        audio, _rate = load_reference_audio(audio_path, sample_rate=SAMPLE_RATE)
        prompt = {"voice_type": "cloned", "engine": ENGINE, "audio": as_mono_float32(audio)}
        if use_cache:
            prompt_cache.put(key, prompt)
        return prompt, False

    async def combine_voice_prompts(self, audio_paths: list[str], ref_texts: list[str]) -> tuple[np.ndarray, str]:
        return join_clips(audio_paths, SAMPLE_RATE), join_transcripts(ref_texts)

    # -- generation ----------------------------------------------------------------------

    async def generate(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                       seed: int | None = None, instruct: str | None = None) -> tuple[np.ndarray, int]:
        if instruct:
            raise InvalidRequestError("VibeVoice does not take an instruct prompt; leave it out")
        if self._model is None:
            await self.load_model(DEFAULT_SIZE)
        config = self._config
        assert config is not None
        if language not in config.languages:
            raise UnsupportedLanguageError(language, f"model {config.model_name!r}", config.languages)
        conversation = self._conversation(text, voice_prompt)
        audio = await asyncio.to_thread(self._generate_blocking, conversation, text, seed)
        return audio, SAMPLE_RATE

    def _conversation(self, text: str, voice_prompt: dict[str, Any]) -> list[dict[str, Any]]:
        kind = voice_prompt.get("voice_type") if isinstance(voice_prompt, dict) else None
        if kind == "dialogue":
            voices = list(voice_prompt.get("speakers") or ())
        elif kind == "cloned":
            voices = [voice_prompt]
        else:
            raise InvalidRequestError("VibeVoice speaks with cloned voices: build the prompt with "
                                      "create_voice_prompt (one per speaker for a dialogue)")
        if not 1 <= len(voices) <= MAX_SPEAKERS or any("audio" not in v for v in voices):
            raise InvalidRequestError(f"VibeVoice takes 1 to {MAX_SPEAKERS} cloned voices, one per speaker")
        messages: list[dict[str, Any]] = []
        introduced: set[int] = set()
        for number, body in script_turns(text):
            index = number - 1
            if not 0 <= index < len(voices):
                raise InvalidRequestError(f"the script has a turn for Speaker {number}, but {len(voices)} "
                                          f"voice(s) were given")
            content: list[dict[str, Any]] = [{"type": "text", "text": body}]
            if index not in introduced:  # the processor wants each speaker's clip once, first
                content.append({"type": "audio", "audio": voices[index]["audio"]})
                introduced.add(index)
            messages.append({"role": str(index), "content": content})
        if not messages:
            raise InvalidRequestError("the text has nothing to speak")
        return messages

    def _generate_blocking(self, conversation: list[dict[str, Any]], text: str, seed: int | None) -> np.ndarray:
        import torch

        with self._lock:
            model, processor = self._model, self._processor
            assert model is not None and processor is not None
            options = {"max_new_tokens": token_budget(text), **env_options(_OPTIONS_ENV, _OPTION_NAMES)}
            inputs = processor.apply_chat_template(conversation, tokenize=True, return_dict=True,
                                                   return_tensors="pt").to(model.device, model.dtype)
            seed_everything(seed)
            try:
                with torch.inference_mode():
                    outputs = model.generate(**inputs, **options)
            except (IndexError, RuntimeError, ValueError) as exc:
                raise GenerationError(f"VibeVoice ({self._config.model_name if self._config else '?'}) failed "
                                      f"while generating: {type(exc).__name__}: {exc}") from exc
        wav = outputs[0] if outputs else None
        if wav is None:  # no speech token was generated
            raise GenerationError("VibeVoice produced no speech for this text; try rephrasing it")
        audio = as_mono_float32(wav.float().cpu().numpy())
        if audio.size == 0:
            raise GenerationError("VibeVoice produced no audio")
        return audio
