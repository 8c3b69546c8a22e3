"""ElevenLabs' text-to-speech API over the registry: what its voice ids, model ids and output
formats mean here, its voice and model lists, and its character alignments.

- ``voice_id``: a preset voice id (``<engine>:<id>`` when two engines share one), a saved
  profile's id or name, or an OpenAI voice name (``alloy``...: the alias table).
- ``model_id``: a model or engine name; ElevenLabs' own names (``eleven_multilingual_v2``...)
  and none at all mean the voice's engine, or else the operator's default model (the OpenAI
  alias table's, ``VOICEBOX_OPENAI_MODEL``).
- ``output_format``: ``mp3_<rate>_<kbit/s>``, ``pcm_<rate>``, ``ulaw_8000``, ``alaw_8000``,
  ``opus_48000_<kbit/s>``; anything else is a 422 that lists them.
- Alignment: from the engine's own word times only (:mod:`voicebox_core.timing`); an engine
  without alignments gives ``null``, never an estimate.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicebox_core.config import EngineInfo, ModelConfig
from voicebox_core.errors import InvalidRequestError, UnknownVoiceError
from voicebox_core.runtime.audio import EncodedStream, PcmStream
from voicebox_core.runtime.download import is_downloaded
from voicebox_core.server.db import Profile
from voicebox_core.server.services import aliases, profiles, speech
from voicebox_core.server.state import ServerState
from voicebox_core.synthesis import SynthesisRequest, Voice
from voicebox_core.timing import WordTime, character_alignment, locate_words

__all__ = ["OUTPUT_FORMATS", "Aligner", "Encoder", "OutputFormat", "Target", "as_ms", "audio_stream", "models",
           "output_format", "request", "target", "timestamp_stream", "voice", "voices", "with_timestamps"]

#: Every output format served: ElevenLabs' names.
OUTPUT_FORMATS = (
    *(f"mp3_{rate}_{kbit}" for rate, kbits in ((22050, (32,)), (24000, (48,)), (44100, (32, 64, 96, 128, 192)))
      for kbit in kbits),
    *(f"pcm_{rate}" for rate in (8000, 16000, 22050, 24000, 44100, 48000)),
    "ulaw_8000", "alaw_8000",
    *(f"opus_48000_{kbit}" for kbit in (32, 64, 96, 128, 192)),
)
_MEDIA = {"mp3": "audio/mpeg", "pcm": "audio/pcm", "ulaw": "audio/basic", "alaw": "audio/x-alaw-basic",
          "opus": "audio/ogg"}
#: ElevenLabs' model names: they mean the voice's engine or the operator's default model.
_ELEVEN_MODEL = re.compile(r"^eleven_[a-z0-9_]+$")


@dataclass(frozen=True)
class OutputFormat:
    name: str
    codec: str
    rate: int
    kbit_s: int | None

    @property
    def media_type(self) -> str:
        return _MEDIA[self.codec]

    def encoder(self, source_rate: int) -> Encoder:
        """A fresh encoder for one utterance at the engine's ``source_rate``."""
        return Encoder(self, source_rate)


def output_format(name: str | None) -> OutputFormat:
    """``mp3_44100_128`` (the default) and the others of OUTPUT_FORMATS; 422 for the rest."""
    name = name or "mp3_44100_128"
    if name not in OUTPUT_FORMATS:
        raise InvalidRequestError(f"output_format {name!r} is not available; use one of: {', '.join(OUTPUT_FORMATS)}")
    codec, rate, *kbit = name.split("_")
    return OutputFormat(name, codec, int(rate), int(kbit[0]) if kbit else None)


