"""The LuxTTS backend: upstream ``zipvoice.luxvoice.LuxTTS``, fed from voicebox-core's cache.

Two upstream behaviours are worked around here, without copying upstream code:

* **Weights.** ``load_models_cpu`` ignores its ``model_path`` and always calls
  ``snapshot_download("YatharthS/LuxTTS")`` (no progress, no offline check, no local
  override). The backend resolves the directory with :func:`voicebox_core.runtime.ensure_model`
  first and, while ``LuxTTS(...)`` loads, points ``zipvoice.modeling_utils.snapshot_download``
  at that directory. The torch loader (CUDA/MPS) honours ``model_path`` and gets it directly.
* **Whisper.** ``LuxTTS.__init__`` builds a ``transformers`` ASR pipeline (``openai/whisper-tiny``
  on CPU, ``whisper-base`` elsewhere: a second download) and ``encode_prompt`` always
  transcribes the clip with it. Voicebox profiles already hold the transcript, so while
  loading ``zipvoice.modeling_utils.pipeline`` builds a transcriber that refuses to run, and
  the voice prompt comes from ``zipvoice.modeling_utils.process_audio`` (what
  ``encode_prompt`` calls) with a transcriber that returns the profile's text.

Both patches replace module attributes of ``zipvoice.modeling_utils`` only (never
``transformers.pipeline`` or ``huggingface_hub``), under a lock, and are undone afterwards.

The voice prompt covers the WHOLE reference clip, not upstream's first 5 s: the transcript
describes the whole clip, and a prompt whose text and audio disagree derails LuxTTS's
duration prediction. Generation uses Voicebox's settings (4 steps, guidance 3.0, t_shift 0.5,
prompt RMS target 0.01). On CPU the ``speed`` argument also corrects a length bug of the
exported ONNX text encoder (see :func:`cpu_speed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from voicebox_core import (
    ContractError,
    EmptyTextError,
    GenerationError,
    InvalidRequestError,
    ModelNotDownloadedError,
    UnknownModelError,
)
from voicebox_core.runtime import (
    DownloadProgress,
    as_mono_float32,
    cached_snapshot,
    choose_device,
    empty_device_cache,
    ensure_model,
    has_speakable_text,
    load_audio,
    load_reference_audio,
    local_override,
    normalize_audio,
    prompt_cache,
    seed_everything,
    upstream_import_error,
)

from voicebox_engine_luxtts.plugin import ENGINE, HF_REPO, INFO, MODEL, SAMPLE_RATE

__all__ = ["GENERATION_SETTINGS", "PROMPT_RMS", "LuxTTSBackend", "cpu_speed"]

#: Voicebox's fixed sampling settings for LuxTTS (``generate_speech`` keyword arguments).
GENERATION_SETTINGS: dict[str, float] = {"num_steps": 4, "guidance_scale": 3.0, "t_shift": 0.5}
#: ``encode_prompt``'s ``rms``: quiet prompts are raised to this RMS, output scaled back.
PROMPT_RMS = 0.01
#: Sample rate of the features LuxTTS's prompt encoder works on.
_PROMPT_RATE = 24000
#: ``generate_cpu``/``generate`` multiply the requested speed by this ("default is too slow").
_SPEED_FACTOR = 1.3
_PROMPT_KEYS = ("prompt_tokens", "prompt_features_lens", "prompt_features", "prompt_rms")

# The loader patches replace module attributes: one LuxTTS load at a time per process.
_LOADER_LOCK = threading.Lock()


def _upstream() -> tuple[Any, Any]:
    """``(zipvoice.modeling_utils, zipvoice.luxvoice.LuxTTS)``, with a usable error if absent."""
    try:
        with warnings.catch_warnings():
            # pydub warns about ffmpeg at import; LuxTTS never decodes through it here.
            warnings.filterwarnings("ignore", message="Couldn't find ffmpeg", category=RuntimeWarning)
            import zipvoice.modeling_utils as modeling_utils
            from zipvoice.luxvoice import LuxTTS
    except (ImportError, OSError) as exc:
        raise upstream_import_error(
            exc, "zipvoice", "pip install the plugin with its dependencies: zipvoice and "
            "linacodec come from GitHub, see the plugin's README") from exc
    return modeling_utils, LuxTTS


def check_install() -> None:
    """The deep doctor's check: zipvoice's LuxTTS and linacodec import."""
    _upstream()
    try:
        import linacodec  # noqa: F401
    except (ImportError, OSError) as exc:
        raise upstream_import_error(exc, "linacodec", "see the plugin's README (not on PyPI)") from exc


class _NoTranscriber:
    """Stands in for upstream's Whisper pipeline: voicebox always passes the transcript."""

    def __call__(self, *_args: Any, **_kwargs: Any) -> dict[str, str]:
        raise GenerationError(
            "LuxTTS's built-in Whisper transcription is disabled in Voicebox; "
            "the reference transcript of the voice profile is used instead"
        )


