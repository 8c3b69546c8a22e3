"""The OmniVoice backend: omnivoice 0.2.1's ``OmniVoice`` behind voicebox-core's TTSBackend.

- The model folder comes from :func:`voicebox_core.runtime.ensure_model` (offline checks,
  overrides, byte progress) and holds ``audio_tokenizer/``: upstream reads that folder only.
- A cloned voice prompt is upstream's ``VoiceClonePrompt`` as plain data (codec tokens, the
  transcript, the clip's loudness), cached under ``omnivoice_<md5>``. The transcript is
  required: without one upstream downloads and runs Whisper, and an empty one mis-conditions
  the model silently.
- A designed voice is upstream's ``instruct``: a closed vocabulary ("female, elderly, british
  accent"); a request's instruct is appended to it, or steers a cloned voice. Upstream's
  refusal of an unknown item (with its suggestions) becomes ``InvalidRequestError``.
- Languages are checked here: upstream only logs an unknown one and drops to its
  language-agnostic mode (``auto``).
- ``VOICEBOX_OMNIVOICE_OPTIONS`` (a JSON object) sets ``num_step`` (32), ``guidance_scale``
  (2.0) and ``speed``; the tests use a few steps.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from typing import Any

import numpy as np
from voicebox_core import (
    GenerationError,
    InvalidRequestError,
    ModelConfig,
    UnknownModelError,
    UnsupportedLanguageError,
)
from voicebox_core.runtime import (
    as_mono_float32,
    choose_device,
    empty_device_cache,
    ensure_model,
    env_options,
    load_audio,
    load_reference_audio,
    local_override,
    prompt_cache,
    seed_everything,
    upstream_import_error,
)

from voicebox_engine_omnivoice._languages import TO_UPSTREAM
from voicebox_engine_omnivoice.plugin import ENGINE, MODELS, SAMPLE_RATE

__all__ = ["OmniVoiceBackend", "check_install", "upstream_language"]

_CONFIGS = {config.model_size: config for config in MODELS}
_OPTIONS_ENV = "VOICEBOX_OMNIVOICE_OPTIONS"
_OPTION_NAMES = {"num_step", "guidance_scale", "speed"}
_INSTALL = "voicebox engines install omnivoice"


def check_install() -> None:
    """The deep doctor's check: omnivoice imports (transformers 5 with the Higgs codec, torchaudio)."""
    try:
        importlib.import_module("omnivoice.models.omnivoice")
    except (ImportError, OSError) as exc:
        raise upstream_import_error(exc, "omnivoice", _INSTALL) from exc


def upstream_language(language: str) -> str | None:
    """The id upstream takes for a Voicebox code (``None``: language-agnostic), or a 422."""
    code = (language or "auto").strip()
    if code == "auto":
        return None
    languages = MODELS[0].languages
    if code not in languages:
        base = code.split("-")[0].lower()  # "pt-BR" speaks Portuguese
        if base not in languages:
            raise UnsupportedLanguageError(language, f"model {MODELS[0].model_name!r}", languages)
        code = base
    return TO_UPSTREAM.get(code, code)


def _config_of(model_size: str) -> ModelConfig:
    size = MODELS[0].model_size if model_size in ("", "default") else model_size
    if size not in _CONFIGS:
        raise UnknownModelError(f"omnivoice {model_size}", [m.model_name for m in MODELS])
    return _CONFIGS[size]


def _options() -> dict[str, Any]:
    return env_options(_OPTIONS_ENV, _OPTION_NAMES)


