"""ElevenLabs' WebSocket ``stream-input``: text in as it is written, audio and alignment out.

The client sends JSON messages: ``{"text": " ", ...settings}`` first (the token may ride in it
as ``xi-api-key``/``xi_api_key``/``authorization``), then ``{"text": "...", "flush": bool}``
pieces, and ``{"text": ""}`` to end. Text is buffered and spoken a sentence at a time as soon
as a sentence is complete, on ``flush``, at the end, and when more than
``max_pending_chars`` wait without a sentence end. Each utterance takes its place in the
engine's queue like any request; one speaks at a time, in order. The server sends
``{"audio": base64, "isFinal": null, "alignment": {...} | null, "normalizedAlignment": ...}``
per engine chunk (alignment times in ms from the start of that chunk's audio, from the
engine's own word times; null from an engine without them), and ``{"isFinal": true}`` once
the end is spoken, then closes (1000).

What goes wrong is a message, ``{"message", "error", "code"}``, on the socket: a malformed
message or an utterance that cannot be spoken leaves it open; a message over
``max_message_bytes`` (1009), no text for ``inactivity_timeout`` seconds while nothing is
being spoken (1008), a wrong
token (1008), a full engine queue (1013) and a client that does not read for
``send_timeout_s`` (1008) close it with that code and a reason.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from voicebox_core.errors import EngineBusyError, VoiceboxError
from voicebox_core.runtime.text import complete_sentences, has_speakable_text
from voicebox_core.server.guards import AUTHORIZED
from voicebox_core.server.services import elevenlabs, speech
from voicebox_core.server.state import ServerState
from voicebox_core.synthesis import SynthesisRequest

__all__ = ["serve"]

log = logging.getLogger("voicebox.stream_input")
#: ElevenLabs' default and largest ``inactivity_timeout``, in seconds.
INACTIVITY_S, MAX_INACTIVITY_S = 20, 180
_END = object()


class Closing(Exception):
    """End the socket: the message to send first, then the close code and reason."""

    def __init__(self, code: int, error: str, message: str) -> None:
        super().__init__(message)
        self.code, self.error, self.message = code, error, message


@dataclass
class _Session:
    state: ServerState
    socket: WebSocket
    target: elevenlabs.Target
    fmt: elevenlabs.OutputFormat
    language: str | None
    inactivity: float
    authorized: bool
    utterances: asyncio.Queue[Any] = field(default_factory=lambda: asyncio.Queue(maxsize=2))
    pending: str = ""
    first: bool = True
    speaking: bool = False

    async def send(self, message: dict[str, Any]) -> None:
        try:
            await asyncio.wait_for(self.socket.send_text(json.dumps(message)), self.state.settings.send_timeout_s)
        except TimeoutError:
            raise Closing(1008, "client_not_reading", f"the client read nothing for "
                          f"{self.state.settings.send_timeout_s:g} s (VOICEBOX_SEND_TIMEOUT_S); closing") from None

    async def error(self, error: str, message: str, code: int) -> None:
        await self.send({"message": message, "error": error, "code": code})

    # -- text in -------------------------------------------------------------------------

    async def receive(self) -> None:
        """Read messages until the end of input; queue each complete utterance."""
        limit = self.state.settings.max_message_bytes
        while True:
            try:
                message = await asyncio.wait_for(self.socket.receive(), self.inactivity)
            except TimeoutError:
                if self.speaking or not self.utterances.empty():
                    continue  # the client waits for audio: not idle
                raise Closing(1008, "input_timeout_exceeded",
                              f"no text for {self.inactivity:g} s (inactivity_timeout); send "
                              '{"text": " "} to keep the connection open') from None
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            raw: str | bytes = message.get("text") or message.get("bytes") or b""
            if len(raw) > limit:
                raise Closing(1009, "message_too_big", f"a message of {len(raw)} bytes is over the limit of "
                              f"{limit} (VOICEBOX_MAX_MESSAGE_KB); send text in smaller pieces")
            try:
                data = json.loads(raw)
            except ValueError:
                await self.error("invalid_message", 'a message must be JSON: {"text": "...", "flush": false}', 400)
                continue
            if not isinstance(data, dict):
                await self.error("invalid_message", 'a message must be a JSON object: {"text": "..."}', 400)
                continue
            if self.first:
                self.first = False
                self._authorize(data)
            text = data.get("text")
            if not isinstance(text, str):
                await self.error("invalid_message", "a message needs 'text': a string (\" \" keeps the "
                                 "connection open, \"\" ends the input)", 400)
                continue
            if data.get("flush") not in (None, True, False):
                await self.error("invalid_message", "'flush' must be true or false", 400)
                continue
            if text == "":
                await self._queue([self.pending], end=True)
                return
            self.pending += text
            sentences, self.pending = complete_sentences(self.pending)
            if data.get("flush") is True:
                sentences, self.pending = [*sentences, self.pending], ""
            await self._queue([piece for sentence in sentences for piece in self._bounded(sentence)])
            while len(self.pending) > self.state.settings.max_pending_chars:  # text without end
                head, self.pending = self._cut(self.pending)
                await self._queue([head])

    def _authorize(self, data: dict[str, Any]) -> None:
        token = self.state.settings.api_token
        if token is None or self.authorized:
            return
        given = data.get("xi-api-key") or data.get("xi_api_key") or ""
        bearer = data.get("authorization")
        if isinstance(bearer, str) and bearer.startswith("Bearer "):
            given = bearer[7:]
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
            raise Closing(1008, "auth_error", "missing or wrong token: send the 'xi-api-key' header, or "
                          "\"xi-api-key\" in the first message")
        self.authorized = True

    def _cut(self, text: str) -> tuple[str, str]:
        """The most of ``text`` that fits ``max_pending_chars``, cut after a word, and the rest."""
        limit = self.state.settings.max_pending_chars
        at = text.rfind(" ", 0, limit)
        at = at if at > 0 else limit
        return text[:at], text[at:]

    def _bounded(self, sentence: str) -> list[str]:
        """A sentence longer than ``max_pending_chars`` in pieces that fit: an utterance's
        audio, which waits whole for a slow reader, stays bounded."""
        pieces = []
        while len(sentence) > self.state.settings.max_pending_chars:
            head, sentence = self._cut(sentence)
            pieces.append(head)
        return [*pieces, sentence]

    async def _queue(self, texts: list[str], end: bool = False) -> None:
        for text in texts:
            if has_speakable_text(text):
                await self.utterances.put(" ".join(text.split()))
        if end:
            await self.utterances.put(_END)

    # -- audio out -----------------------------------------------------------------------

    async def speak(self) -> None:
        """Speak the queued utterances one at a time, in order; ``isFinal`` after the end."""
        while True:
            text = await self.utterances.get()
            if text is _END:
                await self.send({"isFinal": True})
                return
            self.speaking = True
            try:
                await self._utterance(text)
            finally:
                self.speaking = False

    async def _utterance(self, text: str) -> None:
        request = SynthesisRequest(text, self.target.model.model_name, self.target.voice, self.language)
        try:
            chunks, close = await speech.open_chunks(self.state, request, timed=True)
        except EngineBusyError as exc:
            raise Closing(1013, "engine_busy", f"{exc}; try again later") from None
        except VoiceboxError as exc:
            await self.error(type(exc).__name__, str(exc), exc.status_code)
            return
        aligner = elevenlabs.Aligner(text)
        encoder: elevenlabs.Encoder | None = None
        at = 0.0
        try:
            async for audio, rate, words in chunks:
                encoder = encoder or self.fmt.encoder(rate)
                data = await asyncio.to_thread(encoder.push, audio)
                duration = len(audio) / rate
                alignment = elevenlabs.as_ms(aligner.chunk(words, at, at + duration, relative=True))
                at += duration
                if data:
                    await self.send({"audio": base64.b64encode(data).decode(), "isFinal": None,
                                     "normalizedAlignment": alignment, "alignment": alignment})
            if encoder is not None and (tail := await asyncio.to_thread(encoder.flush)):
                rest = elevenlabs.as_ms(aligner.rest(0.0))
                await self.send({"audio": base64.b64encode(tail).decode(), "isFinal": None,
                                 "normalizedAlignment": rest, "alignment": rest})
        except VoiceboxError as exc:  # the engine failed mid-utterance: said, and the next one goes on
            await self.error(type(exc).__name__, str(exc), exc.status_code)
        finally:
            await close()


def _inactivity(value: str | None) -> float:
    if value is None:
        return INACTIVITY_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1
    if not 1 <= seconds <= MAX_INACTIVITY_S:
        raise Closing(1008, "invalid_request", f"inactivity_timeout {value!r} is out of range; use 1 to "
                      f"{MAX_INACTIVITY_S} seconds")
    return seconds


async def serve(state: ServerState, socket: WebSocket, voice_id: str) -> None:
    """One ``stream-input`` connection, from handshake to close."""
    if state.open_sockets >= state.settings.max_sockets:
        if "websocket.http.response" in socket.scope.get("extensions", {}):
            from starlette.responses import JSONResponse

            message = (f"{state.open_sockets} streaming sockets are open (VOICEBOX_MAX_SOCKETS="
                       f"{state.settings.max_sockets}); retry shortly")
            await socket.send_denial_response(JSONResponse(
                {"detail": message, "error": {"message": message, "type": "server_error", "code": 503}},
                status_code=503, headers={"Retry-After": "5"}))
        else:
            await socket.close(1013, "too many streaming sockets are open; try again later")
        return
    state.open_sockets += 1
    try:
        await socket.accept()
        await _session(state, socket, voice_id)
    finally:
        state.open_sockets -= 1


async def _session(state: ServerState, socket: WebSocket, voice_id: str) -> None:
    query = socket.query_params
    session: _Session | None = None
    code, reason = 1000, ""
    tasks: list[asyncio.Task[None]] = []
    try:
        try:
            session = _Session(state, socket, elevenlabs.target(state, voice_id, query.get("model_id")),
                               elevenlabs.output_format(query.get("output_format")),
                               query.get("language_code") or None, _inactivity(query.get("inactivity_timeout")),
                               bool(socket.scope.get(AUTHORIZED, True)))
        except VoiceboxError as exc:
            raise Closing(1008, type(exc).__name__, str(exc)) from None
        receiver = asyncio.create_task(session.receive())
        speaker = asyncio.create_task(session.speak())
        tasks = [receiver, speaker]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        if receiver in done and receiver.exception() is None:
            await speaker  # the end of input: speak what is left, then isFinal
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    except WebSocketDisconnect:
        code = 0  # the client went: nothing to send
    except Closing as exc:
        code, reason = exc.code, exc.message
        log.warning("stream-input closed with %d (%s): %s", exc.code, exc.error, exc.message)
        if exc.error != "client_not_reading":
            with contextlib.suppress(Exception):
                await asyncio.wait_for(socket.send_text(json.dumps(
                    {"message": exc.message, "error": exc.error, "code": exc.code})), 2)
    except Exception:
        log.exception("stream-input failed")
        code, reason = 1011, "internal error; see the server log"
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
    if code and socket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(socket.close(code, reason[:120]), 2)
