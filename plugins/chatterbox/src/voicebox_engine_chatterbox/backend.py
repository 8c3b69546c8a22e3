"""Chatterbox backends: multilingual and Turbo, deferred-path voice prompts.

Both load through ``voicebox_core.runtime.ensure_model`` (token=None, offline reuse, local
override) and upstream's ``from_local``, never ``from_pretrained``: that one downloads with
``token=os.getenv("HF_TOKEN")`` and ignores the core's cache rules. The upstream traps the
audit (docs/audits/chatterbox.md) found are handled here, each next to its cause; the
multilingual tokenizer's in tokenizer.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from voicebox_core import (
    GenerationError,
    InvalidRequestError,
    ModelConfig,
    ReferenceAudioError,
    UnsupportedLanguageError,
    VoiceboxError,
)
from voicebox_core.runtime import (
    ModelSlot,
    as_mono_float32,
    choose_device,
    ensure_model,
    float32_inputs,
    float32_outputs,
    join_clips,
    join_transcripts,
    load_reference_audio,
    seed_everything,
    torch_load_on_cpu,
    upstream_import_error,
)

from voicebox_engine_chatterbox.plugin import MULTILINGUAL, TURBO
from voicebox_engine_chatterbox.tokenizer import ensure_chinese_segmenter, local_tokenizer_files

__all__ = ["ChatterboxBackend", "ChatterboxInstallError", "ChatterboxTurboBackend"]

log = logging.getLogger(__name__)

INSTALL = "pip install --no-deps chatterbox-tts==0.1.7 s3tokenizer==0.3.0"
#: Upstream's ``prepare_conditionals`` asserts ``len(wav) / sr > 5.0`` for Turbo.
TURBO_MIN_REFERENCE_S = 5.0


class ChatterboxInstallError(VoiceboxError):
    """chatterbox-tts or a runtime dependency of it is missing or broken (a server problem)."""

    status_code = 500


def _import_upstream() -> None:
    try:
        import chatterbox  # noqa: F401
        import perth
    except (ImportError, OSError) as exc:
        raise upstream_import_error(
            exc, "chatterbox-tts", f"{INSTALL} (--no-deps: it pins torch 2.6 and numpy<2)") from exc
    if perth.PerthImplicitWatermarker is None:
        # perth swallows its own ImportError: pkg_resources is gone from setuptools>=81.
        raise ChatterboxInstallError(
            "resemble-perth's watermarker failed to import (it needs pkg_resources); "
            "run `pip install 'setuptools<81'`"
        )


def check_install() -> None:
    """The deep doctor's check: chatterbox-tts, perth and s3tokenizer import as the engines use them."""
    _import_upstream()
    try:
        import s3tokenizer  # noqa: F401
        from chatterbox.mtl_tts import ChatterboxMultilingualTTS  # noqa: F401
        from chatterbox.tts_turbo import ChatterboxTurboTTS  # noqa: F401
    except (ImportError, OSError) as exc:
        raise upstream_import_error(exc, "chatterbox-tts", INSTALL) from exc