class OmniVoiceBackend:
    """TTSBackend for OmniVoice: one model in memory; one lock for loading and generating."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._config: ModelConfig | None = None
        self._model: Any = None

    # -- model lifecycle -----------------------------------------------------------------

    async def load_model(self, model_size: str = "default") -> None:
        config = _config_of(model_size)
        if self._config is config and self._model is not None:
            return
        await asyncio.to_thread(self._load_blocking, config)

    def _load_blocking(self, config: ModelConfig) -> Any:
        with self._lock:
            if self._config is config and self._model is not None:
                return self._model
            directory = ensure_model(config)
            try:
                import torch
                from omnivoice import OmniVoice
            except (ImportError, OSError) as exc:
                raise upstream_import_error(exc, "omnivoice", _INSTALL) from exc

            self._model = self._config = None
            device = choose_device(config.devices)
            dtype = torch.float16 if device == "cuda" else torch.float32
            # device_map places the codec too (accelerate); safetensors only, no torch.load.
            self._model = OmniVoice.from_pretrained(str(directory), device_map=device, dtype=dtype).eval()
            self._config = config
            return self._model

    def unload_model(self) -> None:
        with self._lock:
            self._model = self._config = None
        empty_device_cache()

    def is_loaded(self) -> bool:
        return self._model is not None

    @property
    def loaded_size(self) -> str | None:
        return self._config.model_size if self._config else None

    def _get_model_path(self, model_size: str) -> str:
        config = _config_of(model_size)
        override = local_override(config)
        return str(override) if override is not None else str(config.hf_repo_id)

    # -- voice prompts -------------------------------------------------------------------

    async def create_voice_prompt(self, audio_path: str, reference_text: str,
                                  use_cache: bool = True) -> tuple[dict[str, Any], bool]:
        text = (reference_text or "").strip()
        if not text:
            raise InvalidRequestError("OmniVoice needs the transcript of the reference clip: give the "
                                      "words spoken in it as the sample's reference text")
        key = prompt_cache.key(ENGINE, audio_path, text)
        if use_cache and (cached := prompt_cache.get(key)) is not None:
            return cached, True
        # The Synthesizer checks each sample against reference_seconds; a merged multi-sample
        # clip may be longer, so only absurd lengths are refused here.
        audio, rate = load_reference_audio(audio_path, min_seconds=0.5, max_seconds=120.0, sample_rate=SAMPLE_RATE)
        prompt = await asyncio.to_thread(self._clone_blocking, as_mono_float32(audio), rate, text)
        if use_cache:
            prompt_cache.put(key, prompt)
        return prompt, False

    def _clone_blocking(self, audio: np.ndarray, rate: int, text: str) -> dict[str, Any]:
        import torch

        with self._lock:
            model = self._model if self._model is not None else self._load_blocking(_config_of("default"))
            try:
                with torch.inference_mode():
                    clone = model.create_voice_clone_prompt((torch.from_numpy(audio), rate), ref_text=text)
            except ValueError as exc:  # nothing left after upstream's silence removal
                raise InvalidRequestError(f"OmniVoice cannot use this reference clip: {exc}") from exc
        # Plain data, so that the prompt cache's pickle never names an omnivoice class.
        return {"voice_type": "cloned", "engine": ENGINE, "tokens": clone.ref_audio_tokens.detach().cpu(),
                "ref_text": clone.ref_text, "ref_rms": float(clone.ref_rms)}

    async def combine_voice_prompts(self, audio_paths: list[str], ref_texts: list[str]) -> tuple[np.ndarray, str]:
        pieces = [load_audio(path, SAMPLE_RATE)[0] for path in audio_paths]
        gap = np.zeros(SAMPLE_RATE // 5, dtype=np.float32)
        joined: list[np.ndarray] = []
        for piece in pieces:
            joined.extend([as_mono_float32(piece), gap])
        audio = np.concatenate(joined[:-1]) if joined else np.zeros(0, dtype=np.float32)
        return audio, " ".join(t.strip() for t in ref_texts if t and t.strip())

    # -- generation ----------------------------------------------------------------------

    async def generate(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                       seed: int | None = None, instruct: str | None = None) -> tuple[np.ndarray, int]:
        lang = upstream_language(language)
        call = self._voice(voice_prompt, (instruct or "").strip())
        options = _options()
        audio = await asyncio.to_thread(self._generate_blocking, text, lang, call, options, seed)
        return audio, SAMPLE_RATE

    @staticmethod
    def _voice(voice_prompt: dict[str, Any], instruct: str) -> dict[str, Any]:
        """Upstream's ``generate`` arguments for the voice: a clone prompt, an instruct, or both."""
        kind = voice_prompt.get("voice_type") if isinstance(voice_prompt, dict) else None
        if kind == "cloned" and "tokens" in voice_prompt:
            return {"clone": voice_prompt, "instruct": instruct or None}
        if kind == "designed":
            design = str(voice_prompt.get("design_prompt") or "").strip()
            if not design:
                raise InvalidRequestError("a designed OmniVoice voice needs a description such as "
                                          "'female, elderly, british accent'")
            return {"clone": None, "instruct": ", ".join(p for p in (design, instruct) if p)}
        raise InvalidRequestError(
            "OmniVoice speaks with a cloned voice (a prompt from create_voice_prompt) or a designed one "
            '({"voice_type": "designed", "design_prompt": "female, low pitch"}); '
            f"got a {kind or type(voice_prompt).__name__!r} voice")

    def _generate_blocking(self, text: str, language: str | None, call: dict[str, Any], options: dict[str, Any],
                           seed: int | None) -> np.ndarray:
        import torch
        from omnivoice import VoiceClonePrompt

        with self._lock:
            model = self._model if self._model is not None else self._load_blocking(_config_of("default"))
            clone = call["clone"]
            prompt = None if clone is None else VoiceClonePrompt(
                ref_audio_tokens=clone["tokens"], ref_text=clone["ref_text"], ref_rms=clone["ref_rms"])
            seed_everything(seed)
            try:
                with torch.inference_mode():
                    audios = model.generate(text=text, language=language, voice_clone_prompt=prompt,
                                            instruct=call["instruct"], **options)
            except ValueError as exc:
                if "instruct" in str(exc):  # the closed vocabulary, with upstream's suggestions
                    raise InvalidRequestError(f"OmniVoice: {exc}") from exc
                raise GenerationError(f"OmniVoice failed while generating: ValueError: {exc}") from exc
            except (IndexError, RuntimeError) as exc:
                raise GenerationError(f"OmniVoice failed while generating: {type(exc).__name__}: {exc}") from exc
        audio = as_mono_float32(audios[0]) if audios else np.zeros(0, dtype=np.float32)
        if audio.size == 0:
            raise GenerationError("OmniVoice produced no audio for this text; try rephrasing it")
        return audio