_ULAW_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _g711(pcm: bytes, law: str) -> bytes:
    """16-bit PCM to G.711 μ-law or A-law, as the ITU's reference code (and Python's
    ``audioop``) encodes it: segment by table, 14-bit μ-law, 13-bit A-law."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    negative = samples < 0
    if law == "ulaw":
        value = np.minimum(np.abs(samples >> 2), 8159) + 0x21
        segment = np.searchsorted(_ULAW_ENDS, value)
        code = np.where(segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | ((value >> (segment + 1)) & 0x0F))
        return (code ^ np.where(negative, 0x7F, 0xFF)).astype(np.uint8).tobytes()
    value = samples >> 3
    value = np.where(negative, -value - 1, value)
    segment = np.searchsorted(_ALAW_ENDS, value)
    mantissa = np.where(segment < 2, value >> 1, value >> np.maximum(segment, 1)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | mantissa)
    return (code ^ np.where(negative, 0x55, 0xD5)).astype(np.uint8).tobytes()


class Encoder:
    """One utterance's audio as one stream of an output format: PCM resampled by FFmpeg's
    resampler as one signal, G.711 from it, MP3 and Ogg Opus by FFmpeg's encoders."""

    def __init__(self, fmt: OutputFormat, source_rate: int) -> None:
        self.fmt = fmt
        self._odd = b""  # a PCM byte that waits for its pair (G.711 is per sample)
        if fmt.codec in ("mp3", "opus"):
            self._stream: PcmStream | EncodedStream = EncodedStream(fmt.codec, source_rate, fmt.rate, fmt.kbit_s)
        else:
            self._stream = PcmStream(source_rate, fmt.rate)

    def _out(self, data: bytes) -> bytes:
        if self.fmt.codec not in ("ulaw", "alaw"):
            return data
        data, self._odd = self._odd + data, b""
        if len(data) % 2:
            data, self._odd = data[:-1], data[-1:]
        return _g711(data, self.fmt.codec)

    def push(self, audio: np.ndarray) -> bytes:
        return self._out(self._stream.push(audio))

    def flush(self) -> bytes:
        return self._out(self._stream.flush())


# -- voices and models -------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a voice id and a model id mean here."""

    model: ModelConfig
    voice: Voice | None


def _default_model(state: ServerState) -> ModelConfig | None:
    name = aliases.aliases(state.registry).models.get(aliases.OPENAI_MODELS[0])
    return state.registry.model(name) if name else None


def _explicit_model(state: ServerState, model_id: str | None) -> ModelConfig | None:
    """The model ``model_id`` names, or None when it leaves the choice to the voice."""
    if not model_id or _ELEVEN_MODEL.match(model_id) or model_id in aliases.OPENAI_MODELS:
        try:
            return state.registry.model(model_id) if model_id else None
        except Exception:  # noqa: BLE001 - no real model of that name: an ElevenLabs name
            return None
    return state.registry.model(model_id)  # 404 that lists the models


def _profile_model(state: ServerState, profile: Profile) -> ModelConfig | None:
    if profile.default_model:
        return state.registry.model(profile.default_model)
    name = profile.preset_engine or profile.default_engine
    if name:
        return state.registry.engine(name).default_model
    default = _default_model(state)
    if default is not None and profile.voice_type in state.registry.engine(default.engine).voice_kinds:
        return default
    engine = next((e for e in state.registry.engines if profile.voice_type in e.voice_kinds), None)
    return engine.default_model if engine else None


def _engines_first(state: ServerState, first: EngineInfo | None) -> list[EngineInfo]:
    engines = list(state.registry.engines)
    return [first, *(e for e in engines if e.name != first.name)] if first else engines


def _preset_id(engine: EngineInfo, voice_id: str, shared: set[str]) -> str:
    return f"{engine.name}:{voice_id}" if voice_id in shared else voice_id


def _shared_presets(state: ServerState) -> set[str]:
    seen: dict[str, int] = {}
    for engine in state.registry.engines:
        for preset in engine.preset_voices:
            seen[preset.voice_id] = seen.get(preset.voice_id, 0) + 1
    return {voice_id for voice_id, count in seen.items() if count > 1}


