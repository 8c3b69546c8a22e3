"""Home Assistant's Wyoming protocol: every installed engine, preset voice and saved profile
as one text-to-speech service (``pip install "voicebox-core[wyoming]"``).

``voicebox wyoming --uri tcp://127.0.0.1:10200`` runs it alone; ``voicebox serve --wyoming
URI`` runs it inside the HTTP server. Either way it shares the server's registry, synthesizer,
engine queues and database: a profile saved through the HTTP API is a voice here.

- ``Describe`` -> ``Info``: one ``TtsProgram`` per engine, its preset voices (named
  ``<engine>:<voice id>``) and the saved profiles that speak with it (named by the profile).
- ``Synthesize`` -> ``AudioStart`` / ``AudioChunk`` / ``AudioStop``, 16-bit mono at the
  engine's rate, sentence by sentence as each is synthesised.
- Streaming: ``SynthesizeStart`` / ``SynthesizeChunk`` / ``SynthesizeStop``: each sentence
  is spoken as soon as its text is complete, then ``SynthesizeStopped``.
- A request that cannot be served, or an event that is malformed (not JSON, no ``text``,
  empty text, an unknown type), is an ``Error`` event that says what to fix; the connection
  and the server go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from dataclasses import dataclass
from functools import partial
from typing import Any

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler, AsyncServer
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from voicebox_core.config import EngineInfo
from voicebox_core.errors import (
    EmptyTextError,
    InvalidRequestError,
    UnknownVoiceError,
    VoiceboxError,
)
from voicebox_core.runtime.audio import encode_audio
from voicebox_core.runtime.download import is_downloaded
from voicebox_core.runtime.text import complete_sentences
from voicebox_core.server.db import Profile
from voicebox_core.server.services import profiles
from voicebox_core.server.state import ServerState
from voicebox_core.synthesis import SynthesisRequest, Voice

__all__ = ["VoiceboxWyomingHandler", "describe", "run", "serve_wyoming"]

log = logging.getLogger("voicebox.wyoming")
SAMPLES_PER_CHUNK = 1024


#: What each request needs in its ``data`` (a client that sends less gets an ``error``).
_TEXT_EVENTS = ("synthesize", "synthesize-chunk")
_VOICE_EVENTS = ("synthesize", "synthesize-start")
_ANSWERED = ("describe", "synthesize", "synthesize-start", "synthesize-chunk", "synthesize-stop", "ping")


async def _read_event(reader: asyncio.StreamReader) -> Event | str | None:
    """The next event; a description of what is wrong with it when it is not one (the
    library's reader would drop the connection); None once the client has gone."""
    try:
        line = await reader.readline()
    except ValueError:  # longer than the reader's limit: the line is skipped
        return "an event's header line is too long; send one line of JSON per event"
    if not line:
        return None
    try:
        header = json.loads(line)
    except ValueError:
        return "an event must be one line of JSON: {\"type\": ..., \"data\": {...}}"
    if not isinstance(header, dict) or not isinstance(header.get("type"), str) or not header["type"]:
        return "an event must be a JSON object with a 'type' string"
    kind = header["type"]
    data = header.get("data") or {}
    lengths = [header.get("data_length") or 0, header.get("payload_length") or 0]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in lengths):
        return f"{kind}: 'data_length' and 'payload_length' must be whole numbers of bytes"
    try:
        if lengths[0]:
            extra = json.loads(await reader.readexactly(lengths[0]))
            if not isinstance(extra, dict) or not isinstance(data, dict):
                return f"{kind}: 'data' must be a JSON object"
            data = {**data, **extra}
        payload = await reader.readexactly(lengths[1]) if lengths[1] else None
    except asyncio.IncompleteReadError:
        return None
    except ValueError:
        return f"{kind}: the {lengths[0]} bytes of data after the header are not JSON"
    if not isinstance(data, dict):
        return f"{kind}: 'data' must be a JSON object"
    return Event(type=kind, data=data, payload=payload)


