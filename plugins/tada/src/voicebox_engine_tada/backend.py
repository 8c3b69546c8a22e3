"""The TADA backend: hume-tada 0.1.9 behind voicebox-core's TTSBackend protocol.

Loading never lets hume-tada reach the network on its own: ``upstream.py`` builds its models
from folders resolved by :func:`voicebox_core.runtime.ensure_model`. The encoder is shared
by both sizes; one LLM (1B or 3B) is in memory at a time.

The voice prompt is TADA's ``EncoderOutput`` as a dict of CPU tensors, cached on disk under
``tada_<md5>``. It is encoded with the English aligner; a non-English request re-encodes it
with that language's aligner (cached as ``tada_<lang>_<md5>``), which needs the transcript.
``prompts.py`` holds the encoder calls; this module decides when they run.
"""

from __future__ import annotations

import asyncio
import dataclasses
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
    join_clips,
    join_transcripts,
    load_reference_audio,
    model_path,
    pick_model,
    prompt_cache,
    seed_everything,
)

from voicebox_engine_tada.plugin import (
    ALIGNER_LANGUAGE,
    ALIGNERS,
    CODEC,
    DEFAULT_SIZE,
    ENGINE,
    MODELS,
    SAMPLE_RATE,
)
from voicebox_engine_tada.prompts import (
    encode,
    language_key,
    reference_clip,
    to_encoder_output,
    transcribe,
)
from voicebox_engine_tada.upstream import (
    Progress,
    attach_recogniser,
    check_install,
    import_tada,
    load_aligner,
    load_encoder,
    load_llm,
    rekeyed,
)
from voicebox_engine_tada.upstream import tokenizer_dir as _tokenizer_dir

__all__ = ["TadaBackend", "check_install", "import_tada", "rekeyed"]

_OPTIONS_ENV = "VOICEBOX_TADA_INFERENCE_OPTIONS"


def _config_of(model_size: str) -> ModelConfig:
    return pick_model(MODELS, model_size, "tada", DEFAULT_SIZE)


@dataclasses.dataclass
class _Loaded:
    config: ModelConfig
    model: Any  # TadaForCausalLM
    model_dir: Path