def target(state: ServerState, voice_id: str, model_id: str | None) -> Target:
    """The model and voice an ElevenLabs request names; 404 for a voice that is none of ours."""
    model = _explicit_model(state, model_id)
    default = _default_model(state)
    profile = profiles.find(state, voice_id)
    if profile is not None:
        chosen = model or _profile_model(state, profile)
        if chosen is None:
            raise InvalidRequestError(f"no installed engine speaks {profile.voice_type} voices like profile "
                                      f"{profile.name!r}; give a model_id")
        if profile.voice_type == "preset" and profile.preset_engine and profile.preset_engine != chosen.engine:
            chosen = state.registry.engine(str(profile.preset_engine)).default_model
        return Target(chosen, profiles.voice_of(state, profile))
    engine_name, _, plain = voice_id.rpartition(":")
    if engine_name and any(e.name == engine_name for e in state.registry.engines):
        engine = state.registry.engine(engine_name)
        if engine.preset(plain) is not None and (model is None or model.engine == engine.name):
            return Target(model or engine.default_model, Voice.preset(plain))
    first = state.registry.engine(model.engine) if model else (
        state.registry.engine(default.engine) if default else None)
    for engine in [first] if model and first else _engines_first(state, first):
        if engine.preset(voice_id) is not None:
            chosen = model or (default if default and default.engine == engine.name else engine.default_model)
            return Target(chosen, Voice.preset(voice_id))
    base = model or default
    if base is not None:
        alias = aliases.voice_of(state.registry, base.model_name, voice_id)  # alloy, nova...
        if alias is not None and alias != voice_id:
            return target(state, alias, base.model_name)
    names = [v["voice_id"] for v in voices(state, all_voices=True)]
    raise UnknownVoiceError(voice_id, model.engine if model else "elevenlabs", names)


def request(state: ServerState, voice_id: str, model_id: str | None, text: str,
            language: str | None = None, seed: int | None = None) -> SynthesisRequest:
    chosen = target(state, voice_id, model_id)
    return SynthesisRequest(text, chosen.model.model_name, chosen.voice, language or None, seed)


def _languages(codes: Sequence[str], model: str) -> list[dict[str, Any]]:
    return [{"language": code.split("-")[0], "model_id": model, "locale": code} for code in codes]


def voice(state: ServerState, voice_id: str) -> dict[str, Any]:
    """One voice in ElevenLabs' form (``GET /v1/voices/{voice_id}``)."""
    found = next((v for v in voices(state, all_voices=True) if v["voice_id"] == voice_id), None)
    if found is None:  # an OpenAI name, or a preset by its plain id: resolved, else a 404 that lists them
        chosen = target(state, voice_id, None)
        meant = chosen.voice.preset_id if chosen.voice is not None and chosen.voice.preset_id else voice_id
        found = {"voice_id": voice_id, "name": voice_id, "category": "premade",
                 "labels": {"engine": chosen.model.engine, "alias_of": meant},
                 "high_quality_base_model_ids": [chosen.model.model_name]}
    return found


def voices(state: ServerState, all_voices: bool = False, search: str | None = None) -> list[dict[str, Any]]:
    """Preset voices (of downloaded models, unless ``all_voices``) and saved profiles."""
    out: list[dict[str, Any]] = []
    shared = _shared_presets(state)
    for engine in state.registry.engines:
        for preset in engine.preset_voices:
            usable = [state.registry.model(n) for n in preset.models] or list(engine.models)
            ready = any(is_downloaded(m) for m in usable)
            if not (all_voices or ready):
                continue
            labels = {"engine": engine.name, "language": preset.language, "ready": str(ready).lower()}
            if preset.gender:
                labels["gender"] = preset.gender
            out.append({"voice_id": _preset_id(engine, preset.voice_id, shared), "name": preset.display_name,
                        "category": "premade", "labels": labels, "description": engine.display_name,
                        "preview_url": None, "samples": None, "settings": None,
                        "high_quality_base_model_ids": [m.model_name for m in usable],
                        "verified_languages": _languages((preset.language, *preset.languages),
                                                         usable[0].model_name if usable else "")})
    for profile in profiles.list_all(state):
        category = {"cloned": "cloned", "designed": "generated"}.get(profile["voice_type"], "premade")
        engine = profile["preset_engine"] or profile["default_engine"]
        out.append({"voice_id": profile["id"], "name": profile["name"], "category": category,
                    "labels": {k: v for k, v in (("engine", engine), ("language", profile["language"]),
                                                 ("voice_type", profile["voice_type"])) if v},
                    "description": profile.get("description") or "", "preview_url": None,
                    "samples": None, "settings": None, "high_quality_base_model_ids": [],
                    "verified_languages": _languages([profile["language"]], "") if profile["language"] else []})
    if search:
        wanted = search.lower()
        out = [v for v in out if wanted in v["name"].lower() or wanted in v["voice_id"].lower()]
    return out