class _Backend:
    """What both engines share; a subclass says how to load and how to speak."""

    config: ClassVar[ModelConfig]
    #: One load at a time in the process: the torch.load and tokenizer patches are global.
    _load_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._slot: ModelSlot[Any] = ModelSlot()
        self.model_size: str | None = None
        self._device: str | None = None
        self._generate_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def model(self) -> Any:
        """The upstream model in memory, or None."""
        return self._slot.model

    def is_loaded(self) -> bool:
        return self._slot.is_loaded()

    def _get_model_path(self, model_size: str = "default") -> str:
        return str(self._config(model_size).hf_repo_id)

    def _config(self, model_size: str) -> ModelConfig:
        if model_size != self.config.model_size:
            raise InvalidRequestError(
                f"{self.config.display_name} has one model size, {self.config.model_size!r}; "
                f"got {model_size!r}"
            )
        return self.config

    async def load_model(self, model_size: str = "default") -> None:
        config = self._config(model_size)
        await self._slot.ensure(config, lambda: self._load_sync(config))

    def _load_sync(self, config: ModelConfig) -> Any:
        with self._load_lock:
            _import_upstream()
            path = ensure_model(config)
            device = choose_device(config.devices)
            cpu = torch_load_on_cpu() if device == "cpu" else contextlib.nullcontext()
            with cpu:
                model = self._from_local(path, device)
            self._patch(model)
            self.model_size, self._device = config.model_size, device
            log.info("%s loaded from %s on %s", config.display_name, path, device)
            return model

    def unload_model(self) -> None:
        self._slot.unload()
        self._device = None

    # -- voices --------------------------------------------------------------------------

    async def create_voice_prompt(
        self, audio_path: str, reference_text: str, use_cache: bool = True
    ) -> tuple[dict[str, Any], bool]:
        """Chatterbox conditions on the clip itself at generation time: store its path only."""
        self._check_reference(str(audio_path))
        return {"ref_audio": str(audio_path), "ref_text": reference_text}, False

    async def combine_voice_prompts(
        self, audio_paths: list[str], ref_texts: list[str]
    ) -> tuple[np.ndarray, str]:
        audio = join_clips(audio_paths, self.config.sample_rate, gap_seconds=0, normalize=True)
        return audio, join_transcripts(ref_texts)

    def _check_reference(self, path: str) -> None:
        load_reference_audio(path, min_seconds=0.5, max_seconds=float("inf"))

    # -- generation ----------------------------------------------------------------------

    async def generate(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> tuple[np.ndarray, int]:
        if language not in self.config.languages:
            raise UnsupportedLanguageError(language, f"model {self.config.model_name!r}",
                                           self.config.languages)
        reference = voice_prompt.get("ref_audio")
        if not reference:
            raise InvalidRequestError(
                f"{self.config.display_name} clones a voice: the voice prompt needs 'ref_audio'"
            )
        self._check_reference(str(reference))
        await self.load_model(self.model_size or self.config.model_size)
        return await asyncio.to_thread(self._generate_sync, text, str(reference), language, seed)

    def _generate_sync(self, text: str, reference: str, language: str,
                       seed: int | None) -> tuple[np.ndarray, int]:
        model = self.model
        if model is None:
            raise GenerationError(f"{self.config.display_name} was unloaded during generation")
        with self._generate_lock:
            seed_everything(seed)
            try:
                wav = self._speak(model, text, reference, language)
            except AssertionError as exc:  # upstream validates input with assert
                raise InvalidRequestError(f"{self.config.display_name}: {exc}") from exc
            except (RuntimeError, ValueError) as exc:
                raise GenerationError(f"{self.config.display_name} failed: {exc}") from exc
        audio = as_mono_float32(wav)
        if audio.size == 0:
            raise GenerationError(f"{self.config.display_name} produced no audio for {text!r}")
        return audio, int(model.sr)

    # -- engine specifics ----------------------------------------------------------------

    def _from_local(self, path: Path, device: str) -> Any:
        raise NotImplementedError

    def _speak(self, model: Any, text: str, reference: str, language: str) -> Any:
        raise NotImplementedError

    def _patch(self, model: Any) -> None:
        """float64 reaching float32 weights: cast where it enters (patched per instance)."""
        float32_inputs(model.s3gen.tokenizer, "log_mel_spectrogram")
        float32_inputs(model.ve, "forward")


class ChatterboxBackend(_Backend):
    """ChatterboxMultilingualTTS (repo ResembleAI/chatterbox, 23 languages)."""

    config = MULTILINGUAL
    #: Voicebox's sampling settings; Hebrew gets its tuned set.
    SETTINGS: ClassVar[dict[str, float]] = {
        "exaggeration": 0.5, "cfg_weight": 0.5, "temperature": 0.8, "repetition_penalty": 2.0}
    LANGUAGE_SETTINGS: ClassVar[dict[str, dict[str, float]]] = {
        "he": {"exaggeration": 0.4, "cfg_weight": 0.7, "temperature": 0.65,
               "repetition_penalty": 2.5}}

    def __init__(self, **settings: float) -> None:
        super().__init__()
        unknown = set(settings) - set(self.SETTINGS)
        if unknown:
            raise InvalidRequestError(f"unknown Chatterbox settings {sorted(unknown)}; "
                                      f"known: {sorted(self.SETTINGS)}")
        for name, value in settings.items():
            if not math.isfinite(value) or value < 0:
                raise InvalidRequestError(f"Chatterbox setting {name}={value} must be finite and >= 0")
        self.overrides = settings

    def settings(self, language: str) -> dict[str, float]:
        chosen = {**self.SETTINGS, **self.LANGUAGE_SETTINGS.get(language, {}), **self.overrides}
        # cfg_weight=0 crashes upstream's English ChatterboxTTS (batch-1 text, batch-2 BOS).
        # The multilingual model always doubles the text, so 0 merely switches CFG off;
        # keep it a plain float so T3's `cfg_weight > 0.0` test sees one.
        chosen["cfg_weight"] = max(0.0, float(chosen["cfg_weight"]))
        return chosen

    def _from_local(self, path: Path, device: str) -> Any:
        from chatterbox.mtl_tts import ChatterboxMultilingualTTS

        with local_tokenizer_files(path):
            return ChatterboxMultilingualTTS.from_local(path, device)

    def _speak(self, model: Any, text: str, reference: str, language: str) -> Any:
        if language == "zh":
            ensure_chinese_segmenter(model)
        return model.generate(text, language_id=language, audio_prompt_path=reference,
                              **self.settings(language))


class ChatterboxTurboBackend(_Backend):
    """ChatterboxTurboTTS (repo ResembleAI/chatterbox-turbo, English, paralinguistic tags)."""

    config = TURBO

    def _check_reference(self, path: str) -> None:
        audio, rate = load_reference_audio(path, min_seconds=0.0, max_seconds=float("inf"))
        seconds = len(audio) / rate
        if not seconds > TURBO_MIN_REFERENCE_S:
            raise ReferenceAudioError(
                f"reference audio {Path(path).name!r} is {seconds:.2f} s long; Chatterbox Turbo "
                f"needs a clip longer than {TURBO_MIN_REFERENCE_S:g} s"
            )

    def _from_local(self, path: Path, device: str) -> Any:
        from chatterbox.tts_turbo import ChatterboxTurboTTS

        return ChatterboxTurboTTS.from_local(path, device)

    def _patch(self, model: Any) -> None:
        super()._patch(model)
        # pyloudnorm's gain is np.float64; under numpy 2 (NEP 50) float32 * float64 is
        # float64 and S3Gen then fails with "expected scalar type Double but found Float".
        float32_outputs(type(model), "norm_loudness")

    def _speak(self, model: Any, text: str, reference: str, language: str) -> Any:
        # Turbo has no CFG, min_p or exaggeration: pass its own zeros, no warning.
        return model.generate(text, audio_prompt_path=reference, cfg_weight=0.0,
                              exaggeration=0.0, min_p=0.0)
