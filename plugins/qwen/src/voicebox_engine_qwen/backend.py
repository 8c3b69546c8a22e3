"""The Qwen3-TTS backends: one class per checkpoint kind, sharing load, device and errors.

- Files come from :func:`voicebox_core.runtime.ensure_model` (local override, complete
  offline cache, or a download of just ``ModelConfig.files``); upstream then reads a local
  directory, so ``qwen_tts`` never touches the network.
- Device, dtype and upstream's loader: :mod:`voicebox_engine_qwen.upstream`. The backend
  then checks the checkpoint kind and the sample rate.
- Base voice prompt: upstream's precomputed clone prompt (speech codes + x-vector), held
  as CPU tensors in the shared prompt cache under ``qwen_<md5>``, one entry per model size
  because the two sizes' speaker embeddings differ in width. No transcript means
  x-vector-only mode.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from voicebox_core import (
    ContractError,
    GenerationError,
    InvalidRequestError,
    ModelConfig,
    ModelNotDownloadedError,
    UnknownVoiceError,
    UnsupportedLanguageError,
)
from voicebox_core.runtime import (
    ModelSlot,
    as_mono_float32,
    ensure_model,
    join_clips,
    load_reference_audio,
    model_path,
    pick_model,
    prompt_cache,
    seed_everything,
)

from voicebox_engine_qwen.plugin import LANGUAGE_NAMES, MODELS, SAMPLE_RATE, SPEAKERS
from voicebox_engine_qwen.upstream import check_install, load_qwen

__all__ = [
    "QwenBackend",
    "QwenBaseBackend",
    "QwenCustomVoiceBackend",
    "QwenVoiceDesignBackend",
    "check_install",
]

#: Prefix of this engine's voice-prompt cache keys (Voicebox's ``qwen_``).
CACHE_ENGINE = "qwen"
_SPEAKER_IDS = {voice_id.lower(): voice_id for voice_id, _, _ in SPEAKERS}


class QwenBackend:
    """Shared machinery; subclasses name the engine and the checkpoint kind they load."""

    engine: ClassVar[str]
    #: ``tts_model_type`` in the checkpoint's config.json.
    model_type: ClassVar[str]

    def __init__(self) -> None:
        self._models = tuple(m for m in MODELS if m.engine == self.engine)
        self._slot: ModelSlot[Any] = ModelSlot()  # a qwen_tts.Qwen3TTSModel
        self.device: str | None = None
        # One generation at a time per model: upstream keeps per-call state on the module.
        self._lock = self._slot.lock

    # -- models --------------------------------------------------------------------------

    @property
    def _model(self) -> Any:
        """The upstream Qwen3TTSModel in memory, or None."""
        return self._slot.model

    def _model_config(self, model_size: str | None) -> ModelConfig:
        return pick_model(self._models, model_size, self.engine)

    def _get_model_path(self, model_size: str) -> str:
        return model_path(self._model_config(model_size))

    @property
    def model_size(self) -> str | None:
        """Size of the loaded model (Voicebox's ``_current_model_size``), None when unloaded."""
        return self._slot.config.model_size if self._slot.config else None

    def is_loaded(self) -> bool:
        return self._slot.is_loaded()

    async def load_model(self, model_size: str = "default") -> None:
        await asyncio.to_thread(self._load, model_size)

    def _load(self, model_size: str | None) -> None:
        config = self._model_config(model_size)
        self._slot.load(config, lambda: self._open(config))  # a different size: the old one goes first

    def _open(self, config: ModelConfig) -> Any:
        directory = ensure_model(config)
        model, self.device = load_qwen(directory, config)
        self._check_loaded(model, directory)
        return model

    def _check_loaded(self, model: Any, directory: Path) -> None:
        inner = model.model
        if inner.tts_model_type != self.model_type:
            found = inner.tts_model_type
            raise ModelNotDownloadedError(
                f"{str(directory)!r} holds a Qwen3-TTS {found!r} checkpoint but engine "
                f"{self.engine!r} needs a {self.model_type!r} one; fix the local override or "
                "delete the model and download it again"
            )
        rate = int(inner.speech_tokenizer.model.get_output_sample_rate())
        if rate != SAMPLE_RATE:
            raise ContractError(f"{str(directory)!r} speaks at {rate} Hz, not {SAMPLE_RATE} Hz")

    def _ensure_loaded(self) -> Any:
        if self._slot.model is None:
            self._load(None)
        return self._slot.model

    def unload_model(self) -> None:
        self._slot.unload()

    # -- voice prompts ---------------------------------------------------------------------

    async def create_voice_prompt(
        self, audio_path: str, reference_text: str, use_cache: bool = True
    ) -> tuple[dict[str, Any], bool]:
        raise InvalidRequestError(
            f"engine {self.engine!r} does not clone voices; use engine 'qwen' for a reference clip"
        )

    async def combine_voice_prompts(
        self, audio_paths: list[str], ref_texts: list[str]
    ) -> tuple[np.ndarray, str]:
        """Voicebox's merge: each clip at 24 kHz, normalised, concatenated, normalised again.

        The transcripts are joined with spaces. If any clip has none, the result has none
        either, so the combined prompt uses x-vector-only mode instead of a transcript that
        would cover only part of the audio.
        """
        if not audio_paths or len(audio_paths) != len(ref_texts):
            raise InvalidRequestError(
                f"combine needs one transcript per clip; got {len(audio_paths)} clips and "
                f"{len(ref_texts)} transcripts"
            )
        texts = [(text or "").strip() for text in ref_texts]
        text = " ".join(texts) if all(texts) else ""
        return join_clips(audio_paths, SAMPLE_RATE, gap_seconds=0, normalize=True), text

    # -- generation ------------------------------------------------------------------------

    async def generate(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> tuple[np.ndarray, int]:
        return await asyncio.to_thread(self._generate, text, voice_prompt, language, seed, instruct)

    def _generate(self, text: str, voice_prompt: dict[str, Any], language: str,
                  seed: int | None, instruct: str | None) -> tuple[np.ndarray, int]:
        if language not in LANGUAGE_NAMES:
            raise UnsupportedLanguageError(language, f"engine {self.engine!r}", LANGUAGE_NAMES)
        with self._lock:
            model = self._ensure_loaded()
            seed_everything(seed)
            try:
                wavs, rate = self._speak(model, text, voice_prompt, LANGUAGE_NAMES[language],
                                         (instruct or "").strip())
            except ValueError as exc:  # upstream's checks on speaker, language, prompt
                raise InvalidRequestError(f"Qwen3-TTS refused the request: {exc}") from exc
            except RuntimeError as exc:
                raise GenerationError(f"Qwen3-TTS failed while generating: {exc}") from exc
        audio = as_mono_float32(wavs[0]) if wavs else np.zeros(0, dtype=np.float32)
        if audio.size == 0:
            raise GenerationError(f"engine {self.engine!r} produced no audio for {text[:40]!r}")
        return audio, int(rate)

    def _speak(self, model: Any, text: str, voice_prompt: dict[str, Any], language: str,
               instruct: str) -> tuple[list[np.ndarray], int]:
        raise NotImplementedError


class QwenBaseBackend(QwenBackend):
    """``qwen``: zero-shot cloning with the Base checkpoints."""

    engine = "qwen"
    model_type = "base"

    async def create_voice_prompt(
        self, audio_path: str, reference_text: str, use_cache: bool = True
    ) -> tuple[dict[str, Any], bool]:
        return await asyncio.to_thread(self._create_voice_prompt, audio_path, reference_text,
                                       use_cache)

    def _create_voice_prompt(self, audio_path: str, reference_text: str,
                             use_cache: bool) -> tuple[dict[str, Any], bool]:
        # The Synthesizer checks each sample against 2-30 s; a merged multi-sample clip may be
        # longer, so only absurd lengths are refused here.
        audio, _ = load_reference_audio(audio_path, min_seconds=0.5, max_seconds=120.0,
                                        sample_rate=SAMPLE_RATE)
        text = (reference_text or "").strip()
        key = prompt_cache.key(CACHE_ENGINE, audio_path, text)
        with self._lock:
            model = self._ensure_loaded()
            size = self.model_size
            by_size = (prompt_cache.get(key) or {}) if use_cache else {}
            if size in by_size:
                return by_size[size], True
            (item,) = model.create_voice_clone_prompt(
                ref_audio=(audio, SAMPLE_RATE), ref_text=text or None,
                x_vector_only_mode=not text,
            )
        prompt = {
            "voice_type": "cloned",
            "model_size": size,
            "ref_code": None if item.ref_code is None else item.ref_code.detach().cpu(),
            "ref_spk_embedding": item.ref_spk_embedding.detach().float().cpu(),
            "x_vector_only_mode": bool(item.x_vector_only_mode),
            "icl_mode": bool(item.icl_mode),
            "ref_text": item.ref_text if item.icl_mode else None,
        }
        if use_cache:
            prompt_cache.put(key, {**by_size, size: prompt})
        return prompt, False

    def _speak(self, model: Any, text: str, voice_prompt: dict[str, Any], language: str,
               instruct: str) -> tuple[list[np.ndarray], int]:
        if "ref_spk_embedding" not in voice_prompt:
            raise InvalidRequestError(
                "engine 'qwen' needs a cloned voice prompt from create_voice_prompt(); "
                f"got a {voice_prompt.get('voice_type', 'unknown')!r} voice"
            )
        if voice_prompt.get("model_size") not in (None, self.model_size):
            raise InvalidRequestError(
                f"this voice prompt was made with the {voice_prompt['model_size']} model but "
                f"{self.model_size} is loaded; create the voice prompt again"
            )
        from qwen_tts import VoiceClonePromptItem

        item = VoiceClonePromptItem(
            ref_code=voice_prompt["ref_code"],
            ref_spk_embedding=voice_prompt["ref_spk_embedding"],
            x_vector_only_mode=voice_prompt["x_vector_only_mode"],
            icl_mode=voice_prompt["icl_mode"],
            ref_text=voice_prompt.get("ref_text"),
        )
        # Base checkpoints take no instruction (Voicebox ignores it here too).
        return model.generate_voice_clone(text=text, language=language, voice_clone_prompt=[item])


class QwenCustomVoiceBackend(QwenBackend):
    """``qwen_custom_voice``: nine preset speakers; an instruction steers the 1.7B model."""

    engine = "qwen_custom_voice"
    model_type = "custom_voice"

    def _speak(self, model: Any, text: str, voice_prompt: dict[str, Any], language: str,
               instruct: str) -> tuple[list[np.ndarray], int]:
        voice = str(voice_prompt.get("preset_voice_id") or "")
        if voice.lower() not in _SPEAKER_IDS:
            raise UnknownVoiceError(voice, self.engine, _SPEAKER_IDS.values())
        if instruct and self._slot.config is not None and not self._slot.config.supports_instruct:
            raise InvalidRequestError(
                f"model {self._slot.config.model_name!r} ignores style instructions; "
                "use qwen-custom-voice-1.7B or leave instruct out"
            )
        return model.generate_custom_voice(text=text, speaker=_SPEAKER_IDS[voice.lower()],
                                           language=language, instruct=instruct or None)


class QwenVoiceDesignBackend(QwenBackend):
    """``qwen_voice_design``: the voice is a description; an instruction is appended to it."""

    engine = "qwen_voice_design"
    model_type = "voice_design"

    def _speak(self, model: Any, text: str, voice_prompt: dict[str, Any], language: str,
               instruct: str) -> tuple[list[np.ndarray], int]:
        description = str(voice_prompt.get("design_prompt") or "").strip()
        if not description:
            raise InvalidRequestError(
                "engine 'qwen_voice_design' needs a designed voice: "
                '{"voice_type": "designed", "design_prompt": "<a description of the voice>"}'
            )
        if instruct:
            description = f"{description.rstrip('.')}. {instruct}"
        return model.generate_voice_design(text=text, instruct=description, language=language)