def models(state: ServerState, all_models: bool = False) -> list[dict[str, Any]]:
    """Every model as ElevenLabs lists its own (``GET /v1/models``)."""
    out = []
    for model in state.registry.models:
        if not (all_models or is_downloaded(model)):
            continue
        engine = state.registry.engine(model.engine)
        out.append({"model_id": model.model_name, "name": model.display_name,
                    "description": model.description or engine.description,
                    "can_do_text_to_speech": True, "can_do_voice_conversion": False,
                    "can_be_finetuned": False, "can_use_style": False, "can_use_speaker_boost": False,
                    "serves_pro_voices": False, "requires_alpha_access": False,
                    "languages": [{"language_id": code, "name": code} for code in model.languages],
                    "engine": engine.name, "sample_rate": model.sample_rate,
                    "word_timestamps": engine.capabilities.word_timestamps, "ready": is_downloaded(model)})
    return out


# -- alignment ---------------------------------------------------------------------------


class Aligner:
    """ElevenLabs' character alignment of one utterance, chunk by chunk.

    Each chunk's words (times from the utterance start) are found in the text from where the
    last chunk's ended; the chunk covers the text up to its last word and the punctuation
    that follows it, and :meth:`rest` what is left at the end. ``relative``: times from the
    chunk's own start (the WebSocket's), else from the utterance start (REST's). A chunk
    without words (an engine without alignments) makes the utterance's alignment None.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.cursor = 0
        self.missing = False

    def chunk(self, words: Sequence[WordTime] | None, start: float, end: float,
              relative: bool = False) -> dict[str, list[Any]] | None:
        if words is None or self.missing:
            self.missing = True
            return None
        rest = self.text[self.cursor:]
        spans = [s for s in locate_words(rest, words) if s is not None]
        stop = spans[-1][1] if spans else 0
        while stop < len(rest) and not rest[stop].isspace() and not rest[stop].isalnum():
            stop += 1
        self.cursor += stop
        local = [WordTime(w.word, max(0.0, w.start - start), max(0.0, w.end - start)) for w in words]
        aligned = character_alignment(rest[:stop], local, end - start)
        return aligned if relative else _shifted(aligned, start)

    def rest(self, end: float) -> dict[str, list[Any]] | None:
        """The characters after the last chunk's (spaces, a closing quote), at ``end``."""
        if self.missing:
            return None
        piece, self.cursor = self.text[self.cursor:], len(self.text)
        return {"characters": list(piece), "character_start_times_seconds": [round(end, 3)] * len(piece),
                "character_end_times_seconds": [round(end, 3)] * len(piece)}


def _shifted(aligned: dict[str, list[Any]], seconds: float) -> dict[str, list[Any]]:
    return {"characters": aligned["characters"],
            "character_start_times_seconds": [round(t + seconds, 3) for t in aligned["character_start_times_seconds"]],
            "character_end_times_seconds": [round(t + seconds, 3) for t in aligned["character_end_times_seconds"]]}


