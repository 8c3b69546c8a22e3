"""The Kokoro backend: one ``KModel``, one ``KPipeline`` per G2P language, voice packs on demand.

Upstream traps handled here (see docs/audits/kokoro.md; misaki's, the G2P's, in g2p.py):

- ``KModel`` and ``KPipeline`` download through ``hf_hub_download`` by themselves. The
  backend resolves every file with :func:`voicebox_core.runtime.ensure_model` first (local
  override, offline cache, byte progress) and hands kokoro local paths and tensors only.
- ``KPipeline.load_single_voice`` calls ``torch.load`` without ``map_location``, so a voice
  pack saved from CUDA breaks a CPU-only machine. Packs are loaded on the CPU (voices.py)
  and passed to the pipeline as tensors.
- kokoro is imported only in ``load_model``, inside :func:`~voicebox_engine_kokoro.g2p.misaki_scope`.
- Output is not clipped (a random model reaches |x| = 2): ``as_mono_float32`` clips.
- Text whose phonemes come out empty for the voice's language raises ``EmptyTextError``
  instead of returning silence.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from voicebox_core import (
    EmptyTextError,
    GenerationError,
    InvalidRequestError,
    ModelNotDownloadedError,
    UnknownModelError,
    UnknownVoiceError,
    UnsupportedLanguageError,
)
from voicebox_core.runtime import (
    DownloadProgress,
    as_mono_float32,
    choose_device,
    ensure_model,
    has_speakable_text,
    iterate_in_thread,
    seed_everything,
)
from voicebox_core.timing import TimedChunk

from voicebox_engine_kokoro.g2p import (
    installed_languages,
    misaki_scope,
    offline_spacy_for_misaki,
    words_of,
)
from voicebox_engine_kokoro.plugin import ENGINE, LANG_CODES, MODEL, REPO_ID, SAMPLE_RATE, VOICES
from voicebox_engine_kokoro.voices import find_voice_pack, load_voice_pack

if TYPE_CHECKING:
    import torch
    from kokoro import KModel, KPipeline

__all__ = ["KokoroBackend", "load_voice_pack"]

_EXTRAS = {"j": ("ja", "Japanese"), "z": ("zh", "Chinese")}
_VOICES = {voice.voice_id: voice for voice in VOICES}
#: Where a stream splits the text before KPipeline (which skips the empty pieces): after a
#: sentence's end, and at line breaks.
SENTENCE_END = r"(?<=[.!?…])\s+|(?<=[。！？])|\n+"


@dataclasses.dataclass
class _Loaded:
    model: KModel
    directory: Path
    device: str
    pipelines: dict[str, KPipeline] = dataclasses.field(default_factory=dict)
    packs: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    english_g2p: str | None = None


class KokoroBackend:
    """TTSBackend for Kokoro-82M. ``progress`` receives byte progress of downloads."""

    def __init__(self, progress: Callable[[DownloadProgress], None] | None = None) -> None:
        self.progress = progress
        self._loaded: _Loaded | None = None
        self._lock = threading.RLock()

    # -- lifecycle -------------------------------------------------------------------------

    async def load_model(self, model_size: str = "default") -> None:
        if model_size not in ("", "default", MODEL.model_size, MODEL.model_name):
            raise UnknownModelError(model_size, [MODEL.model_size])
        if self._loaded is None:
            await asyncio.to_thread(self._load_blocking)

    def _load_blocking(self) -> _Loaded:
        with self._lock:
            if self._loaded is not None:
                return self._loaded
            directory = ensure_model(MODEL, self.progress)
            config, weights = directory / "config.json", directory / "kokoro-v1_0.pth"
            if not (config.is_file() and weights.is_file()):
                raise ModelNotDownloadedError(
                    f"{str(directory)!r} lacks config.json or kokoro-v1_0.pth; "
                    "run `voicebox models download kokoro`"
                )
            device = choose_device(MODEL.devices)
            with misaki_scope():
                from kokoro import KModel

            try:
                model = KModel(repo_id=REPO_ID, config=str(config), model=str(weights))
            except Exception as exc:
                raise ModelNotDownloadedError(
                    f"Kokoro's weights in {str(directory)!r} could not be loaded "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                    "delete the model and download it again"
                ) from exc
            self._loaded = _Loaded(model.to(device).eval(), directory, device)
            return self._loaded

    def unload_model(self) -> None:
        with self._lock:
            self._loaded = None

    def is_loaded(self) -> bool:
        return self._loaded is not None

    def _get_model_path(self, model_size: str) -> str:
        return str(self._loaded.directory) if self._loaded is not None else REPO_ID

    # -- voices ----------------------------------------------------------------------------

    async def create_voice_prompt(
        self, audio_path: str, reference_text: str, use_cache: bool = True
    ) -> tuple[dict[str, Any], bool]:
        raise InvalidRequestError(
            "Kokoro has preset voices only and cannot clone a reference clip; pick one of its "
            "voices (GET /engines) or use a cloning engine"
        )

    async def combine_voice_prompts(
        self, audio_paths: list[str], ref_texts: list[str]
    ) -> tuple[np.ndarray, str]:
        raise InvalidRequestError("Kokoro has preset voices only; it cannot combine reference clips")

    def _pipeline(self, loaded: _Loaded, lang_code: str) -> KPipeline:
        if (pipeline := loaded.pipelines.get(lang_code)) is not None:
            return pipeline
        with misaki_scope():
            from kokoro import KPipeline

            try:
                if lang_code in "ab":
                    with offline_spacy_for_misaki() as source:
                        pipeline = KPipeline(lang_code, repo_id=REPO_ID, model=loaded.model)
                    loaded.english_g2p = source
                else:
                    pipeline = KPipeline(lang_code, repo_id=REPO_ID, model=loaded.model)
            except ImportError as exc:
                if lang_code not in _EXTRAS:
                    raise
                extra, name = _EXTRAS[lang_code]
                raise UnsupportedLanguageError(
                    extra,
                    f"this install of engine {ENGINE!r}: {name} G2P needs misaki[{extra}] "
                    f"({exc.name or exc}); run: pip install \"voicebox-engine-kokoro[{extra}]\"",
                    installed_languages(),
                ) from exc
        loaded.pipelines[lang_code] = pipeline
        return pipeline

    def _pack(self, loaded: _Loaded, voice_id: str) -> torch.Tensor:
        if (pack := loaded.packs.get(voice_id)) is None:
            path = find_voice_pack(loaded.directory, voice_id, self.progress)
            pack = loaded.packs[voice_id] = load_voice_pack(path)
        return pack

    # -- generation ------------------------------------------------------------------------

    async def generate(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> tuple[np.ndarray, int]:
        """The segments of :meth:`generate_stream`, joined."""
        async with contextlib.aclosing(self._results(text, voice_prompt, language, seed, instruct)) as results:
            audio = np.concatenate([as_mono_float32(result.audio) async for result in results])
        if audio.size == 0:
            raise GenerationError(f"Kokoro produced no samples for {text[:60]!r}")
        return audio, SAMPLE_RATE

    async def generate_stream(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> AsyncIterator[np.ndarray]:
        """Each segment as ``KPipeline`` yields it, the text split at sentence ends first (its
        default splits only at line breaks, so a paragraph would be one segment)."""
        async with contextlib.aclosing(self._results(text, voice_prompt, language, seed, instruct)) as results:
            async for result in results:
                yield as_mono_float32(result.audio)

    async def generate_timed(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> AsyncIterator[TimedChunk]:
        """:meth:`generate_stream`'s segments with their words' times: KPipeline's English G2P
        (misaki) times each token from the durations the model predicted (``start_ts``,
        ``end_ts``); the other languages' G2P has no tokens, so their segments have no words."""
        async with contextlib.aclosing(self._results(text, voice_prompt, language, seed, instruct)) as results:
            async for result in results:
                audio = as_mono_float32(result.audio)
                yield TimedChunk(audio, words_of(result.tokens, len(audio) / SAMPLE_RATE))

    async def _results(self, text: str, voice_prompt: dict[str, Any], language: str, seed: int | None,
                       instruct: str | None) -> AsyncIterator[Any]:
        """KPipeline's results with audio, one per thread hop; the pipeline is closed as soon as
        the listener stops."""
        voice_id = await self._checked(text, voice_prompt, language, instruct)

        def results() -> Iterator[Any]:
            loaded = self._loaded or self._load_blocking()
            pipeline = self._pipeline(loaded, LANG_CODES[voice_id[0]][1])
            pack = self._pack(loaded, voice_id)
            seed_everything(seed)
            segments = pipeline(text, voice=pack, split_pattern=SENTENCE_END)
            try:
                yield from (result for result in segments if result.audio is not None)
            finally:
                segments.close()

        made = 0
        async for result in iterate_in_thread(results, lock=self._lock, on_error=lambda exc: GenerationError(
                f"Kokoro failed on voice {voice_id!r} ({type(exc).__name__}: {exc})")):
            made += 1
            yield result
        if not made:
            raise EmptyTextError(f"Kokoro's {_VOICES[voice_id].language!r} G2P found nothing to pronounce in "
                                 f"{text[:60]!r}; write it in the voice's language or pick a voice that speaks it")

    async def _checked(self, text: str, voice_prompt: dict[str, Any], language: str, instruct: str | None) -> str:
        """The voice to speak with, after every check (and the model loaded)."""
        voice_id = voice_prompt.get("preset_voice_id") or voice_prompt.get("voice_id")
        if voice_id not in _VOICES:
            raise UnknownVoiceError(str(voice_id), ENGINE, _VOICES)
        spoken = _VOICES[voice_id].language
        if language and language != "auto" and language.split("-")[0].lower() != spoken:
            same = [v for v, p in _VOICES.items() if p.language == language.split("-")[0].lower()]
            raise UnsupportedLanguageError(
                language, f"Kokoro voice {voice_id!r} (it speaks {spoken!r}; voices for "
                f"{language!r}: {', '.join(same) or 'none'})", [spoken],
            )
        if not text.strip() or not has_speakable_text(text):
            raise EmptyTextError()
        if instruct:
            raise InvalidRequestError("Kokoro does not take an instruct prompt; leave it out")
        if self._loaded is None:
            await self.load_model()
        return str(voice_id)