class TadaBackend:
    """TTSBackend for TADA. ``progress`` receives byte progress, keyed by the size's model name."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress
        self._slot: ModelSlot[_Loaded] = ModelSlot()
        self._lock = self._slot.lock
        self._encoder: Any = None  # tada Encoder, shared by both sizes
        self._aligners: dict[str, Any] = {}  # aligner suffix ("en", "ja", "ch"...) -> Aligner
        self._tokenizer: Any = None
        self._tokenizer_path: Path | None = None
        self._device = "cpu"
        self._tada: SimpleNamespace | None = None

    # -- model lifecycle -----------------------------------------------------------------

    @property
    def _loaded(self) -> _Loaded | None:
        return self._slot.model

    @property
    def loaded_size(self) -> str | None:
        """``model_size`` of the model in memory ("1B", "3B"), or None."""
        return self._loaded.config.model_size if self._loaded else None

    async def load_model(self, model_size: str = "default") -> None:
        config = _config_of(model_size)
        # The encoder first, shared by both sizes; then the other size's LLM is dropped before
        # this one is built: never two in memory.
        await self._slot.ensure(config, lambda dirs: self._build(config, *dirs),
                                prepare=lambda: self._prepare(config))

    def _prepare(self, config: ModelConfig) -> tuple[Path, Path]:
        model_dir = ensure_model(config, self.progress)
        codec_dir = self._ensure_encoder(rekeyed(self.progress, config.model_name))
        return model_dir, codec_dir

    def _build(self, config: ModelConfig, model_dir: Path, codec_dir: Path) -> _Loaded:
        assert self._tada is not None and self._tokenizer_path is not None
        model = load_llm(self._tada, model_dir, codec_dir, self._tokenizer,
                         self._tokenizer_path, self._device)
        return _Loaded(config, model, model_dir)

    def _ensure_encoder(self, progress: Progress | None) -> Path:
        """The codec's folder, with the encoder (and its tokenizer) loaded from it if need be."""
        codec_dir = ensure_model(CODEC, progress)
        if self._encoder is not None:
            return codec_dir
        self._tada = self._tada or import_tada()
        self._device = choose_device(CODEC.devices)
        tokenizer_path = _tokenizer_dir(progress)
        from transformers import AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_path))
        encoder = load_encoder(self._tada, codec_dir, tokenizer_path, self._device, progress)
        self._aligners = {"en": encoder._aligner}
        self._encoder, self._tokenizer_path = encoder, tokenizer_path
        return codec_dir

    def _aligner_for(self, language: str) -> Any:
        """The aligner of ``language`` (downloaded on first use), keeping English + one more."""
        suffix = ALIGNER_LANGUAGE.get(language, "en")
        if suffix not in self._aligners:
            assert self._tada is not None and self._tokenizer_path is not None
            progress = rekeyed(self.progress, self._model_name())
            directory = ensure_model(ALIGNERS[language], progress)
            aligner = load_aligner(self._tada, directory, f"aligner-{suffix}",
                                   self._tokenizer_path, self._device, progress)
            self._aligners = {"en": self._aligners["en"], suffix: aligner}
        return self._aligners[suffix]

    def _model_name(self) -> str:
        return self._loaded.config.model_name if self._loaded else _config_of(DEFAULT_SIZE).model_name

    def unload_model(self) -> None:
        with self._lock:
            self._encoder = None
            self._aligners = {}
            self._tokenizer = None
            self._slot.unload()

    def is_loaded(self) -> bool:
        """True while a TADA LLM (either size; see :attr:`loaded_size`) is in memory."""
        return self._loaded is not None

    def _get_model_path(self, model_size: str) -> str:
        return model_path(_config_of(model_size))

    # -- voice prompts -------------------------------------------------------------------

    async def create_voice_prompt(
        self, audio_path: str, reference_text: str, use_cache: bool = True
    ) -> tuple[dict[str, Any], bool]:
        key = prompt_cache.key(ENGINE, audio_path, reference_text or "")
        if use_cache and (cached := prompt_cache.get(key)) is not None:
            return cached, True
        audio, _rate = load_reference_audio(audio_path, sample_rate=SAMPLE_RATE)
        prompt = await asyncio.to_thread(self._encode_blocking, audio, reference_text or "", key)
        if use_cache:
            prompt_cache.put(key, prompt)
        return prompt, False

    def _encode_blocking(self, audio: np.ndarray, reference_text: str, key: str) -> dict[str, Any]:
        import torch

        with self._lock:
            if self._encoder is None:
                self._ensure_encoder(rekeyed(self.progress, self._model_name()))
            text = " ".join(reference_text.split())
            transcribed = not text
            if transcribed:
                text = self._transcribe(audio)
            encoded = self._encode(torch.from_numpy(audio).unsqueeze(0), text, "en")
        return {"voice_type": "cloned", "engine": ENGINE, "cache_key": key, "aligner": "en",
                "reference_text": text, "transcribed": transcribed, "encoder_output": encoded}

    def _encode(self, audio: Any, text: str, language: str) -> dict[str, Any]:
        self._encoder._aligner = self._aligner_for(language)
        return encode(self._encoder, audio, text, self._device)

    def _transcribe(self, audio: np.ndarray) -> str:
        """English transcript of a reference clip by TADA's own recogniser (Parakeet CTC)."""
        attach_recogniser(self._encoder, self._device, rekeyed(self.progress, self._model_name()))
        return transcribe(self._encoder, audio)

    async def combine_voice_prompts(
        self, audio_paths: list[str], ref_texts: list[str]
    ) -> tuple[np.ndarray, str]:
        return join_clips(audio_paths, SAMPLE_RATE), join_transcripts(ref_texts)

    # -- generation ----------------------------------------------------------------------

    async def generate(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> tuple[np.ndarray, int]:
        if instruct:
            raise InvalidRequestError("TADA does not take an instruct prompt; leave it out")
        if not isinstance(voice_prompt, dict) or "encoder_output" not in voice_prompt:
            raise InvalidRequestError(
                "TADA speaks only with cloned voices: build the prompt with create_voice_prompt"
            )
        if self._loaded is None:
            await self.load_model(DEFAULT_SIZE)
        audio = await asyncio.to_thread(self._generate_blocking, text, voice_prompt, language, seed)
        return audio, SAMPLE_RATE

    def _generate_blocking(self, text: str, voice_prompt: dict[str, Any], language: str,
                           seed: int | None) -> np.ndarray:
        with self._lock:
            loaded = self._loaded
            assert loaded is not None and self._tada is not None
            language = (language or "en").split("-")[0].lower()
            if language not in loaded.config.languages:
                raise UnsupportedLanguageError(language, f"model {loaded.config.model_name!r}",
                                               loaded.config.languages)
            encoded = self._prompt_for(voice_prompt, language)
            prompt = to_encoder_output(self._tada.EncoderOutput, encoded, self._device)
            options = self._tada.InferenceOptions(**_inference_overrides())
            seed_everything(seed)
            try:
                output = loaded.model.generate(prompt=prompt, text=text, inference_options=options)
            except (IndexError, RuntimeError, ValueError) as exc:
                raise GenerationError(
                    f"TADA ({loaded.config.model_name}) failed while generating: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        wav = output.audio[0] if output.audio else None
        if wav is None:
            # hume-tada catches decoder exceptions and returns None for that sample.
            raise GenerationError(
                f"TADA ({loaded.config.model_name}) could not decode speech for this text; "
                "try rephrasing it or a different reference clip"
            )
        audio = as_mono_float32(wav)
        if audio.size == 0:
            raise GenerationError(f"TADA ({loaded.config.model_name}) produced no audio")
        return audio

    def _prompt_for(self, voice_prompt: dict[str, Any], language: str) -> dict[str, Any]:
        """The encoder output aligned for ``language`` (the English one unless re-encoded)."""
        suffix = ALIGNER_LANGUAGE.get(language, "en")
        if suffix == voice_prompt.get("aligner", "en"):
            return voice_prompt["encoder_output"]
        if voice_prompt.get("transcribed"):
            raise InvalidRequestError(
                f"TADA needs the transcript of the reference clip to speak {language!r}: its "
                "built-in recogniser is English-only; add the reference text to the voice sample"
            )
        key = language_key(voice_prompt, language)
        if (cached := prompt_cache.get(key)) is not None:
            return cached
        if self._encoder is None:
            self._ensure_encoder(rekeyed(self.progress, self._model_name()))
        audio = reference_clip(voice_prompt["encoder_output"])
        encoded = self._encode(audio, voice_prompt["reference_text"], language)
        prompt_cache.put(key, encoded)
        return encoded


def _inference_overrides() -> dict[str, Any]:
    """``InferenceOptions`` fields from ``VOICEBOX_TADA_INFERENCE_OPTIONS`` (a JSON object)."""
    return env_options(_OPTIONS_ENV, described="of InferenceOptions fields")