def as_ms(alignment: dict[str, list[Any]] | None) -> dict[str, list[Any]] | None:
    """The WebSocket's form: ``chars``, ``charStartTimesMs``, ``charDurationsMs``."""
    if alignment is None:
        return None
    starts = alignment["character_start_times_seconds"]
    ends = alignment["character_end_times_seconds"]
    return {"chars": alignment["characters"],
            "charStartTimesMs": [round(s * 1000) for s in starts],
            "charDurationsMs": [max(0, round(e * 1000) - round(s * 1000)) for s, e in zip(starts, ends, strict=True)]}


# -- speech ------------------------------------------------------------------------------


async def audio_stream(state: ServerState, synthesis: SynthesisRequest, fmt: OutputFormat, http: Any
                       ) -> tuple[AsyncIterator[bytes], Callable[[], Any]]:
    """``text-to-speech`` and its ``stream``: one stream of ``fmt``, the first chunk made
    before the response starts (a full queue is a 503, a bad request a 4xx)."""
    chunks, close = await speech.open_chunks(state, synthesis, http)

    async def body() -> AsyncIterator[bytes]:
        encoder: Encoder | None = None
        async for audio, rate, _ in chunks:
            encoder = encoder or fmt.encoder(rate)
            if data := await asyncio.to_thread(encoder.push, audio):
                yield data
        if encoder is not None and (tail := await asyncio.to_thread(encoder.flush)):
            yield tail

    return body(), close


async def _timed_chunks(state: ServerState, synthesis: SynthesisRequest, fmt: OutputFormat, http: Any
                        ) -> tuple[AsyncIterator[tuple[bytes, dict[str, list[Any]] | None]], Callable[[], Any]]:
    """(encoded audio, alignment in seconds from the utterance start) per engine chunk, then
    the encoder's tail with the characters after the last word."""
    chunks, close = await speech.open_chunks(state, synthesis, http, timed=True)
    aligner = Aligner(synthesis.text)

    async def pieces() -> AsyncIterator[tuple[bytes, dict[str, list[Any]] | None]]:
        encoder: Encoder | None = None
        at = 0.0
        async for audio, rate, words in chunks:
            encoder = encoder or fmt.encoder(rate)
            data = await asyncio.to_thread(encoder.push, audio)
            duration = len(audio) / rate
            yield data, aligner.chunk(words, at, at + duration)
            at += duration
        tail = await asyncio.to_thread(encoder.flush) if encoder is not None else b""
        rest = aligner.rest(at)
        if tail or (rest is not None and rest["characters"]):
            yield tail, rest

    return pieces(), close


async def with_timestamps(state: ServerState, synthesis: SynthesisRequest, fmt: OutputFormat, http: Any
                          ) -> dict[str, Any]:
    """``with-timestamps``: the whole audio, base64, and its alignment (null from an engine
    without alignments)."""
    pieces, close = await _timed_chunks(state, synthesis, fmt, http)
    audio: list[bytes] = []
    parts: list[dict[str, list[Any]] | None] = []
    try:
        async for data, alignment in pieces:
            audio.append(data)
            parts.append(alignment)
    finally:
        await close()
    alignment = None
    if parts and all(p is not None for p in parts):
        alignment = {key: [v for p in parts if p is not None for v in p[key]]
                     for key in ("characters", "character_start_times_seconds", "character_end_times_seconds")}
    return {"audio_base64": base64.b64encode(b"".join(audio)).decode(), "alignment": alignment,
            "normalized_alignment": alignment}


async def timestamp_stream(state: ServerState, synthesis: SynthesisRequest, fmt: OutputFormat, http: Any
                           ) -> tuple[AsyncIterator[str], Callable[[], Any]]:
    """``stream/with-timestamps``: a JSON object a line per chunk, its audio base64 and its
    characters with times in seconds from the start of the utterance."""
    pieces, close = await _timed_chunks(state, synthesis, fmt, http)

    async def lines() -> AsyncIterator[str]:
        async for data, alignment in pieces:
            yield json.dumps({"audio_base64": base64.b64encode(data).decode(), "alignment": alignment,
                              "normalized_alignment": alignment}) + "\n"

    return lines(), close
