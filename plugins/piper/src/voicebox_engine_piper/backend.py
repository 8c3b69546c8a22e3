"""The Piper backend: one loaded voice at a time, synthesised with piper-tts 1.8.0.

A voice's files are found (or downloaded) and opened by :mod:`voicebox_engine_piper.voices`.
Word timestamps come from the phoneme durations piper's graph predicts once
:mod:`voicebox_engine_piper.alignment` has added its alignment output (without ``onnx`` the
engine still speaks and says it has no timestamps).

Determinism: Piper's VITS graph draws noise with onnxruntime's ``RandomNormalLike``, seeded
once when the session is built. ``onnxruntime.set_seed`` affects only sessions built after
it, so a seeded request gets a fresh session (about 0.3-1 s on a laptop CPU); unseeded
requests reuse the loaded one and vary slightly from take to take.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from voicebox_core import (
    ContractError,
    EmptyTextError,
    EngineInstallError,
    GenerationError,
    InvalidRequestError,
    ModelNotDownloadedError,
    UnknownModelError,
    UnknownVoiceError,
    UnsupportedLanguageError,
)
from voicebox_core.runtime import (
    DownloadProgress,
    ModelSlot,
    as_mono_float32,
    has_speakable_text,
    iterate_in_thread,
    local_override,
    model_path,
    upstream_import_error,
)
from voicebox_core.timing import TimedChunk

from voicebox_engine_piper.alignment import aligned_copy, word_phonemes
from voicebox_engine_piper.plugin import DEFAULT_VOICE, ENGINE, MODELS, VOICES, PiperVoiceSpec
from voicebox_engine_piper.voices import bundled_files, open_voice, voice_files

if TYPE_CHECKING:
    from collections.abc import Callable

    from piper import PiperVoice

__all__ = ["PiperBackend"]

_SPECS = {spec.voice_id: spec for spec in VOICES}
_CONFIGS = {config.model_size: config for config in MODELS}


def _spec(model_size: str) -> PiperVoiceSpec:
    voice_id = DEFAULT_VOICE if model_size in ("", "default") else model_size
    if voice_id not in _SPECS:
        raise UnknownModelError(voice_id, _SPECS)
    return _SPECS[voice_id]


@dataclasses.dataclass(frozen=True)
class _Loaded:
    spec: PiperVoiceSpec
    voice: PiperVoice
    model_path: Path
    config_path: Path
    #: What onnxruntime runs: the voice with its alignment output (or the voice itself).
    graph: Path


def _open(spec: PiperVoiceSpec, model_file: Path, config_file: Path, graph: Path) -> _Loaded:
    voice = open_voice(graph, config_file)
    declared = _CONFIGS[spec.voice_id].sample_rate
    if voice.config.sample_rate != declared:
        raise ContractError(
            f"voice {spec.voice_id!r} at {str(model_file)!r} is "
            f"{voice.config.sample_rate} Hz, but the engine declares {declared} Hz"
        )
    return _Loaded(spec, voice, model_file, config_file, graph)


def _check_espeak_data() -> None:
    """piper reads espeak-ng's data beside its package; without it espeak prints a C-level
    error and gives up. Say which install is broken instead."""
    from piper import phonemize_espeak

    data = Path(phonemize_espeak.ESPEAK_DATA_DIR)
    if not (data / "phontab").is_file():
        raise EngineInstallError(
            f"piper's espeak-ng data is missing ({str(data)!r}); reinstall piper-tts "
            "(pip install --force-reinstall piper-tts). In a frozen app the build left out "
            "the data that voicebox-engine-piper's PyInstaller hook collects: rebuild it"
        )


def check_install() -> None:
    """The deep doctor's check: piper imports and finds its espeak-ng data."""
    try:
        from piper import PiperVoice  # noqa: F401
    except (ImportError, OSError) as exc:
        raise upstream_import_error(exc, "piper-tts", "pip install piper-tts==1.8.0") from exc
    _check_espeak_data()


