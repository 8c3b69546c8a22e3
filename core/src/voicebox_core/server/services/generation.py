"""Generation: request -> voice and model -> audio, stored as a WAV and a history row."""

from __future__ import annotations

import base64
import json
import struct
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from voicebox_core.errors import InvalidRequestError, NotFoundError, UnknownVoiceError
from voicebox_core.runtime.audio import change_speed, encode_audio, save_audio
from voicebox_core.server.db import Generation
from voicebox_core.server.schemas import GenerateBody, SpeechBody
from voicebox_core.server.services import profiles
from voicebox_core.server.state import ServerState
from voicebox_core.synthesis import SynthesisRequest, Voice

__all__ = ["generate", "history", "speech", "stream_wav"]

SPEECH_FORMATS = {"wav": "audio/wav", "flac": "audio/flac", "pcm": "audio/pcm", "mp3": "audio/mpeg"}


def request_of(state: ServerState, body: GenerateBody) -> tuple[SynthesisRequest, str | None]:
    """The synthesis request a /generate body means, and the profile it used."""
    language = body.language
    if body.engine:
        state.registry.engine(body.engine)  # an unknown engine names the installed ones
    if body.profile_id:
        profile = profiles.find(state, body.profile_id)
        if profile is None:
            raise NotFoundError(f"no profile with id {body.profile_id!r}; list them with GET /profiles")
        voice = profiles.voice_of(profile)
        model = body.model or body.engine or profile.default_model or profile.preset_engine
        if model is None:
            raise InvalidRequestError(
                f"profile {profile.name!r} has no default model: give 'model' or 'engine'")
        return SynthesisRequest(body.text, model, voice, language or profile.language, body.seed,
                                body.instruct), profile.id
    model = body.model or body.engine
    if model is None:
        raise InvalidRequestError("give 'profile_id', 'model' or 'engine' (see GET /engines)")
    voice = Voice.preset(body.voice) if body.voice else None
    return SynthesisRequest(body.text, model, voice, language, body.seed, body.instruct), None


def _row(generation: Generation) -> dict[str, Any]:
    return {
        "id": generation.id, "profile_id": generation.profile_id, "text": generation.text,
        "language": generation.language, "engine": generation.engine,
        "model_name": generation.model_name, "model_size": generation.model_size,
        "voice": generation.voice, "seed": generation.seed, "instruct": generation.instruct,
        "duration": round(generation.duration, 3), "sample_rate": generation.sample_rate,
        "audio_url": f"/audio/{generation.id}", "created_at": generation.created_at.isoformat(),
    }


async def generate(state: ServerState, body: GenerateBody) -> dict[str, Any]:
    request, profile_id = request_of(state, body)
    plan = state.synthesizer.plan(request)  # every check before any work
    async with state.queue(plan.engine.name).turn():
        result = await state.synthesizer.synthesize(request)
    target = state.audio_dir / f"{uuid.uuid4().hex}.wav"
    save_audio(target, result.audio, result.sample_rate)
    try:
        with state.sessions() as session:
            generation = Generation(
                profile_id=profile_id, text=request.text, language=result.language,
                engine=result.model.engine, model_name=result.model.model_name,
                model_size=result.model.model_size, voice=_describe(request.voice),
                seed=request.seed, instruct=request.instruct, audio_path=str(target),
                duration=result.duration, sample_rate=result.sample_rate)
            session.add(generation)
            session.commit()
            return _row(generation)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _describe(voice: Voice | None) -> str:
    if voice is None:
        return "default"
    if voice.kind == "preset":
        return f"preset:{voice.preset_id}"
    if voice.kind == "designed":
        return "designed"
    return f"cloned:{len(voice.samples)} sample(s)"


def history(state: ServerState, limit: int, offset: int, profile_id: str | None) -> list[dict[str, Any]]:
    query = select(Generation).order_by(Generation.created_at.desc()).limit(limit).offset(offset)
    if profile_id:
        query = query.where(Generation.profile_id == profile_id)
    with state.sessions() as session:
        return [_row(g) for g in session.scalars(query)]


def audio_path(state: ServerState, generation_id: str) -> Path:
    with state.sessions() as session:
        generation = session.get(Generation, generation_id)
    if generation is None or not Path(generation.audio_path).is_file():
        raise NotFoundError(f"no audio for generation {generation_id!r}; see GET /history")
    return Path(generation.audio_path)