@contextlib.contextmanager
def _loader_reads(modeling_utils: Any, model_dir: Path) -> Iterator[None]:
    """While loading: hub downloads resolve to ``model_dir`` and no Whisper is built."""

    def snapshot_download(repo_id: str, *_args: Any, **_kwargs: Any) -> str:
        if repo_id != HF_REPO:
            raise ContractError(f"LuxTTS asked for repository {repo_id!r}; only {HF_REPO} is known")
        return str(model_dir)

    def pipeline(*_args: Any, **_kwargs: Any) -> _NoTranscriber:
        return _NoTranscriber()

    with _LOADER_LOCK:
        saved = modeling_utils.snapshot_download, modeling_utils.pipeline
        modeling_utils.snapshot_download, modeling_utils.pipeline = snapshot_download, pipeline
        try:
            yield
        finally:
            modeling_utils.snapshot_download, modeling_utils.pipeline = saved


def _threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


class LuxTTSBackend:
    """TTSBackend for LuxTTS. ``progress`` receives byte progress of the weight download."""

    def __init__(self, progress: Callable[[DownloadProgress], None] | None = None) -> None:
        self.progress = progress
        self._lux: Any = None
        self._model_dir: Path | None = None
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------

    async def load_model(self, model_size: str = "default") -> None:
        if model_size not in (MODEL.model_size, MODEL.model_name):
            raise UnknownModelError(model_size, [MODEL.model_size])
        if self._lux is None:
            await asyncio.to_thread(self._load_blocking)

    def _load_blocking(self) -> None:
        with self._lock:  # a second caller finds the model loaded
            if self._lux is not None:
                return
            model_dir = ensure_model(MODEL, self.progress)
            modeling_utils, lux_class = _upstream()
            device = choose_device(MODEL.devices)
            try:
                with _loader_reads(modeling_utils, model_dir):
                    lux = lux_class(str(model_dir), device=device, threads=_threads())
            except (ContractError, GenerationError):
                raise
            except Exception as exc:
                raise ModelNotDownloadedError(
                    f"LuxTTS files in {str(model_dir)!r} could not be loaded "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                    f"delete model {MODEL.model_name!r} and download it again"
                ) from exc
            self._lux, self._model_dir = lux, model_dir

    def unload_model(self) -> None:
        with self._lock:
            self._lux = None
            self._model_dir = None
        gc.collect()
        empty_device_cache()

    def is_loaded(self) -> bool:
        return self._lux is not None

    def _get_model_path(self, model_size: str) -> str:
        directory = local_override(MODEL) or cached_snapshot(MODEL)
        return str(directory) if directory is not None else HF_REPO

    async def _loaded(self) -> Any:
        if self._lux is None:
            await self.load_model()
        return self._lux

    # -- voices --------------------------------------------------------------------------

    async def create_voice_prompt(
        self, audio_path: str, reference_text: str, use_cache: bool = True
    ) -> tuple[dict[str, Any], bool]:
        low, high = INFO.reference_seconds
        load_reference_audio(audio_path, min_seconds=low, max_seconds=high)
        text = (reference_text or "").strip()
        if not text or not has_speakable_text(text):
            raise InvalidRequestError(
                "LuxTTS needs the transcript of the reference clip (it does not transcribe); "
                "add the words spoken in the sample to the voice profile"
            )
        key = prompt_cache.key(ENGINE, audio_path, text)
        if use_cache and (hit := prompt_cache.get(key)) is not None:
            return hit, True
        lux = await self._loaded()
        prompt = await asyncio.to_thread(self._encode, lux, audio_path, text)
        if use_cache:
            prompt_cache.put(key, prompt)
        return prompt, False

    def _encode(self, lux: Any, audio_path: str, text: str) -> dict[str, Any]:
        modeling_utils, _ = _upstream()
        tokens, lengths, features, rms = modeling_utils.process_audio(
            audio_path, lambda _wav: {"text": text}, lux.tokenizer, lux.feature_extractor,
            lux.device, target_rms=PROMPT_RMS, duration=None,
        )
        if not tokens or not tokens[0]:
            raise InvalidRequestError(
                f"LuxTTS found nothing it can pronounce in the reference transcript {text!r}; "
                "it reads English and Chinese"
            )
        # CPU tensors: the cache is pickled to disk and may be read on another device.
        return {
            "voice_type": "cloned",
            "engine": ENGINE,
            "prompt_tokens": [list(map(int, tokens[0]))],
            "prompt_features_lens": lengths.detach().cpu(),
            "prompt_features": features.detach().cpu(),
            "prompt_rms": float(rms),
        }

    async def combine_voice_prompts(
        self, audio_paths: list[str], ref_texts: list[str]
    ) -> tuple[np.ndarray, str]:
        if not audio_paths or len(audio_paths) != len(ref_texts):
            raise InvalidRequestError("give one transcript per reference clip")
        clips = [load_audio(path, _PROMPT_RATE)[0] for path in audio_paths]
        gap = np.zeros(_PROMPT_RATE // 5, dtype=np.float32)  # 200 ms between clips
        joined = np.concatenate([part for clip in clips for part in (clip, gap)][:-1])
        return normalize_audio(joined), " ".join(t.strip() for t in ref_texts if t.strip())

    # -- generation ----------------------------------------------------------------------

    async def generate(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> tuple[np.ndarray, int]:
        if not text or not has_speakable_text(text):
            raise EmptyTextError("text is empty or has no letters or digits; give at least one word")
        if instruct:
            raise InvalidRequestError(f"engine {ENGINE!r} does not take an instruct prompt; leave it out")
        if voice_prompt.get("voice_type", "cloned") != "cloned" or any(k not in voice_prompt for k in _PROMPT_KEYS):
            raise InvalidRequestError(
                f"engine {ENGINE!r} speaks only cloned voices: give a reference clip and its transcript"
            )
        lux = await self._loaded()
        audio = await asyncio.to_thread(self._speak, lux, text, voice_prompt, seed)
        return as_mono_float32(audio), SAMPLE_RATE

    def _speak(self, lux: Any, text: str, voice_prompt: dict[str, Any], seed: int | None) -> Any:
        target_tokens = len(lux.tokenizer.texts_to_token_ids([text])[0])
        if not target_tokens:
            raise InvalidRequestError(
                f"LuxTTS found nothing it can pronounce in {text!r}; it reads English and Chinese"
            )
        prompt_tokens = len(voice_prompt["prompt_tokens"][0])
        speed = cpu_speed(prompt_tokens, target_tokens) if lux.device == "cpu" else 1.0
        # generate_speech unpacks the dict's values in this order.
        encoded = {
            "prompt_tokens": voice_prompt["prompt_tokens"],
            "prompt_features_lens": voice_prompt["prompt_features_lens"].to(lux.device),
            "prompt_features": voice_prompt["prompt_features"].to(lux.device),
            "prompt_rms": voice_prompt["prompt_rms"],
        }
        with self._lock:  # seeding is process-wide and generate_speech sets vocoder state
            seed_everything(seed)
            try:
                wav = lux.generate_speech(text, encoded, speed=speed, **GENERATION_SETTINGS)
            except Exception as exc:
                raise GenerationError(f"LuxTTS failed: {type(exc).__name__}: {exc}") from exc
        if wav is None or getattr(wav, "numel", lambda: 0)() == 0:
            raise GenerationError("LuxTTS produced no audio")
        return wav


def cpu_speed(prompt_tokens: int, target_tokens: int) -> float:
    """The ``speed`` that makes LuxTTS's ONNX text encoder size the output like its torch path.

    ``generate_cpu`` multiplies ``speed`` by 1.3, and the exported text encoder divides the
    length of prompt AND target by it: ``F * (P + N) / (P * s)`` frames in all, where the torch
    model (CUDA/MPS) computes ``F + F * N / (P * s)``. With s = 1.3 the CPU output is too short,
    and empty (a crash in the vocoder) whenever the text has fewer than 0.3 x the prompt's
    tokens. Passing ``(P + N) / (1.3 * P + N)`` makes both agree.
    """
    return (prompt_tokens + target_tokens) / (_SPEED_FACTOR * prompt_tokens + target_tokens)
