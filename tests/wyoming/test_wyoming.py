"""Home Assistant's Wyoming protocol, spoken by the `wyoming` package's own async client to a
real `voicebox serve --wyoming` (and `voicebox wyoming`) over TCP on loopback.

No engine is named: the engines are whatever is installed; speech is checked for the ones
whose weights ship in a package (real speech), by offline recognition.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped, SynthesizeVoice

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support.speech import transcribe, word_error_rate  # noqa: E402

SENTENCE = "The quick brown fox jumps over the lazy dog."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listing() -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "voicebox_core", "engines", "list", "--json"],
                          capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _wait(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("wyoming did not listen in 60 s")


@pytest.fixture
def both(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """`voicebox serve --wyoming`: the HTTP API and Wyoming in one process, one database."""
    http_port, wyoming_port = free_port(), free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-hub")}
    proc = subprocess.Popen([sys.executable, "-m", "voicebox_core", "serve", "--port", str(http_port),
                             "--data-dir", str(tmp_path / "data"), "--wyoming", f"tcp://127.0.0.1:{wyoming_port}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait(wyoming_port, proc)
        yield f"http://127.0.0.1:{http_port}", wyoming_port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def _exchange(port: int, *events: Event, until: tuple[str, ...] = ("audio-stop", "error")) -> list[Event]:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        for event in events:
            await client.write_event(event)
        received = []
        while True:
            event = await asyncio.wait_for(client.read_event(), timeout=120)
            assert event is not None, "the server closed the connection"
            received.append(event)
            if event.type in until:
                return received


def _info(port: int) -> Info:
    (event,) = asyncio.run(_exchange(port, Describe().event(), until=("info",)))
    return Info.from_event(event)


def _audio(events: list[Event], path: Path) -> tuple[int, float]:
    starts = [AudioStart.from_event(e) for e in events if AudioStart.is_type(e.type)]
    chunks = [AudioChunk.from_event(e) for e in events if AudioChunk.is_type(e.type)]
    assert starts and chunks and AudioStop.is_type(events[-1].type), [e.type for e in events]
    assert {(s.width, s.channels) for s in starts} == {(2, 1)}
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(starts[0].rate)
        out.writeframes(b"".join(c.audio for c in chunks))
    return starts[0].rate, sum(len(c.audio) for c in chunks) / 2 / starts[0].rate


def _bundled() -> list[dict[str, Any]]:
    return [e for e in listing()["engines"] if any(m["bundled"] for m in e["models"])
            and e["preset_voices"] and e["default_voice"]]


def test_describe_lists_every_engine_and_saved_profile(both: tuple[str, int], tmp_path: Path) -> None:
    base, port = both
    engines = {e["engine"]: e for e in listing()["engines"]}
    info = _info(port)
    programs = {p.name: p for p in info.tts}
    assert set(programs) == set(engines)
    for name, program in programs.items():
        assert program.supports_synthesize_streaming and program.installed
        assert program.version == engines[name]["version"]
        assert program.attribution.name == engines[name]["distribution"]
        presets = [v for v in program.voices if v.name.startswith(f"{name}:")]
        assert len(presets) == engines[name]["preset_voices"]
        assert all(v.languages for v in presets)
    # profiles saved through the HTTP API are voices of the engine they speak with
    engine = next(n for n, e in engines.items() if "preset" in e["voice_kinds"])
    voice = next(v.name.split(":", 1)[1] for v in programs[engine].voices if v.name.startswith(f"{engine}:"))
    saved = httpx.post(f"{base}/profiles", json={"name": "Kitchen voice", "language": "en", "voice_type": "preset",
                                                 "preset_engine": engine, "preset_voice_id": voice})
    assert saved.status_code == 201, saved.text
    after = {p.name: p for p in _info(port).tts}
    assert "Kitchen voice" in {v.name for v in after[engine].voices}


def test_synthesize_with_a_bundled_voice_is_speech(both: tuple[str, int], tmp_path: Path) -> None:
    _base, port = both
    engines = _bundled()
    if not engines:
        pytest.skip("no engine ships its weights in a package")
    engine = engines[0]
    voice = f"{engine['engine']}:{engine['default_voice']}"
    events = asyncio.run(_exchange(port, Synthesize(text=SENTENCE, voice=SynthesizeVoice(name=voice)).event()))
    rate, seconds = _audio(events, tmp_path / "said.wav")
    assert rate == engine["models"][0]["sample_rate"] and seconds > 1
    heard = transcribe(tmp_path / "said.wav")
    assert word_error_rate(SENTENCE, heard) < 0.3, heard
    # no voice at all: the default (a ready preset voice) speaks
    default = asyncio.run(_exchange(port, Synthesize(text="Hello.").event()))
    assert AudioStop.is_type(default[-1].type)


def test_streaming_sends_audio_before_the_last_text_arrives(both: tuple[str, int]) -> None:
    _base, port = both
    engine = (_bundled() or listing()["engines"])[0]
    voice = SynthesizeVoice(name=f"{engine['engine']}:{engine['default_voice']}")
    sentences = ["The first sentence is here. ", "Then comes the second one. ", "And the third ends it."]

    async def stream() -> tuple[float, list[Event]]:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(SynthesizeStart(voice=voice).event())
            await client.write_event(SynthesizeChunk(text=sentences[0]).event())
            first = await asyncio.wait_for(client.read_event(), timeout=120)
            assert first is not None and AudioStart.is_type(first.type), first
            received = [first]
            for text in sentences[1:]:
                await client.write_event(SynthesizeChunk(text=text).event())
            await client.write_event(Synthesize(text="".join(sentences), voice=voice).event())  # HA's compat copy
            await client.write_event(SynthesizeStop().event())
            while True:
                event = await asyncio.wait_for(client.read_event(), timeout=120)
                assert event is not None
                received.append(event)
                if SynthesizeStopped.is_type(event.type):
                    return 0.0, received

    _, events = asyncio.run(stream())
    assert sum(AudioStart.is_type(e.type) for e in events) == 3  # one per sentence, the copy ignored
    assert sum(AudioStop.is_type(e.type) for e in events) == 3
    assert not any(Error.is_type(e.type) for e in events)


@pytest.mark.parametrize(("case", "needle"), [
    ("unknown voice", "unknown voice 'no-such-voice'"),
    ("language no voice speaks", "no voice speaks 'xx'"),
    ("empty text", "text is empty"),
    ("no text at all", "'text' is empty"),
    ("blank text", "'text' is empty"),
    ("no text field", "synthesize needs 'text'"),
    ("chunk without text", "synthesize-chunk needs 'text'"),
    ("voice not an object", "'voice' must be an object"),
    ("unknown event", "unknown event 'bogus'"),
    ("chunk outside a stream", "send synthesize-start first"),
    ("model not available", "not downloaded"),
])
def test_errors_are_error_events_and_the_connection_survives(both: tuple[str, int], case: str, needle: str) -> None:
    _base, port = both
    info = _info(port)
    preset = next(v for p in info.tts for v in p.voices if ":" in v.name and v.installed)
    missing = next((v for p in info.tts for v in p.voices if not v.installed), None)
    if case == "model not available" and missing is None:
        pytest.skip("every voice's model is on disk")
    request = {
        "unknown voice": Synthesize(text="Hi.", voice=SynthesizeVoice(name="no-such-voice")).event(),
        # (Wyoming sends a voice's name or a language, never both)
        "language no voice speaks": SynthesizeStart(voice=SynthesizeVoice(language="xx")).event(),
        "empty text": Synthesize(text=" ?! ", voice=SynthesizeVoice(name=preset.name)).event(),
        "no text at all": Synthesize(text="", voice=SynthesizeVoice(name=preset.name)).event(),
        "blank text": Synthesize(text=" \n\t ").event(),
        "no text field": Event(type="synthesize", data={"voice": {"name": preset.name}}),
        "chunk without text": Event(type="synthesize-chunk", data={"txt": "Hello."}),
        "voice not an object": Event(type="synthesize", data={"text": "Hi.", "voice": preset.name}),
        "unknown event": Event(type="bogus", data={}),
        "chunk outside a stream": SynthesizeChunk(text="Hello.").event(),
        "model not available": Synthesize(text="Hi.", voice=SynthesizeVoice(name=missing.name if missing else "")).event(),
    }[case]

    async def run() -> tuple[Event, Event]:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(request)
            error = await asyncio.wait_for(client.read_event(), timeout=60)
            await client.write_event(Describe().event())  # the same connection still answers
            info_event = await asyncio.wait_for(client.read_event(), timeout=60)
            assert error is not None and info_event is not None
            return error, info_event

    error, after = asyncio.run(run())
    assert Error.is_type(error.type), error
    assert needle in Error.from_event(error).text, Error.from_event(error).text
    assert Info.is_type(after.type)


@pytest.mark.parametrize(("line", "needle"), [
    (b"this is not json\n", "one line of JSON"),
    (b'["synthesize"]\n', "a 'type' string"),
    (b'{"data": {"text": "Hi."}}\n', "a 'type' string"),
    (b'{"type": "synthesize", "data": "Hi."}\n', "'data' must be a JSON object"),
    (b'{"type": "synthesize", "data_length": 3}\nnot', "are not JSON"),
])
def test_a_line_that_is_no_event_is_an_error_and_the_connection_survives(
        both: tuple[str, int], line: bytes, needle: str) -> None:
    _base, port = both

    async def run() -> tuple[Event | None, Event | None]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(line)
            await async_write_event(Ping(text="still there?").event(), writer)
            error = await asyncio.wait_for(async_read_event(reader), timeout=60)
            pong = await asyncio.wait_for(async_read_event(reader), timeout=60)
            return error, pong
        finally:
            writer.close()

    error, pong = asyncio.run(run())
    assert error is not None and Error.is_type(error.type), error
    assert needle in Error.from_event(error).text, Error.from_event(error).text
    assert pong is not None and Pong.is_type(pong.type) and Pong.from_event(pong).text == "still there?"


def test_twenty_concurrent_connections(both: tuple[str, int]) -> None:
    _base, port = both
    info = _info(port)
    voice = next(v.name for p in info.tts for v in p.voices if ":" in v.name and v.installed)

    async def many() -> list[list[Event]]:
        return await asyncio.gather(*(_exchange(port, Synthesize(text=f"Connection number {i}.",
                                                                 voice=SynthesizeVoice(name=voice)).event())
                                      for i in range(20)))

    results = asyncio.run(many())
    assert all(AudioStop.is_type(r[-1].type) for r in results), [r[-1].type for r in results]


def test_voicebox_wyoming_alone(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "voicebox_core", "wyoming", "--uri", f"tcp://127.0.0.1:{port}",
                             "--data-dir", str(tmp_path / "data")],
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        _wait(port, proc)
        assert {p.name for p in _info(port).tts} == {e["engine"] for e in listing()["engines"]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
