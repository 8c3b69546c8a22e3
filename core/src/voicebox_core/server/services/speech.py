"""Audio that leaves as it is made (``/generate/stream``, streamed OpenAI speech) and whole
OpenAI speech responses.

A stream takes its place in the engine's queue and synthesises its first chunk before the
response starts, so a full queue is a clean 503 and a bad request or a failing model is a
clean 4xx/5xx: a client never gets a 200 that stops after the header.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from voicebox_core.errors import GenerationCancelledError, InvalidRequestError, UnknownVoiceError
from voicebox_core.runtime.audio import (
    EncodedStream,
    PcmStream,
    change_speed,
    encode_audio,
    stream_encoder,
    wav_header,
)
from voicebox_core.server.schemas import SpeechBody
from voicebox_core.server.services import aliases, models, profiles
from voicebox_core.server.state import ServerState
from voicebox_core.synthesis import Synthesis, SynthesisRequest, Voice
from voicebox_core.timing import WordTime, words_to_json

T = TypeVar("T")

__all__ = ["OPENAI_PCM_RATE", "SPEECH_FORMATS", "ClosingStream", "open_chunks", "open_stream", "open_timed_stream",
           "speech", "speech_request", "speech_sse", "wav_header"]

#: OpenAI's six formats, each with its media type.
SPEECH_FORMATS = {"wav": "audio/wav", "flac": "audio/flac", "pcm": "audio/pcm", "mp3": "audio/mpeg",
                  "opus": "audio/opus", "aac": "audio/aac"}


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


#: OpenAI's raw PCM: 24 kHz, 16-bit, mono, what every client of its API assumes.
OPENAI_PCM_RATE = 24000


#: Producers whose listener left before their first chunk: held until they end.
_ORPHANS: set[asyncio.Task[None]] = set()

#: What a stream's producer hands on: (audio, rate, words or None), an error, or None at the end.
Chunk = tuple[Any, int, Any]


async def open_chunks(state: ServerState, request: SynthesisRequest, http: Request | None = None,
                      timed: bool = False, admit: bool = True
                      ) -> tuple[AsyncIterator[Chunk], Callable[[], Any]]:
    """Admit, load and speak the first chunk now; return the chunks (audio, rate, words) and
    their closer. ``timed``: each chunk with the words it speaks (the Synthesizer's
    ``stream_timed``; words None from an engine without alignments), else words are None.

    The engine work runs in a producer task that owns the queue place: when the client goes
    away the stream asks it to stop, and it gives the engine back only once the chunk in
    progress is done (a backend is never driven by two requests at once); a remote backend's
    chunk in progress is cancelled instead. The producer never waits for the listener: it
    gives the engine back as soon as the utterance is made, however slowly it is read.
    """
    plan = state.synthesizer.plan(request)
    ticket = state.queue(plan.engine.name).admit(bounded=admit)
    stopping = False
    chunks: asyncio.Queue[Chunk | BaseException | None] = asyncio.Queue()

    async def produce() -> None:
        try:
            async with ticket:
                await models.ensure_loaded(state, plan.model)
                if timed:
                    async for audio, rate, words in state.synthesizer.stream_timed(request, stop=lambda: stopping):
                        await chunks.put((audio, rate, words))
                else:
                    async for audio, rate in state.synthesizer.stream(request, stop=lambda: stopping):
                        await chunks.put((audio, rate, None))
            await chunks.put(None)
        except asyncio.CancelledError:  # the client went away (a remote engine's chunk is cancelled)
            await chunks.put(GenerationCancelledError("the client went away"))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            await chunks.put(exc)
        finally:
            ticket.release()

    producer = asyncio.get_running_loop().create_task(produce())

    async def watch() -> None:  # a client that leaves while its request waits for the engine
        nonlocal stopping
        while http is not None and not await http.is_disconnected():
            await asyncio.sleep(0.2)
        stopping = http is not None
        if stopping and state.remote(plan.engine.name):
            producer.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        first = await chunks.get()
    except BaseException:  # the caller was cancelled (a socket closed) before the first chunk
        stopping = True
        if state.remote(plan.engine.name):
            producer.cancel()
        _ORPHANS.add(producer)  # it gives the engine back after its chunk in progress
        producer.add_done_callback(_ORPHANS.discard)
        raise
    finally:
        watcher.cancel()
    if isinstance(first, BaseException) or first is None:
        await producer
        if isinstance(first, BaseException):
            raise first
        raise GenerationCancelledError("the engine produced no audio")

    async def items() -> AsyncIterator[Chunk]:
        item: Chunk | BaseException | None = first
        while item is not None:
            if isinstance(item, BaseException):
                if isinstance(item, GenerationCancelledError):
                    return
                raise item  # mid-stream engine failure: the stream ends short, logged
            yield item
            item = await chunks.get()

    async def close() -> None:
        nonlocal stopping
        stopping = True
        # A remote backend (a Ray deployment) is cancelled mid-chunk: the replica stops that
        # chunk too, and nothing in this process is left half-driven.
        if state.remote(plan.engine.name):
            producer.cancel()
        await asyncio.shield(producer)

    return items(), close


async def open_stream(state: ServerState, request: SynthesisRequest, fmt: str = "wav",
                      speed: float = 1.0, http: Request | None = None, pcm_rate: int | None = None
                      ) -> tuple[AsyncIterator[bytes], Callable[[], Any]]:
    """Admit, load and speak the first chunk now; return the byte stream and its closer
    (:func:`open_timed_stream` without the words)."""
    pieces, close = await open_timed_stream(state, request, fmt, speed, http, pcm_rate, timed=False)

    async def body() -> AsyncIterator[bytes]:
        async for data, _words in pieces:
            yield data

    return body(), close


async def open_timed_stream(state: ServerState, request: SynthesisRequest, fmt: str = "wav",
                            speed: float = 1.0, http: Request | None = None, pcm_rate: int | None = None,
                            timed: bool = True) -> tuple[AsyncIterator[tuple[bytes, Any]], Callable[[], Any]]:
    """:func:`open_chunks`, encoded as one stream of ``fmt`` (raw PCM at ``pcm_rate``): (encoded
    bytes, the words of that chunk with times from the start of the utterance, after
    ``speed``, or None from an engine without word timestamps) and its closer."""
    chunks, close = await open_chunks(state, request, http, timed=timed)

    async def body() -> AsyncIterator[tuple[bytes, Any]]:
        encoder: PcmStream | EncodedStream | None = None
        cheap = False
        async for audio, rate, words in chunks:
            if encoder is None:  # one signal across chunks: no seam at their edges
                encoder = stream_encoder(fmt, rate, pcm_rate)
                cheap = speed == 1.0 and isinstance(encoder, PcmStream) and encoder.source == encoder.target
            if cheap:
                data = encoder.push(audio)  # a cast: quicker than a thread hop
            else:  # resampling, encoding, a speed change: off the event loop
                data = await asyncio.to_thread(_pushed, encoder, audio, speed)
            if words is not None and speed != 1.0:
                words = tuple(WordTime(w.word, w.start / speed, w.end / speed) for w in words)
            if data or words:
                yield data, words
        if encoder is not None and (tail := await asyncio.to_thread(encoder.flush)):
            yield tail, ()

    return body(), close


def _pushed(encoder: PcmStream | EncodedStream, audio: Any, speed: float) -> bytes:
    return encoder.push(change_speed(audio, speed))


async def until_disconnected(request: Request, work: Callable[[Callable[[], bool]], Awaitable[T]],
                             interval: float = 0.2, cancel: bool = False) -> T:
    """Run ``work(stop)``; when the client disconnects, ``stop()`` turns True (the engine
    stops after its current chunk) and the request ends with GenerationCancelledError.
    With ``cancel`` (a remote engine), the chunk in progress is cancelled at once."""
    gone = False
    current = asyncio.current_task()

    async def watch() -> None:
        nonlocal gone
        while not await request.is_disconnected():
            await asyncio.sleep(interval)
        gone = True
        if cancel and current is not None:
            current.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        return await work(lambda: gone)
    except asyncio.CancelledError:
        if gone and cancel:
            raise GenerationCancelledError("the client went away") from None
        raise
    finally:
        watcher.cancel()


# -- OpenAI-compatible speech ------------------------------------------------------------


def speech_request(state: ServerState, body: SpeechBody) -> SynthesisRequest:
    model_name = aliases.model_of(state.registry, body.model)  # tts-1, gpt-4o-mini-tts...
    model = state.registry.model(model_name)
    engine = state.registry.engine(model.engine)
    if body.response_format not in SPEECH_FORMATS:
        raise InvalidRequestError(f"response_format {body.response_format!r} is not available; "
                                  f"use one of: {', '.join(SPEECH_FORMATS)}")
    if not 0.25 <= body.speed <= 4.0:
        raise InvalidRequestError(f"speed {body.speed} is out of range; use 0.25 to 4.0")
    if body.sample_rate is not None and not 8000 <= body.sample_rate <= 48000:
        raise InvalidRequestError(f"sample_rate {body.sample_rate} is out of range; use 8000 to 48000 "
                                  f"(or leave it out: {OPENAI_PCM_RATE} Hz, as OpenAI sends pcm)")
    voice: Voice | None = None
    if body.voice:
        wanted = body.voice
        if engine.preset(wanted) is None and profiles.find(state, wanted) is None:
            wanted = aliases.voice_of(state.registry, model.model_name, wanted) or wanted  # alloy, nova...
        if engine.preset(wanted) is not None:
            voice = Voice.preset(wanted)
        else:
            profile = profiles.find(state, wanted)
            if profile is None:
                names = [v.voice_id for v in engine.preset_voices] + [p["name"] for p in profiles.list_all(state)]
                raise UnknownVoiceError(body.voice, engine.name, names)
            voice = profiles.voice_of(state, profile)
            if profile.voice_type == "preset" and profile.preset_engine != engine.name:
                model_name = str(profile.preset_engine)
    instruct = body.instructions if body.instructions and model.supports_instruct else None
    return SynthesisRequest(body.input, model_name, voice, body.language, body.seed, instruct)


async def speech(state: ServerState, body: SpeechBody, http: Request) -> tuple[bytes, str]:
    request = speech_request(state, body)
    plan = state.synthesizer.plan(request)

    async def work(stop: Callable[[], bool]) -> Synthesis:
        async with state.queue(plan.engine.name).turn():
            await models.ensure_loaded(state, plan.model)
            return await state.synthesizer.synthesize(request, stop=stop)

    result = await until_disconnected(http, work, cancel=state.remote(plan.engine.name))
    # Encoding takes tens of milliseconds (mp3, opus): on the event loop, a burst of requests
    # would hold every other request (and /health) for seconds.
    data = await asyncio.to_thread(_encoded, result.audio, result.sample_rate, body.speed, body.response_format)
    return data, SPEECH_FORMATS[body.response_format]


def _encoded(audio: Any, sample_rate: int, speed: float, fmt: str) -> bytes:
    return encode_audio(change_speed(audio, speed), sample_rate, fmt)


async def speech_sse(state: ServerState, body: SpeechBody,
                     http: Request | None = None) -> tuple[AsyncIterator[str], Callable[[], Any]]:
    """OpenAI's ``stream_format=sse``: base64 deltas of the requested ``response_format`` (the
    pieces joined are one file of it; pcm at 24 kHz), then a done event. From an engine with
    word timestamps each delta also has ``timestamps`` (``[{word, start, end}]``, seconds from
    the start of the utterance); the done event's ``word_timestamps`` says whether there are any."""
    request = speech_request(state, body)
    timed = state.synthesizer.timed(state.synthesizer.plan(request).engine.name)
    stream, close = await open_timed_stream(state, request, body.response_format, speed=body.speed, http=http,
                                            pcm_rate=body.sample_rate or OPENAI_PCM_RATE)

    async def events() -> AsyncIterator[str]:
        async for data, words in stream:
            payload: dict[str, Any] = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()}
            if timed:  # the words this delta's audio starts, from the start of the utterance
                payload["timestamps"] = words_to_json(words or ())
            yield f"data: {json.dumps(payload)}\n\n"
        yield f"data: {json.dumps({'type': 'speech.audio.done', 'word_timestamps': timed})}\n\n"

    return events(), close
