"""The Pocket TTS backend: pocket-tts 4.0.1 behind voicebox-core's TTSBackend and StreamingBackend.

Upstream traps (docs/audits/pocket_tts.md, 0.2):

- Importing and loading pocket-tts (its thread count, its own downloads, the gated cloning
  weights, ``VOICEBOX_POCKET_TTS_OPTIONS``): :mod:`voicebox_engine_pocket_tts.upstream`. The
  plugin decides which model clones (the ``*-clone`` models, nothing else).
- pocket-tts reads clips with the ``wave`` module (no float WAV): clips are read here and handed
  over as tensors; preset voices as the paths of their state files (names need its config dir).
- Same seed, same audio only with one decoded frame per call and the seed set in the thread that
  starts the generation. Closing a stream sets upstream's stop event, so generation ends within
  a frame. Upstream is not thread-safe: one generation at a time per backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from voicebox_core import (
    EmptyTextError,
    GenerationError,
    InvalidRequestError,
    ModelConfig,
    ModelNotDownloadedError,
    UnknownModelError,
    UnknownVoiceError,
    UnsupportedLanguageError,
)
from voicebox_core.runtime import (
    as_mono_float32,
    choose_device,
    empty_device_cache,
    ensure_model,
    has_speakable_text,
    iterate_in_thread,
    join_clips,
    join_transcripts,
    load_reference_audio,
    model_path,
    prompt_cache,
    seed_everything,
)

from voicebox_engine_pocket_tts.plugin import (
    ENGINE,
    GATED_REPO,
    LANGUAGES,
    MODELS,
    SAMPLE_RATE,
    VOICES,
)
from voicebox_engine_pocket_tts.upstream import (
    OPTIONS_ENV,
    build_model,
    check_install,
    gated_error,
    import_pocket_tts,
)

__all__ = ["OPTIONS_ENV", "PocketTTSBackend", "check_install", "import_pocket_tts"]

_VOICES = {voice.voice_id: voice for voice in VOICES}
_LANGUAGE_OF = {model.model_name: lang for lang in LANGUAGES for model in MODELS if model.languages == (lang.code,)}
#: Voice states kept per loaded model (a real one is ~20 MB for a 30 s clip).
_STATES_KEPT = 16
_MAX_CLIP_SECONDS = 30.0


def _config_of(model_size: str) -> ModelConfig:
    if model_size in ("", "default"):
        return MODELS[0]
    for model in MODELS:
        if model_size in (model.model_size, model.model_name):
            return model
    raise UnknownModelError(f"pocket_tts {model_size}", [m.model_size for m in MODELS])


@dataclasses.dataclass
class _Loaded:
    config: ModelConfig
    model: Any  # pocket_tts.TTSModel
    #: The open repository's config: tokenizer and preset voice states.
    voices_from: ModelConfig
    stem: str
    states: OrderedDict[tuple[str, str], Any] = dataclasses.field(default_factory=OrderedDict)

    @property
    def clones(self) -> bool:
        return self.config.hf_repo_id == GATED_REPO


def _frames(model: Any, state: Any, text: str, seed: int | None, stop: threading.Event) -> Iterator[np.ndarray]:
    """One ``generate_audio_stream``: the seed, then the generation thread it starts, in the
    thread of the first step; upstream's own thread ends at its next frame once ``stop`` is set."""
    seed_everything(seed)
    chunks = model.generate_audio_stream(state, text, stop=stop)
    try:
        for chunk in chunks:
            yield as_mono_float32(chunk)
    finally:
        chunks.close()


def _failed(exc: Exception) -> GenerationError:
    return GenerationError(f"Pocket TTS failed while generating ({type(exc).__name__}: {exc})")