def delete(state: ServerState, generation_id: str) -> None:
    with state.sessions() as session:
        generation = session.get(Generation, generation_id)
        if generation is None:
            raise NotFoundError(f"no generation {generation_id!r}; see GET /history")
        path = Path(generation.audio_path)
        session.delete(generation)
        session.commit()
    path.unlink(missing_ok=True)


# -- streaming ---------------------------------------------------------------------------


def wav_header(sample_rate: int) -> bytes:
    """A 16-bit mono WAV header of unknown length (sizes 0xFFFFFFFF), for streaming."""
    unknown = 0xFFFFFFFF
    return (b"RIFF" + struct.pack("<I", unknown) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16) +
            b"data" + struct.pack("<I", unknown))


async def _chunks(state: ServerState, request: SynthesisRequest, speed: float = 1.0) -> AsyncIterator[tuple[np.ndarray, int]]:
    plan = state.synthesizer.plan(request)
    async with state.queue(plan.engine.name).turn():
        async for audio, rate in state.synthesizer.stream(request):
            yield change_speed(audio, speed), rate


async def stream_wav(state: ServerState, request: SynthesisRequest, with_header: bool = True,
                     speed: float = 1.0) -> tuple[AsyncIterator[bytes], int]:
    """Validate now (errors become 4xx before the response starts), then stream each chunk."""
    plan = state.synthesizer.plan(request)
    queue = state.queue(plan.engine.name)
    if queue.waiting >= queue.limit:
        async with queue.turn():  # raises EngineBusyError
            pass
    rate = plan.model.sample_rate

    async def body() -> AsyncIterator[bytes]:
        if with_header:
            yield wav_header(rate)
        async for audio, _ in _chunks(state, request, speed):
            yield encode_audio(audio, rate, "pcm")

    return body(), rate


# -- OpenAI-compatible speech ------------------------------------------------------------


def speech_request(state: ServerState, body: SpeechBody) -> SynthesisRequest:
    model = state.registry.model(body.model)
    engine = state.registry.engine(model.engine)
    if body.response_format not in SPEECH_FORMATS:
        raise InvalidRequestError(f"response_format {body.response_format!r} is not available; "
                                  f"use one of: {', '.join(SPEECH_FORMATS)}")
    if not 0.25 <= body.speed <= 4.0:
        raise InvalidRequestError(f"speed {body.speed} is out of range; use 0.25 to 4.0")
    voice: Voice | None = None
    model_name = body.model
    if body.voice:
        if engine.preset(body.voice) is not None:
            voice = Voice.preset(body.voice)
        else:
            profile = profiles.find(state, body.voice)
            if profile is None:
                names = [v.voice_id for v in engine.preset_voices] + [p["name"] for p in profiles.list_all(state)]
                raise UnknownVoiceError(body.voice, engine.name, names)
            voice = profiles.voice_of(profile)
            if profile.voice_type == "preset" and profile.preset_engine != engine.name:
                model_name = str(profile.preset_engine)
    instruct = body.instructions if body.instructions and model.supports_instruct else None
    return SynthesisRequest(body.input, model_name, voice, body.language, body.seed, instruct)


async def speech(state: ServerState, body: SpeechBody) -> tuple[bytes, str]:
    request = speech_request(state, body)
    plan = state.synthesizer.plan(request)
    async with state.queue(plan.engine.name).turn():
        result = await state.synthesizer.synthesize(request)
    audio = change_speed(result.audio, body.speed)
    return encode_audio(audio, result.sample_rate, body.response_format), SPEECH_FORMATS[body.response_format]


async def speech_sse(state: ServerState, body: SpeechBody) -> AsyncIterator[str]:
    """OpenAI's ``stream_format=sse``: base64 PCM deltas, then a done event."""
    request = speech_request(state, body)
    stream, _rate = await stream_wav(state, request, with_header=False, speed=body.speed)

    async def events() -> AsyncIterator[str]:
        async for pcm in stream:
            payload = {"type": "speech.audio.delta", "audio": base64.b64encode(pcm).decode()}
            yield f"data: {json.dumps(payload)}\n\n"
        yield f"data: {json.dumps({'type': 'speech.audio.done'})}\n\n"

    return events()