class PiperBackend:
    """TTSBackend for Piper. ``progress`` receives byte progress of voice downloads."""

    def __init__(self, progress: Callable[[DownloadProgress], None] | None = None) -> None:
        self.progress = progress
        self._slot: ModelSlot[_Loaded] = ModelSlot()

    @property
    def _loaded(self) -> _Loaded | None:
        return self._slot.model

    # -- lifecycle -----------------------------------------------------------------------

    async def load_model(self, model_size: str = "default") -> None:
        await self._ensure(_spec(model_size))

    async def _ensure(self, spec: PiperVoiceSpec) -> _Loaded:
        # Files first (a download, the aligned copy): a voice that is missing leaves the
        # loaded one in place.
        return await self._slot.ensure(_CONFIGS[spec.voice_id], lambda files: _open(spec, *files),
                                       prepare=lambda: self._files(spec))

    def _files(self, spec: PiperVoiceSpec) -> tuple[Path, Path, Path]:
        _check_espeak_data()
        model_file, config_file = voice_files(spec, _CONFIGS[spec.voice_id], self.progress)
        return model_file, config_file, aligned_copy(model_file)

    def unload_model(self) -> None:
        self._slot.unload()

    def is_loaded(self) -> bool:
        return self._slot.is_loaded()

    def _get_model_path(self, model_size: str) -> str:
        spec = _spec(model_size)
        config = _CONFIGS[spec.voice_id]
        if spec.bundled and local_override(config) is None:
            try:
                return str(bundled_files(spec)[0].parent)
            except ModelNotDownloadedError:
                return f"package:{spec.distribution} (not installed)"
        return model_path(config)

    # -- voices --------------------------------------------------------------------------

    async def create_voice_prompt(
        self, audio_path: str, reference_text: str, use_cache: bool = True
    ) -> tuple[dict[str, Any], bool]:
        raise InvalidRequestError(
            f"engine {ENGINE!r} cannot clone a voice from audio; pick one of its preset voices: "
            + ", ".join(_SPECS)
        )

    async def combine_voice_prompts(
        self, audio_paths: list[str], ref_texts: list[str]
    ) -> tuple[np.ndarray, str]:
        raise InvalidRequestError(f"engine {ENGINE!r} has preset voices only; it takes no reference clips")

    # -- generation ----------------------------------------------------------------------

    async def generate(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> tuple[np.ndarray, int]:
        loaded = await self._prepared(text, voice_prompt, language, instruct)
        audio = await asyncio.to_thread(_synthesize, loaded, text, seed)
        return as_mono_float32(audio), loaded.voice.config.sample_rate

    async def generate_stream(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> AsyncIterator[np.ndarray]:
        """Each sentence as piper's own generator (``PiperVoice.synthesize``) makes it, one
        sentence per thread hop, so the first leaves before the rest is synthesised."""
        loaded = await self._prepared(text, voice_prompt, language, instruct)
        async with contextlib.aclosing(_sentences(loaded, text, seed)) as sentences:
            async for chunk in sentences:
                yield as_mono_float32(chunk.audio_float_array)

    async def generate_timed(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> AsyncIterator[TimedChunk]:
        """Each sentence as piper makes it, with its words' times from the phoneme durations
        the model predicted (None for a sentence piper could not align)."""
        loaded = await self._prepared(text, voice_prompt, language, instruct)
        owners = await asyncio.to_thread(word_phonemes, loaded.voice, text)
        async with contextlib.aclosing(_sentences(loaded, text, seed)) as sentences:
            index = 0
            async for chunk in sentences:
                yield TimedChunk(as_mono_float32(chunk.audio_float_array), owners.words_of(chunk, index))
                index += 1

    async def _prepared(self, text: str, voice_prompt: dict[str, Any], language: str,
                        instruct: str | None) -> _Loaded:
        if not text or not has_speakable_text(text):
            raise EmptyTextError("text is empty or has no letters or digits; give at least one word")
        if instruct:
            raise InvalidRequestError(f"engine {ENGINE!r} does not take an instruct prompt; leave it out")
        spec = _voice_of(voice_prompt)
        if language and language != "auto" and language.split("-")[0].lower() != spec.language:
            raise UnsupportedLanguageError(
                language, f"voice {spec.voice_id!r} (it speaks {spec.language!r})", [spec.language]
            )
        return await self._ensure(spec)


async def _sentences(loaded: _Loaded, text: str, seed: int | None) -> AsyncIterator[Any]:
    """piper's AudioChunks (a sentence each, with its alignment where the graph has one), one per
    thread hop; a seeded request gets a session of its own (see the module's docstring)."""

    def start() -> Iterator[Any]:
        voice = loaded.voice if seed is None else open_voice(loaded.graph, loaded.config_path, seed)
        return voice.synthesize(text, include_alignments=True)

    made = 0
    async for chunk in iterate_in_thread(start, on_error=lambda exc: GenerationError(
            f"Piper failed on voice {loaded.spec.voice_id!r}: {type(exc).__name__}: {exc}")):
        made += 1
        yield chunk
    if not made:
        raise EmptyTextError(f"voice {loaded.spec.voice_id!r} found nothing to pronounce in the text")


def _voice_of(voice_prompt: dict[str, Any]) -> PiperVoiceSpec:
    kind = voice_prompt.get("voice_type", "preset")
    if kind != "preset" or voice_prompt.get("preset_engine", ENGINE) != ENGINE:
        raise InvalidRequestError(
            f"engine {ENGINE!r} speaks only its own preset voices, not a {kind!r} voice"
            + (f" of engine {voice_prompt.get('preset_engine')!r}" if kind == "preset" else "")
        )
    voice_id = voice_prompt.get("preset_voice_id") or DEFAULT_VOICE
    if voice_id not in _SPECS:
        raise UnknownVoiceError(str(voice_id), ENGINE, _SPECS)
    return _SPECS[voice_id]


def _synthesize(loaded: _Loaded, text: str, seed: int | None) -> np.ndarray:
    voice = loaded.voice
    if seed is not None:
        voice = open_voice(loaded.graph, loaded.config_path, seed)
    try:
        pieces = [chunk.audio_float_array for chunk in voice.synthesize(text)]
    except Exception as exc:  # espeak or onnxruntime failed: the same to a user
        raise GenerationError(
            f"Piper failed on voice {loaded.spec.voice_id!r}: {type(exc).__name__}: {exc}"
        ) from exc
    if not pieces:
        raise EmptyTextError(f"voice {loaded.spec.voice_id!r} found nothing to pronounce in the text")
    return np.concatenate(pieces)
