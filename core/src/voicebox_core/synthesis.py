"""One generation through the registry: validate, load, build the voice prompt, chunk, speak.

The CLI and the server both call :class:`Synthesizer`; no engine is named here. All input
checks happen before any model work, so bad input raises a typed error and costs nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicebox_core.backend import StreamingBackend, TimedBackend
from voicebox_core.config import EngineInfo, ModelConfig
from voicebox_core.errors import (
    ContractError,
    EmptyTextError,
    GenerationCancelledError,
    GenerationError,
    InvalidRequestError,
    UnknownVoiceError,
    UnsupportedLanguageError,
)
from voicebox_core.registry import Registry
from voicebox_core.runtime.audio import (
    as_mono_float32,
    crossfade_concat,
    load_reference_audio,
    normalize_audio,
    save_audio,
    trim_tts_output,
)
from voicebox_core.runtime.device import empty_device_cache
from voicebox_core.runtime.paths import data_dir
from voicebox_core.timing import WordTime, shift_words
from voicebox_core.runtime.text import (
    has_speakable_text,
    script_turns,
    split_for_streaming,
    split_script,
    split_text_into_chunks,
)

__all__ = ["Synthesis", "SynthesisRequest", "Synthesizer", "Voice", "max_text_chars"]


#: Chunk size of streamed synthesis: about one sentence.
STREAM_CHUNK_CHARS = 160


def max_text_chars() -> int:
    return int(os.environ.get("VOICEBOX_MAX_TEXT_CHARS", "100000"))


@dataclass(frozen=True)
class Voice:
    """Which voice to speak with: a preset id, reference clips to clone, or a description."""

    kind: str
    preset_id: str | None = None
    samples: tuple[tuple[str, str], ...] = ()
    design_prompt: str | None = None

    @classmethod
    def preset(cls, voice_id: str) -> Voice:
        return cls("preset", preset_id=voice_id)

    @classmethod
    def clone(cls, samples: Sequence[tuple[str, str]]) -> Voice:
        return cls("cloned", samples=tuple((str(p), t) for p, t in samples))

    @classmethod
    def design(cls, prompt: str) -> Voice:
        return cls("designed", design_prompt=prompt)


@dataclass(frozen=True)
class SynthesisRequest:
    text: str
    model: str
    voice: Voice | None = None
    language: str | None = None
    seed: int | None = None
    instruct: str | None = None
    #: Longest chunk of text per ``generate`` call; capped by the engine's own limit.
    max_chunk_chars: int | None = None
    #: Crossfade between chunks of the whole utterance (0 joins them with a hard cut).
    crossfade_ms: int = 50
    #: Loudness-normalise the result (every route and stream does it the same way).
    normalize: bool = True
    #: A dialogue: the voices of ``Speaker 2:``, ``Speaker 3:``... turns of the text
    #: (``voice`` is ``Speaker 1``). Only engines whose ``capabilities.max_speakers`` allows.
    speakers: tuple[Voice, ...] = ()


@dataclass
class Synthesis:
    audio: np.ndarray
    sample_rate: int
    model: ModelConfig
    language: str
    chunks: int
    timings: dict[str, float] = field(default_factory=dict)
    #: When each word is spoken (seconds from the start of ``audio``), from the engine's own
    #: alignment; None when it was not asked for or the engine has none.
    words: tuple[WordTime, ...] | None = None

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class _Plan:
    engine: EngineInfo
    model: ModelConfig
    voice: Voice
    language: str
    chunks: tuple[str, ...]
    seed: int | None
    instruct: str | None
    request: SynthesisRequest
    #: The other speakers' voices of a dialogue (empty: one voice).
    speakers: tuple[Voice, ...] = ()


class Synthesizer:
    """Validates requests and drives backends; keeps at most ``max_loaded`` models in memory."""

    def __init__(self, registry: Registry, max_loaded: int | None = None) -> None:
        self.registry = registry
        self.max_loaded = max_loaded or int(os.environ.get("VOICEBOX_MAX_LOADED_MODELS", "2"))
        self._loaded: OrderedDict[str, str] = OrderedDict()  # engine -> model_name, LRU order
        self._load_locks: dict[str, asyncio.Lock] = {}

    # -- validation ----------------------------------------------------------------------

    def plan(self, request: SynthesisRequest, chunk_chars: int | None = None) -> _Plan:
        """Check everything about ``request`` and split its text, before any model work.

        ``chunk_chars`` caps chunks below the engine's own limit (streaming wants the first
        sentence alone, so the first audio leaves sooner).
        """
        model = self._model(request)
        engine = self.registry.engine(model.engine)
        text = request.text.strip()
        if not text or not has_speakable_text(text):
            raise EmptyTextError(
                "text is empty or has no letters or digits; give at least one word to speak"
            )
        if len(text) > max_text_chars():
            raise InvalidRequestError(
                f"text is {len(text)} characters; the limit is {max_text_chars()} "
                "(VOICEBOX_MAX_TEXT_CHARS)"
            )
        if request.seed is not None and not 0 <= request.seed < 2**32:
            raise InvalidRequestError(f"seed {request.seed} is out of range; use 0 to {2**32 - 1}")
        voice = self._voice(engine, model, request.voice)
        language = self._language(engine, model, voice, request.language)
        if request.instruct and not model.supports_instruct:
            raise InvalidRequestError(
                f"model {model.model_name!r} does not take an instruct prompt; leave it out"
            )
        limit = min(engine.capabilities.max_chunk_chars, request.max_chunk_chars or 10**9)
        if request.crossfade_ms < 0:
            raise InvalidRequestError(f"crossfade_ms {request.crossfade_ms} is negative; use 0 or more")
        speakers = self._speakers(engine, model, request, text)
        if speakers:  # a dialogue: whole turns per chunk, each with its label
            chunks = split_script(text, min(limit, chunk_chars) if chunk_chars else limit)
        elif chunk_chars:  # streaming: the first sentence alone, then about a sentence each
            chunks = split_for_streaming(text, min(limit, chunk_chars))
        else:  # the engine's measured best size, when it declares one
            chunks = split_text_into_chunks(text, min(limit, engine.capabilities.chunk_chars or limit))
        return _Plan(engine, model, voice, language, tuple(chunks), request.seed, request.instruct,
                     request, speakers)

    def _speakers(self, engine: EngineInfo, model: ModelConfig, request: SynthesisRequest,
                  text: str) -> tuple[Voice, ...]:
        """The other voices of a dialogue, checked: the engine takes that many, and the script
        names no speaker without a voice."""
        if not request.speakers:
            return ()
        voices = 1 + len(request.speakers)
        if voices > engine.capabilities.max_speakers:
            raise InvalidRequestError(
                f"engine {engine.name!r} speaks with {engine.capabilities.max_speakers} voice(s) at a "
                f"time; this dialogue has {voices}")
        named = {speaker for speaker, _ in script_turns(text)}
        if missing := sorted(n for n in named if not 1 <= n <= voices):
            raise InvalidRequestError(
                f"the script has turns for Speaker {', '.join(map(str, missing))}, but {voices} voice(s) "
                f"were given (Speaker 1 to {voices})")
        return tuple(self._voice(engine, model, v) for v in request.speakers)

    def _model(self, request: SynthesisRequest) -> ModelConfig:
        """The model asked for; an engine name means its default model, unless the preset
        voice asked for belongs to other models of that engine (one model per voice)."""
        model = self.registry.model(request.model)
        voice = request.voice
        named_engine = request.model == model.engine and request.model not in {
            m.model_name for m in self.registry.models}
        if named_engine and voice is not None and voice.kind == "preset" and voice.preset_id:
            preset = self.registry.engine(model.engine).preset(voice.preset_id)
            if preset is not None and preset.models and model.model_name not in preset.models:
                return self.registry.model(preset.models[0])
        return model

    def _voice(self, engine: EngineInfo, model: ModelConfig, voice: Voice | None) -> Voice:
        if voice is None:
            if engine.default_voice is None:
                raise InvalidRequestError(
                    f"engine {engine.name!r} has no default voice; give a reference clip "
                    "(cloned voice) or a voice description"
                )
            voice = Voice.preset(engine.default_voice)
        if voice.kind not in engine.voice_kinds:
            raise InvalidRequestError(
                f"engine {engine.name!r} takes voices of kind {', '.join(engine.voice_kinds)}, "
                f"not {voice.kind!r}"
            )
        if voice.kind == "preset":
            usable = [v.voice_id for v in engine.preset_voices
                      if not v.models or model.model_name in v.models]
            if voice.preset_id not in usable:
                raise UnknownVoiceError(str(voice.preset_id), engine.name, usable)
        elif voice.kind == "cloned":
            if not voice.samples:
                raise InvalidRequestError("a cloned voice needs at least one reference clip")
            low, high = engine.reference_seconds
            for path, _text in voice.samples:
                load_reference_audio(path, min_seconds=low, max_seconds=high)
        elif not (voice.design_prompt or "").strip():
            raise InvalidRequestError("a designed voice needs a non-empty description")
        return voice

    def _language(self, engine: EngineInfo, model: ModelConfig, voice: Voice, language: str | None) -> str:
        preset = engine.preset(voice.preset_id) if voice.kind == "preset" and voice.preset_id else None
        if language is None:
            if preset is not None:
                return preset.language
            return "en" if "en" in model.languages else model.languages[0]
        if language not in model.languages:
            raise UnsupportedLanguageError(language, f"model {model.model_name!r}", model.languages)
        if preset is not None and language != "auto" and not preset.speaks(language):
            same = [v.voice_id for v in engine.preset_voices if v.speaks(language)]
            spoken = ", ".join((preset.language, *preset.languages))
            raise UnsupportedLanguageError(
                language, f"voice {preset.voice_id!r} (it speaks {spoken}; "
                f"voices for {language!r}: {', '.join(same) or 'none'})",
                (preset.language, *preset.languages),
            )
        return language

    # -- model lifecycle -----------------------------------------------------------------

    def loaded_models(self) -> list[str]:
        return list(self._loaded.values())

    async def load(self, model_name: str) -> ModelConfig:
        """Load a model (once, even when asked concurrently), evicting the least recently used."""
        model = self.registry.model(model_name)
        lock = self._load_locks.setdefault(model.engine, asyncio.Lock())
        async with lock:
            backend = self.registry.backend(model.engine)
            if self._loaded.get(model.engine) == model.model_name and backend.is_loaded():
                self._loaded.move_to_end(model.engine)
                return model
            # A remote backend (a Ray deployment) holds no memory here: it neither counts
            # towards max_loaded nor is evicted.
            local = [e for e in self._loaded if not getattr(self.registry.backend(e), "remote", False)]
            while (not getattr(backend, "remote", False) and len(local) >= self.max_loaded
                   and model.engine not in self._loaded):
                victim = local.pop(0)
                del self._loaded[victim]
                self.registry.backend(victim).unload_model()
                empty_device_cache()
            await backend.load_model(model.model_size)
            self._loaded[model.engine] = model.model_name
            self._loaded.move_to_end(model.engine)
        return model

    def unload(self, model_name: str) -> bool:
        model = self.registry.model(model_name)
        if self._loaded.get(model.engine) != model.model_name:
            return False
        self.registry.backend(model.engine).unload_model()
        del self._loaded[model.engine]
        empty_device_cache()
        return True

    # -- generation ----------------------------------------------------------------------

    async def voice_prompt(self, plan: _Plan) -> dict[str, Any]:
        """The engine's prompt for the plan's voice; for a dialogue, every speaker's in order."""
        if plan.speakers:
            prompts = [await self._prompt_of(plan, voice) for voice in (plan.voice, *plan.speakers)]
            return {"voice_type": "dialogue", "speakers": prompts}
        return await self._prompt_of(plan, plan.voice)

    async def _prompt_of(self, plan: _Plan, voice: Voice) -> dict[str, Any]:
        backend = self.registry.backend(plan.engine.name)
        if voice.kind == "preset":
            return {"voice_type": "preset", "preset_engine": plan.engine.name,
                    "preset_voice_id": voice.preset_id}
        if voice.kind == "designed":
            return {"voice_type": "designed", "design_prompt": voice.design_prompt}
        paths = [p for p, _ in voice.samples]
        texts = [t for _, t in voice.samples]
        if len(paths) == 1:
            prompt, _cached = await backend.create_voice_prompt(paths[0], texts[0], True)
            return prompt
        audio, text = await backend.combine_voice_prompts(paths, texts)
        digest = hashlib.md5(b"".join(Path(p).read_bytes() for p in paths)).hexdigest()
        combined = data_dir() / "cache" / f"combined_{plan.engine.name}_{digest}.wav"
        if not combined.is_file():
            save_audio(combined, as_mono_float32(audio), plan.model.sample_rate)
        prompt, _cached = await backend.create_voice_prompt(str(combined), text, True)
        return prompt

    async def stream(self, request: SynthesisRequest,
                     stop: Callable[[], bool] | None = None) -> AsyncIterator[tuple[np.ndarray, int]]:
        """Yield audio as soon as there is some. An engine that streams
        (``Capabilities(streaming=True)``) is streamed as its model decodes: each of its chunks
        leaves when it yields it, as it made it (loudness normalising needs a whole sentence).
        Any other engine is called once per text chunk of about a sentence (the engine's
        ``Capabilities.chunk_chars``, else ``STREAM_CHUNK_CHARS``; the first one alone) and
        each chunk is normalised like the whole utterance of :meth:`synthesize` when
        ``request.normalize``."""
        plan = self.plan(request)
        if self.streams(plan.engine.name):
            async for frame in self._frames(plan, stop):
                yield frame, plan.model.sample_rate
            return
        plan = self.plan(request, chunk_chars=plan.engine.capabilities.chunk_chars or STREAM_CHUNK_CHARS)
        async for audio, rate in self._run(plan, stop):
            yield (normalize_audio(audio) if request.normalize else audio), rate

    def streams(self, engine: str) -> bool:
        """Whether ``engine`` yields audio as its model makes it (and its backend can)."""
        info = self.registry.engine(engine)
        return info.capabilities.streaming and isinstance(self.registry.backend(engine), StreamingBackend)

    def timed(self, engine: str) -> bool:
        """Whether ``engine`` says when each word is spoken (and its backend can)."""
        info = self.registry.engine(engine)
        return info.capabilities.word_timestamps and isinstance(self.registry.backend(engine), TimedBackend)

    async def stream_timed(self, request: SynthesisRequest, stop: Callable[[], bool] | None = None
                           ) -> AsyncIterator[tuple[np.ndarray, int, tuple[WordTime, ...] | None]]:
        """:meth:`stream` with the words each chunk speaks, their times in seconds from the
        start of the utterance. An engine without alignments (or a chunk without one) gives
        None: no timestamps rather than guessed ones."""
        plan = self.plan(request)
        if not self.timed(plan.engine.name):
            async for audio, rate in self.stream(request, stop):
                yield audio, rate, None
            return
        streams = self.streams(plan.engine.name)
        if not streams:  # a sentence at a time, each normalised, as stream() does
            plan = self.plan(request, chunk_chars=STREAM_CHUNK_CHARS)
        rate, at = plan.model.sample_rate, 0
        async for audio, words in self._frames(plan, stop, timed=True):
            if not streams and request.normalize:
                audio = normalize_audio(audio)
            yield audio, rate, None if words is None else shift_words(words, at / rate)
            at += len(audio)

    async def _frames(self, plan: _Plan, stop: Callable[[], bool] | None = None,
                      timed: bool = False) -> AsyncIterator[Any]:
        """The engine's own chunks, text chunk after text chunk; the upstream generator is
        closed as soon as the listener stops (``stop``, or this generator closed). ``timed``:
        ``generate_timed``'s chunks, as (audio, words from the start of that audio)."""
        await self.load(plan.model.model_name)
        prompt = await self.voice_prompt(plan)
        for index in range(len(plan.chunks)):
            async for item in self._chunk_frames(plan, index, prompt, stop, timed):
                yield item

    async def _chunk_frames(self, plan: _Plan, index: int, prompt: dict[str, Any],
                            stop: Callable[[], bool] | None, timed: bool) -> AsyncIterator[Any]:
        backend = self.registry.backend(plan.engine.name)
        seed = None if plan.seed is None else (plan.seed + index) % 2**32
        method = backend.generate_timed if timed else backend.generate_stream  # type: ignore[attr-defined]
        frames = method(plan.chunks[index], prompt, plan.language, seed, plan.instruct)
        produced = 0
        try:
            async for item in frames:
                if stop is not None and stop():
                    raise GenerationCancelledError("generation cancelled")
                audio = as_mono_float32(item.audio if timed else item)
                if len(audio):
                    produced += len(audio)
                    yield (audio, _checked_words(plan, item.words, len(audio))) if timed else audio
        finally:
            closing = getattr(frames, "aclose", None)
            if closing is not None:
                await closing()
        if not produced:
            raise GenerationError(f"engine {plan.engine.name!r} streamed no audio for chunk {index + 1}")

    async def _run(self, plan: _Plan,
                   stop: Callable[[], bool] | None = None) -> AsyncIterator[tuple[np.ndarray, int]]:
        await self.load(plan.model.model_name)
        prompt = await self.voice_prompt(plan)
        backend = self.registry.backend(plan.engine.name)
        for index, chunk in enumerate(plan.chunks):
            if stop is not None and stop():
                raise GenerationCancelledError("generation cancelled")
            seed = None if plan.seed is None else (plan.seed + index) % 2**32
            audio, rate = await backend.generate(chunk, prompt, plan.language, seed, plan.instruct)
            if rate != plan.model.sample_rate:
                raise ContractError(
                    f"engine {plan.engine.name!r} returned {rate} Hz audio but model "
                    f"{plan.model.model_name!r} declares {plan.model.sample_rate} Hz"
                )
            audio = as_mono_float32(audio)
            if plan.model.needs_trim:
                audio = trim_tts_output(audio, rate)
            if len(audio) == 0:
                raise GenerationError(
                    f"engine {plan.engine.name!r} produced no audio for chunk {index + 1}"
                )
            yield audio, rate

    async def synthesize(self, request: SynthesisRequest, stop: Callable[[], bool] | None = None,
                         timestamps: bool = False) -> Synthesis:
        """The whole utterance, chunks crossfaded, loudness normalised (unless the request
        says not to). ``stop`` is asked between chunks; when it answers True the
        synthesis ends with :class:`~voicebox_core.errors.GenerationCancelledError`.
        ``timestamps``: also when each word is spoken, from an engine with alignments
        (``Synthesis.words``; None from any other)."""
        started = time.perf_counter()
        plan = self.plan(request)
        rate = plan.model.sample_rate
        words: list[WordTime] | None = None
        if timestamps and self.timed(plan.engine.name):
            pieces, per_piece = await self._timed_pieces(plan, stop)
            words = []
            at = 0  # where each piece starts in the crossfaded whole
            for index, (piece, piece_words) in enumerate(zip(pieces, per_piece, strict=True)):
                if index:
                    at -= min(at, len(piece), rate * request.crossfade_ms // 1000)
                if piece_words is None:
                    words = None
                elif words is not None:
                    words += shift_words(piece_words, at / rate)
                at += len(piece)
        else:
            pieces = [audio async for audio, _ in self._run(plan, stop)]
        audio = crossfade_concat(pieces, rate, request.crossfade_ms)
        if request.normalize:
            audio = normalize_audio(audio)
        if not np.isfinite(audio).all():
            raise GenerationError(f"engine {plan.engine.name!r} produced non-finite audio")
        elapsed = time.perf_counter() - started
        return Synthesis(audio, rate, plan.model, plan.language, len(pieces), {"total": elapsed},
                         None if words is None else tuple(words))

    async def _timed_pieces(self, plan: _Plan, stop: Callable[[], bool] | None
                            ) -> tuple[list[np.ndarray], list[tuple[WordTime, ...] | None]]:
        """Per text chunk: its audio (the engine's timed chunks joined) and its words from the
        start of that audio; trimmed like :meth:`_run` (a word past the cut goes, one cut
        short ends there)."""
        await self.load(plan.model.model_name)
        prompt = await self.voice_prompt(plan)
        rate = plan.model.sample_rate
        pieces: list[np.ndarray] = []
        spoken: list[tuple[WordTime, ...] | None] = []
        for index in range(len(plan.chunks)):
            if stop is not None and stop():
                raise GenerationCancelledError("generation cancelled")
            parts: list[np.ndarray] = []
            words: list[WordTime] | None = []
            async for audio, chunk_words in self._chunk_frames(plan, index, prompt, stop, timed=True):
                at = sum(map(len, parts)) / rate
                words = None if words is None or chunk_words is None else words + list(shift_words(chunk_words, at))
                parts.append(audio)
            audio = np.concatenate(parts)
            if plan.model.needs_trim:
                audio = trim_tts_output(audio, rate)
                end = len(audio) / rate
                words = None if words is None else [
                    WordTime(w.word, w.start, min(w.end, end)) for w in words if w.start < end]
            pieces.append(audio)
            spoken.append(None if words is None else tuple(words))
        return pieces, spoken


def _checked_words(plan: _Plan, words: Any, samples: int) -> tuple[WordTime, ...] | None:
    """An engine's words for a chunk of ``samples``: WordTime in order, inside the audio."""
    if words is None:
        return None
    words = tuple(words)
    limit = samples / plan.model.sample_rate + 1e-3
    previous = 0.0
    for word in words:
        if not isinstance(word, WordTime) or not (previous - 1e-3 <= word.start <= word.end <= limit):
            raise ContractError(
                f"engine {plan.engine.name!r} gave word times out of order or outside its audio "
                f"({word!r} in a chunk of {samples / plan.model.sample_rate:.3f} s)")
        previous = word.start
    return words
