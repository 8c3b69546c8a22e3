"""The VoxCPM backend: voxcpm 2.0.3 behind voicebox-core's TTSBackend protocol.

- The model folder comes from :func:`voicebox_core.runtime.ensure_model` (local override,
  complete cache, or a download with byte progress); voxcpm never reaches the network itself
  (no ``from_pretrained``, no ModelScope denoiser).
- The device is chosen by the core among the model's devices and passed explicitly:
  voxcpm's config defaults to ``"cuda"``. ``torch.compile`` ("optimize") only on CUDA.
- The voice prompt is voxcpm's own prompt cache (``build_prompt_cache``: the clip encoded by
  the audio VAE), built once per clip and transcript and cached under ``voxcpm_<md5>``.
  A clip with a transcript is a continuation prompt (every model); a clip without one is a
  reference prompt, which only VoxCPM2 has.
- A designed voice (VoxCPM2) and a style instruction are VoxCPM2's control text:
  ``"(description)text"``.
- Importing voxcpm, and reading the 0.5B/1.5 models' prompt clips without torchcodec:
  :mod:`voicebox_engine_voxcpm.upstream`.

``VOICEBOX_VOXCPM_OPTIONS`` (a JSON object) overrides generation options (``inference_timesteps``,
``cfg_value``, ``max_len``, ``retry_badcase``...); the tests use it for a tiny model.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
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
    iterate_in_thread,
    join_clips,
    join_transcripts,
    load_reference_audio,
    model_path,
    pick_model,
    prompt_cache,
    seed_everything,
)

from voicebox_engine_voxcpm.plugin import DEFAULT_SIZE, ENGINE, MODELS
from voicebox_engine_voxcpm.upstream import check_install, import_voxcpm, soundfile_torchaudio

__all__ = ["VoxCPMBackend", "check_install", "import_voxcpm"]

_OPTIONS_ENV = "VOICEBOX_VOXCPM_OPTIONS"
_OPTION_NAMES = {"cfg_value", "inference_timesteps", "min_len", "max_len", "normalize", "retry_badcase",
                 "retry_badcase_max_times", "retry_badcase_ratio_threshold"}
#: Fixed seed of the audio VAE's encoding, so one clip always gives one cached prompt.
_PROMPT_SEED = 0


def _config_of(model_size: str) -> ModelConfig:
    return pick_model(MODELS, model_size, "voxcpm", DEFAULT_SIZE)


class VoxCPMBackend:
    """TTSBackend for VoxCPM: one model (of three sizes) in memory at a time."""

    def __init__(self) -> None:
        self._slot: ModelSlot[Any] = ModelSlot()  # a voxcpm.VoxCPM
        self._lock = self._slot.lock
        self._voxcpm: SimpleNamespace | None = None

    @property
    def _pipeline(self) -> Any:
        return self._slot.model

    @property
    def _config(self) -> ModelConfig | None:
        return self._slot.config

    # -- model lifecycle -----------------------------------------------------------------

    async def load_model(self, model_size: str = "default") -> None:
        config = _config_of(model_size)
        await self._slot.ensure(config, self._build, prepare=lambda: self._prepare(config))

    def _prepare(self, config: ModelConfig) -> tuple[Path, str]:
        directory = ensure_model(config)
        self._voxcpm = self._voxcpm or import_voxcpm()
        return directory, choose_device(config.devices)

    def _build(self, prepared: tuple[Path, str]) -> Any:
        directory, device = prepared
        assert self._voxcpm is not None
        return self._voxcpm.VoxCPM(
            voxcpm_model_path=str(directory), zipenhancer_model_path=None, enable_denoiser=False,
            optimize=device == "cuda", device=device)

    def unload_model(self) -> None:
        self._slot.unload()

    def is_loaded(self) -> bool:
        return self._slot.is_loaded()

    @property
    def loaded_size(self) -> str | None:
        return self._config.model_size if self._config else None

    def _get_model_path(self, model_size: str) -> str:
        return model_path(_config_of(model_size))

    def _is_v2(self) -> bool:
        return self._voxcpm is not None and isinstance(self._pipeline.tts_model, self._voxcpm.VoxCPM2Model)

    # -- voice prompts -------------------------------------------------------------------

    async def create_voice_prompt(self, audio_path: str, reference_text: str,
                                  use_cache: bool = True) -> tuple[dict[str, Any], bool]:
        """The clip encoded for the loaded model (the cache key names the model size too: one
        clip gives different prompts for different VAEs)."""
        if self._pipeline is None:
            await self.load_model(DEFAULT_SIZE)
        size = self.loaded_size or DEFAULT_SIZE
        key = prompt_cache.key(ENGINE, audio_path, f"{size}\n{reference_text or ''}")
        if use_cache and (cached := prompt_cache.get(key)) is not None:
            return cached, True
        load_reference_audio(audio_path)  # a readable, voiced clip of sane length, or a clear error
        prompt = await asyncio.to_thread(self._encode_blocking, str(audio_path), (reference_text or "").strip())
        prompt["cache_key"] = key
        if use_cache:
            prompt_cache.put(key, prompt)
        return prompt, False

    def _encode_blocking(self, audio_path: str, reference_text: str) -> dict[str, Any]:
        with self._lock:
            pipeline, voxcpm = self._pipeline, self._voxcpm
            assert pipeline is not None and voxcpm is not None
            model = pipeline.tts_model
            seed_everything(_PROMPT_SEED)
            if self._is_v2():
                if reference_text:  # continuation and reference together: the closest clone
                    cache = model.build_prompt_cache(prompt_text=reference_text, prompt_wav_path=audio_path,
                                                     reference_wav_path=audio_path)
                else:
                    cache = model.build_prompt_cache(reference_wav_path=audio_path)
            else:
                if not reference_text:
                    raise InvalidRequestError(
                        f"VoxCPM {self._config.model_size if self._config else ''} clones from a clip "
                        "and its transcript: give the reference text (VoxCPM2, model voxcpm2, clones "
                        "without it)")
                with soundfile_torchaudio(voxcpm.v1_module):
                    cache = model.build_prompt_cache(prompt_text=reference_text, prompt_wav_path=audio_path)
        return {"voice_type": "cloned", "engine": ENGINE, "model_size": self.loaded_size,
                "reference_text": reference_text, "prompt_cache": cache}

    async def combine_voice_prompts(self, audio_paths: list[str], ref_texts: list[str]) -> tuple[np.ndarray, str]:
        return join_clips(audio_paths, 16000), join_transcripts(ref_texts)

    # -- generation ----------------------------------------------------------------------

    async def generate(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                       seed: int | None = None, instruct: str | None = None) -> tuple[np.ndarray, int]:
        control = await self._checked(voice_prompt, language, instruct)
        audio = await asyncio.to_thread(self._generate_blocking, text, voice_prompt, control, seed)
        assert self._config is not None
        return audio, self._config.sample_rate

    async def generate_stream(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                              seed: int | None = None, instruct: str | None = None) -> AsyncIterator[np.ndarray]:
        """The audio of each patch as VoxCPM decodes it (its own ``streaming=True`` path: no
        retry of bad cases there), one thread hop per patch; closing stops the decoding."""
        control = await self._checked(voice_prompt, language, instruct)
        made = 0
        async for audio in iterate_in_thread(lambda: self._patches(text, voice_prompt, control, seed),
                                             lock=self._lock, on_error=self._failed):
            made += 1
            yield audio
        if not made:
            raise GenerationError("VoxCPM produced no audio for this text")

    def _target(self, text: str, control: str) -> tuple[str, dict[str, Any]]:
        target = f"({control}){text}" if control else text
        options = {"inference_timesteps": 10, "cfg_value": 2.0, **env_options(_OPTIONS_ENV, _OPTION_NAMES)}
        if bool(options.pop("normalize", False)):
            target = self._normalize(target)
        return " ".join(target.split()), options

    def _patches(self, text: str, voice_prompt: dict[str, Any], control: str,
                 seed: int | None) -> Iterator[np.ndarray]:
        """VoxCPM's streaming generator, each patch as mono float32 (stepped under the lock)."""
        pipeline = self._pipeline
        assert pipeline is not None
        target, options = self._target(text, control)
        options = {k: v for k, v in options.items() if not k.startswith("retry_badcase")}
        seed_everything(seed)
        patches = pipeline.tts_model._generate_with_prompt_cache(
            target_text=target, prompt_cache=voice_prompt.get("prompt_cache"), streaming=True,
            retry_badcase=False, **options)
        try:
            for wav, _, _ in patches:
                yield as_mono_float32(wav.squeeze(0).float().cpu().numpy())
        finally:
            patches.close()

    def _failed(self, exc: Exception) -> GenerationError | None:
        """Upstream's failures while generating, as the GenerationError a user can read."""
        if not isinstance(exc, (IndexError, RuntimeError, ValueError)):
            return None
        return GenerationError(f"VoxCPM ({self._config.model_name if self._config else '?'}) failed "
                               f"while generating: {type(exc).__name__}: {exc}")

    async def _checked(self, voice_prompt: dict[str, Any], language: str, instruct: str | None) -> str:
        """The control text (description, instruction) after every check, the model loaded."""
        if self._pipeline is None:
            await self.load_model(DEFAULT_SIZE)
        config = self._config
        assert config is not None
        if language not in config.languages:
            raise UnsupportedLanguageError(language, f"model {config.model_name!r}", config.languages)
        kind = voice_prompt.get("voice_type") if isinstance(voice_prompt, dict) else None
        if kind == "cloned" and voice_prompt.get("model_size") not in (None, config.model_size):
            raise InvalidRequestError(
                f"this voice prompt was encoded for VoxCPM {voice_prompt.get('model_size')}, not "
                f"{config.model_size}; create it again with the loaded model")
        if kind not in ("cloned", "designed"):
            raise InvalidRequestError("VoxCPM speaks with a cloned voice (a reference clip) or, with "
                                      "VoxCPM2, a designed one (a description)")
        control = " ".join(p for p in ((voice_prompt.get("design_prompt") or "").strip() if kind == "designed"
                                       else "", (instruct or "").strip()) if p)
        if control and not self._is_v2():
            raise InvalidRequestError(
                f"VoxCPM {config.model_size} takes no voice description or instruction; use VoxCPM2 "
                "(model voxcpm2) for designed voices and instructions")
        return control

    def _generate_blocking(self, text: str, voice_prompt: dict[str, Any], control: str,
                           seed: int | None) -> np.ndarray:
        with self._lock:
            pipeline = self._pipeline
            assert pipeline is not None
            target, options = self._target(text, control)
            seed_everything(seed)
            try:
                wav, _, _ = _first(pipeline.tts_model._generate_with_prompt_cache(
                    target_text=target, prompt_cache=voice_prompt.get("prompt_cache"),
                    streaming=False, **options))
            except (IndexError, RuntimeError, ValueError) as exc:
                raise self._failed(exc) from exc  # type: ignore[misc]
        audio = as_mono_float32(wav.squeeze(0).float().cpu().numpy())
        if audio.size == 0:
            raise GenerationError("VoxCPM produced no audio for this text")
        return audio

    def _normalize(self, text: str) -> str:
        pipeline = self._pipeline
        if pipeline.text_normalizer is None:
            from voxcpm.utils.text_normalize import TextNormalizer

            pipeline.text_normalizer = TextNormalizer()
        return str(pipeline.text_normalizer.normalize(text))


def _first(generator: Any) -> Any:
    """The one result of voxcpm's non-streaming generator, closing it."""
    try:
        return next(generator)
    finally:
        generator.close()