class PocketTTSBackend:
    """TTSBackend (and StreamingBackend) for Pocket TTS: one model in memory at a time."""

    def __init__(self) -> None:
        self._loaded: _Loaded | None = None
        # Held by a coroutine from start to end of a load, an encoding or a whole generation,
        # and taken without blocking a thread: an engine's work may share one worker thread.
        self._lock = threading.Lock()

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        while not self._lock.acquire(blocking=False):
            await asyncio.sleep(0.005)
        try:
            yield
        finally:
            self._lock.release()

    # -- model lifecycle -----------------------------------------------------------------

    async def load_model(self, model_size: str = "default") -> None:
        config = _config_of(model_size)
        if self._loaded is None or self._loaded.config is not config:
            async with self._turn():
                await asyncio.to_thread(self._load_blocking, config)

    def _load_blocking(self, config: ModelConfig) -> _Loaded:
        if self._loaded is not None and self._loaded.config is config:
            return self._loaded
        try:
            folder = ensure_model(config)
        except ModelNotDownloadedError as exc:
            from huggingface_hub.errors import RepositoryNotFoundError  # GatedRepoError is one

            if config.requires and isinstance(exc.__cause__, RepositoryNotFoundError):
                raise gated_error(config, exc.__cause__) from None
            raise
        voices_from = config.requires[0] if config.requires else config
        lang = _LANGUAGE_OF[config.model_name]
        tokenizer = ensure_model(voices_from) / f"languages/{lang.stem}/tokenizer.json"
        pocket_tts = import_pocket_tts()
        self._loaded = None  # another model replaces this one: never two in memory
        model = build_model(pocket_tts, lang.stem, folder / f"languages/{lang.stem}/model.safetensors", tokenizer)
        model.max_decoder_frames_per_call = 1  # bit-identical audio for one seed
        model.to(choose_device(config.devices))
        self._loaded = _Loaded(config, model, voices_from, lang.stem)
        return self._loaded

    def unload_model(self) -> None:
        self._loaded = None  # a stream in flight keeps its own reference until it ends
        empty_device_cache()

    def is_loaded(self) -> bool:
        return self._loaded is not None

    def _get_model_path(self, model_size: str) -> str:
        return model_path(_config_of(model_size))

    # -- voices --------------------------------------------------------------------------

    async def create_voice_prompt(self, audio_path: str, reference_text: str,
                                  use_cache: bool = True) -> tuple[dict[str, Any], bool]:
        """The clip itself (24 kHz mono float32): it is encoded for whichever cloning model speaks
        with it, once per model. Pocket TTS clones without a transcript."""
        key = prompt_cache.key(ENGINE, audio_path, "")
        if use_cache and (cached := prompt_cache.get(key)) is not None:
            return cached, True
        audio, _ = await asyncio.to_thread(load_reference_audio, audio_path, sample_rate=SAMPLE_RATE)
        prompt = {"voice_type": "cloned", "engine": ENGINE, "audio": audio}
        if use_cache:
            prompt_cache.put(key, prompt)
        if self._loaded is not None and self._loaded.clones:  # encode now rather than at the first generation
            async with self._turn():
                if (loaded := self._loaded) is not None and loaded.clones:
                    await asyncio.to_thread(self._state, loaded, prompt)
        return prompt, False

    async def combine_voice_prompts(self, audio_paths: list[str], ref_texts: list[str]) -> tuple[np.ndarray, str]:
        audio = join_clips(audio_paths, SAMPLE_RATE)
        return audio[: int(_MAX_CLIP_SECONDS * SAMPLE_RATE)], join_transcripts(ref_texts)

    def _state(self, loaded: _Loaded, voice_prompt: dict[str, Any]) -> Any:
        """The model state of a voice for the loaded model (memoised: states are per weights)."""
        if voice_prompt.get("voice_type") == "cloned":
            audio = np.ascontiguousarray(voice_prompt["audio"], dtype=np.float32)
            key = ("cloned", hashlib.md5(audio.tobytes()).hexdigest())
        else:
            key = ("preset", str(voice_prompt.get("preset_voice_id") or voice_prompt.get("voice_id")))
        if (state := loaded.states.get(key)) is not None:
            loaded.states.move_to_end(key)
            return state
        if key[0] == "cloned":
            import torch

            state = loaded.model.get_state_for_audio_prompt(torch.from_numpy(audio)[None])
        else:
            state = loaded.model.get_state_for_audio_prompt(self._voice_file(loaded, key[1]))
        loaded.states[key] = state
        while len(loaded.states) > _STATES_KEPT:
            loaded.states.popitem(last=False)
        return state

    def _voice_file(self, loaded: _Loaded, voice_id: str) -> Path:
        """A preset voice's state file from the open repository, fetched on its first use."""
        name = f"languages/{loaded.stem}/embeddings/{voice_id}.safetensors"
        try:
            folder = ensure_model(dataclasses.replace(loaded.voices_from, files=(name,)))
        except ModelNotDownloadedError as exc:
            raise ModelNotDownloadedError(
                f"voice {voice_id!r} ({name}) is fetched on its first use and could not be: {exc}") from exc
        if not (folder / name).is_file():
            raise ModelNotDownloadedError(f"voice {voice_id!r}: {str(folder)!r} has no {name}; add it there or "
                                          "unset the local model override to download it")
        return folder / name

    # -- generation ----------------------------------------------------------------------

    async def generate(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                       seed: int | None = None, instruct: str | None = None) -> tuple[np.ndarray, int]:
        """The stream joined: what :meth:`generate_stream` yields, sample for sample."""
        chunks = [chunk async for chunk in self.generate_stream(text, voice_prompt, language, seed, instruct)]
        if not chunks:
            raise GenerationError("Pocket TTS produced no audio for this text")
        return np.concatenate(chunks), SAMPLE_RATE

    async def generate_stream(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                              seed: int | None = None, instruct: str | None = None) -> AsyncIterator[np.ndarray]:
        """Each 80 ms frame as Pocket TTS decodes it; closing the iterator stops the generation."""
        if not text.strip() or not has_speakable_text(text):
            raise EmptyTextError()
        if instruct:
            raise InvalidRequestError("Pocket TTS does not take an instruct prompt; leave it out")
        async with self._turn():
            loaded = self._loaded
            if loaded is None:
                loaded = await asyncio.to_thread(self._load_blocking, MODELS[0])
            self._check(loaded, voice_prompt, language)
            state = await asyncio.to_thread(self._state, loaded, voice_prompt)
            stop = threading.Event()
            async for chunk in iterate_in_thread(lambda: _frames(loaded.model, state, text, seed, stop),
                                                 stop=stop, on_error=_failed):
                yield chunk

    def _check(self, loaded: _Loaded, voice_prompt: dict[str, Any], language: str) -> None:
        kind = voice_prompt.get("voice_type") if isinstance(voice_prompt, dict) else None
        preset = _VOICES.get(str(voice_prompt.get("preset_voice_id") or voice_prompt.get("voice_id"))) \
            if kind == "preset" else None
        if kind == "preset" and preset is None:
            raise UnknownVoiceError(str(voice_prompt.get("preset_voice_id")), ENGINE, _VOICES)
        if kind == "cloned" and not loaded.clones:
            clone = next(m for m in MODELS if m.requires and m.languages == loaded.config.languages)
            raise InvalidRequestError(
                f"model {loaded.config.model_name!r} has no voice cloning; use {clone.model_name!r} (gated: "
                f"accept the licence at https://huggingface.co/{GATED_REPO} and log in), or a preset voice")
        if kind not in ("preset", "cloned") or (kind == "cloned" and "audio" not in voice_prompt):
            raise InvalidRequestError("Pocket TTS speaks with a preset voice or a cloned one (a reference clip)")
        # With no language asked for, the core passes a preset voice's own; the model speaks its own.
        if language not in loaded.config.languages and not (preset and language == preset.language):
            raise UnsupportedLanguageError(language, f"model {loaded.config.model_name!r}", loaded.config.languages)