def _check(event: Event) -> None:
    """Refuse an event this service cannot read, saying what it lacks."""
    if event.type not in _ANSWERED:
        raise InvalidRequestError(f"unknown event {event.type!r}; this text-to-speech service answers "
                                  f"{', '.join(_ANSWERED)}")
    if event.type in _TEXT_EVENTS and not isinstance(event.data.get("text"), str):
        raise InvalidRequestError(f"{event.type} needs 'text': a string with the words to speak")
    voice = event.data.get("voice")
    if event.type in _VOICE_EVENTS and voice is not None and (
            not isinstance(voice, dict)
            or any(not isinstance(voice.get(key), str | None) for key in ("name", "language", "speaker"))):
        raise InvalidRequestError(f"{event.type}: 'voice' must be an object with a 'name' or a "
                                  "'language' string (see describe)")


@dataclass(frozen=True)
class _Target:
    """What a Wyoming voice name means here."""

    engine: EngineInfo
    voice: Voice | None
    languages: tuple[str, ...]
    model: str


def _profile_engine(state: ServerState, profile: Profile) -> EngineInfo | None:
    name = profile.preset_engine or profile.default_engine
    if name is None and profile.default_model:
        name = state.registry.model(profile.default_model).engine
    if name is None:  # as /generate does: the first engine that speaks this kind of voice
        name = next((e.name for e in state.registry.engines if profile.voice_type in e.voice_kinds), None)
    try:
        return state.registry.engine(name) if name else None
    except VoiceboxError:
        return None  # a profile of an engine that is no longer installed: not offered


def _targets(state: ServerState) -> dict[str, _Target]:
    targets: dict[str, _Target] = {}
    for engine in state.registry.engines:
        for preset in engine.preset_voices:
            model = preset.models[0] if preset.models else engine.default_model.model_name
            targets[f"{engine.name}:{preset.voice_id}"] = _Target(
                engine, Voice.preset(preset.voice_id), (preset.language, *preset.languages), model)
    with state.sessions() as session:
        from sqlalchemy import select

        saved = list(session.scalars(select(Profile).order_by(Profile.name)))
        for profile in saved:
            _ = profile.samples
    for profile in saved:
        engine = _profile_engine(state, profile)
        if engine is None or (profile.voice_type == "cloned" and not profile.samples):
            continue
        model = profile.default_model if profile.default_model and \
            state.registry.model(profile.default_model).engine == engine.name else engine.default_model.model_name
        if profile.voice_type == "preset":
            preset = engine.preset(str(profile.preset_voice_id))
            languages = (preset.language, *preset.languages) if preset else (profile.language or "en",)
        else:
            languages = state.registry.model(model).languages
        targets[profile.name] = _Target(engine, profiles.voice_of(state, profile), tuple(languages), model)
    return targets


def describe(state: ServerState) -> Info:
    """``Info`` built from the registry and the database, at the moment it is asked for."""
    by_engine: dict[str, list[TtsVoice]] = {}
    for name, target in _targets(state).items():
        plugin = state.registry.plugin_of(target.engine.name)
        preset = target.voice is not None and target.voice.kind == "preset" and name.startswith(target.engine.name + ":")
        description = (target.engine.preset(str(target.voice.preset_id)).display_name  # type: ignore[union-attr]
                       if preset else f"{name} (saved {target.voice.kind if target.voice else ''} voice)")
        by_engine.setdefault(target.engine.name, []).append(TtsVoice(
            name=name, description=description,
            attribution=Attribution(name=plugin.distribution, url=target.engine.homepage),
            installed=is_downloaded(state.registry.model(target.model)), version=plugin.version,
            languages=[lang for lang in target.languages if lang != "auto"] or ["en"]))
    programs = []
    for engine in state.registry.engines:
        plugin = state.registry.plugin_of(engine.name)
        programs.append(TtsProgram(
            name=engine.name, description=engine.description or engine.display_name,
            attribution=Attribution(name=plugin.distribution, url=engine.homepage),
            installed=True, version=plugin.version, voices=by_engine.get(engine.name, []),
            supports_synthesize_streaming=True))
    return Info(tts=programs)


