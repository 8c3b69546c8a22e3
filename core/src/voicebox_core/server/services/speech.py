"""Audio that leaves as it is made (``/generate/stream``, streamed OpenAI speech) and whole
OpenAI speech responses.

A stream takes its place in the engine's queue and synthesises its first chunk before the
response starts, so a full queue is a clean 503 and a bad request or a failing model is a
clean 4xx/5xx: a client never gets a 200 that stops after the header.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from voicebox_core.errors import InvalidRequestError, UnknownVoiceError
from voicebox_core.runtime.audio import change_speed, encode_audio
from voicebox_core.server.schemas import SpeechBody
from voicebox_core.server.services import models, profiles
from voicebox_core.server.state import ServerState
from voicebox_core.synthesis import SynthesisRequest, Voice

__all__ = ["SPEECH_FORMATS", "ClosingStream", "open_stream", "speech", "speech_request", "speech_sse",
           "wav_header"]

SPEECH_FORMATS = {"wav": "audio/wav", "flac": "audio/flac", "pcm": "audio/pcm", "mp3": "audio/mpeg"}


class ClosingStream(StreamingResponse):
    """A streaming response that runs ``on_close`` however it ends (even never started)."""

    def __init__(self, content: AsyncIterator[Any], on_close: Callable[[], Any], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            result = self._on_close()
            if hasattr(result, "__await__"):
                await result


def wav_header(sample_rate: int) -> bytes:
    """A 16-bit mono WAV header of unknown length (sizes 0xFFFFFFFF), for streaming."""
    unknown = 0xFFFFFFFF
    return (b"RIFF" + struct.pack("<I", unknown) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16) +
            b"data" + struct.pack("<I", unknown))


async def open_stream(state: ServerState, request: SynthesisRequest, with_header: bool = True,
                      speed: float = 1.0) -> tuple[AsyncIterator[bytes], Callable[[], Any]]:
    """Admit, load and speak the first chunk now; return the byte stream and its closer."""
    plan = state.synthesizer.plan(request)
    ticket = state.queue(plan.engine.name).admit()
    chunks = state.synthesizer.stream(request)
    try:
        await ticket.__aenter__()
        await models.ensure_loaded(state, plan.model)
        first, rate = await chunks.__anext__()
    except BaseException:
        ticket.release()
        await chunks.aclose()
        raise

    async def body() -> AsyncIterator[bytes]:
        if with_header:
            yield wav_header(rate)
        yield encode_audio(change_speed(first, speed), rate, "pcm")
        async for audio, _ in chunks:
            yield encode_audio(change_speed(audio, speed), rate, "pcm")

    async def close() -> None:
        ticket.release()
        await chunks.aclose()

    return body(), close


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
            voice = profiles.voice_of(state, profile)
            if profile.voice_type == "preset" and profile.preset_engine != engine.name:
                model_name = str(profile.preset_engine)
    instruct = body.instructions if body.instructions and model.supports_instruct else None
    return SynthesisRequest(body.input, model_name, voice, body.language, body.seed, instruct)


async def speech(state: ServerState, body: SpeechBody) -> tuple[bytes, str]:
    request = speech_request(state, body)
    plan = state.synthesizer.plan(request)
    async with state.queue(plan.engine.name).turn():
        await models.ensure_loaded(state, plan.model)
        result = await state.synthesizer.synthesize(request)
    audio = change_speed(result.audio, body.speed)
    return encode_audio(audio, result.sample_rate, body.response_format), SPEECH_FORMATS[body.response_format]


async def speech_sse(state: ServerState, body: SpeechBody) -> tuple[AsyncIterator[str], Callable[[], Any]]:
    """OpenAI's ``stream_format=sse``: base64 PCM deltas, then a done event."""
    request = speech_request(state, body)
    stream, close = await open_stream(state, request, with_header=False, speed=body.speed)

    async def events() -> AsyncIterator[str]:
        async for pcm in stream:
            payload = {"type": "speech.audio.delta", "audio": base64.b64encode(pcm).decode()}
            yield f"data: {json.dumps(payload)}\n\n"
        yield f"data: {json.dumps({'type': 'speech.audio.done'})}\n\n"

    return events(), close