class VoiceboxWyomingHandler(AsyncEventHandler):
    """One Wyoming connection."""

    def __init__(self, state: ServerState, default_voice: str | None,
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.state = state
        self.default_voice = default_voice
        self.stream_voice: SynthesizeVoice | None = None
        self.streaming = False
        self.pending = ""
        self.stream_target: tuple[_Target, str | None] | None = None

    async def run(self) -> None:
        """The library's loop, except that what is not a Wyoming event is answered with an
        ``error`` (the library's reader drops the connection) and the connection goes on."""
        self._is_running = True
        try:
            while self._is_running:
                event = await _read_event(self.reader)
                if event is None:
                    break
                if isinstance(event, str):
                    await self.write_event(Error(text=event, code="InvalidRequestError").event())
                elif not await self.handle_event(event):
                    break
        finally:
            await self.disconnect()
            self.writer.close()

    async def handle_event(self, event: Event) -> bool:
        try:
            _check(event)
            if Describe.is_type(event.type):
                await self.write_event(describe(self.state).event())
            elif Ping.is_type(event.type):
                await self.write_event(Pong(text=Ping.from_event(event).text).event())
            elif Synthesize.is_type(event.type):
                if not self.streaming:  # inside a stream it only repeats the text, for old servers
                    request = Synthesize.from_event(event)
                    if not request.text.strip():
                        raise EmptyTextError("synthesize: 'text' is empty; send the words to speak")
                    target, language = self._resolve(request.voice)
                    await self._speak(target, language, request.text)
            elif SynthesizeStart.is_type(event.type):
                start = SynthesizeStart.from_event(event)
                self.streaming, self.pending = True, ""
                self.stream_target = self._resolve(start.voice)
            elif SynthesizeChunk.is_type(event.type):
                if not self.streaming or self.stream_target is None:
                    raise InvalidRequestError("synthesize-chunk outside a stream: send synthesize-start first")
                self.pending += SynthesizeChunk.from_event(event).text
                for sentence in self._complete_sentences():
                    await self._speak(*self.stream_target, sentence)
            elif SynthesizeStop.is_type(event.type):
                if self.streaming and self.stream_target is not None and self.pending.strip():
                    rest, self.pending = self.pending, ""
                    await self._speak(*self.stream_target, rest)
                self.streaming, self.stream_target = False, None
                await self.write_event(SynthesizeStopped().event())
        except VoiceboxError as exc:
            await self.write_event(Error(text=str(exc), code=type(exc).__name__).event())
        except Exception as exc:  # noqa: BLE001 - the connection and the server go on
            log.exception("wyoming request failed")
            await self.write_event(Error(text=f"the engine failed ({type(exc).__name__}: {exc}); "
                                               "see the server log", code=type(exc).__name__).event())
        return True

    def _complete_sentences(self) -> list[str]:
        done, self.pending = complete_sentences(self.pending)
        return done

    def _resolve(self, wanted: SynthesizeVoice | None) -> tuple[_Target, str | None]:
        """The voice (and language) a Wyoming request asks for, or the default one."""
        targets = _targets(self.state)
        name = wanted.name if wanted is not None else None
        language = wanted.language if wanted is not None else None
        if name:
            target = targets.get(name) or self._by_plain_id(targets, name)
            if target is None:
                raise UnknownVoiceError(name, "wyoming", list(targets))
            if language and not any(lang.split("-")[0] == language.split("-")[0] or lang == "auto"
                                    for lang in target.languages):
                raise InvalidRequestError(f"voice {name!r} does not speak {language!r}; it speaks "
                                          f"{', '.join(target.languages)}")
            return target, language
        if language:
            base = language.split("-")[0]
            for candidate in self._default_first(targets):
                if any(lang.split("-")[0] == base for lang in candidate.languages):
                    return candidate, language
            raise InvalidRequestError(f"no voice speaks {language!r}; the voices: {', '.join(targets)}")
        choices = self._default_first(targets)
        if not choices:
            raise InvalidRequestError("no voice is installed: install an engine, or save a profile")
        return choices[0], None

    @staticmethod
    def _by_plain_id(targets: dict[str, _Target], name: str) -> _Target | None:
        matches = [t for key, t in targets.items() if key.split(":", 1)[-1] == name]
        return matches[0] if len(matches) == 1 else None

    def _default_first(self, targets: dict[str, _Target]) -> list[_Target]:
        ordered = list(targets.values())
        ready = [t for t in ordered if is_downloaded(self.state.registry.model(t.model))]
        preferred = [targets[self.default_voice]] if self.default_voice in targets else []
        defaults = [t for t in ready if t.voice is not None and t.voice.kind == "preset"
                    and t.voice.preset_id == t.engine.default_voice]
        return list(dict.fromkeys([*preferred, *defaults, *ready, *ordered]))

    async def _speak(self, target: _Target, language: str | None, text: str) -> None:
        if not text.strip():
            return
        request = SynthesisRequest(" ".join(text.split()), target.model, target.voice, language)
        plan = self.state.synthesizer.plan(request)  # bad text or language: an Error, no audio
        rate = plan.model.sample_rate
        from voicebox_core.server.services import models

        started = False
        async with self.state.queue(plan.engine.name).admit(bounded=False):
            await models.ensure_loaded(self.state, plan.model)
            async for audio, _ in self.state.synthesizer.stream(request):
                if not started:
                    await self.write_event(AudioStart(rate=rate, width=2, channels=1).event())
                    started = True
                pcm = encode_audio(audio, rate, "pcm")
                step = SAMPLES_PER_CHUNK * 2
                for offset in range(0, len(pcm), step):
                    await self.write_event(AudioChunk(rate=rate, width=2, channels=1,
                                                      audio=pcm[offset:offset + step]).event())
        if started:
            await self.write_event(AudioStop().event())


async def serve_wyoming(state: ServerState, uri: str, default_voice: str | None = None,
                        zeroconf: str | None = None) -> None:
    """Serve Wyoming on ``uri`` until cancelled (inside another event loop, e.g. the HTTP server's)."""
    server = AsyncServer.from_uri(uri)
    if zeroconf is not None:
        from urllib.parse import urlparse

        from wyoming.zeroconf import HomeAssistantZeroconf

        parsed = urlparse(uri)
        announcer = HomeAssistantZeroconf(port=int(parsed.port or 10200), name=zeroconf or "voicebox",
                                          host=parsed.hostname if parsed.hostname not in ("0.0.0.0", "") else None)
        await announcer.register_server()
    log.warning("wyoming: serving %d engine(s) on %s", len(state.registry.engines), uri)
    # start(), not run(): run() takes over SIGTERM, which is the HTTP server's to handle.
    await server.start(partial(VoiceboxWyomingHandler, state, default_voice))
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def run(args: Any) -> int:
    """``voicebox wyoming``: the Wyoming service alone (no HTTP)."""
    from pathlib import Path

    from voicebox_core.registry import Registry
    from voicebox_core.runtime.paths import data_dir as default_data_dir
    from voicebox_core.server.datadir import lock_data_dir
    from voicebox_core.server.services.generation import recover
    from voicebox_core.server.state import ServerState, Settings

    data = Path(args.data_dir) if args.data_dir else default_data_dir()
    os.environ["VOICEBOX_DATA_DIR"] = str(data)  # its isolated workers and caches use it too
    lock = lock_data_dir(data)
    state = ServerState(Registry.discover(), Settings.from_env(data))
    recover(state)
    print(f"voicebox wyoming: {len(state.registry.engines)} engine(s) on {args.uri}; data in {data}", flush=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        state.progress.bind(loop)
        service = loop.create_task(serve_wyoming(state, args.uri, args.voice, args.zeroconf))
        for stop in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(stop, service.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await service

    try:
        asyncio.run(main())
    finally:
        lock.release()
    return 0
