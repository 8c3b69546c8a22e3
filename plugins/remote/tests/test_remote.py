"""A remote engine end to end: our `voicebox serve` speaks through a second, real one.

Every face of our server (Voicebox's /generate, OpenAI's /v1/audio/speech, Wyoming) reaches
the remote piper voice, and a recogniser hears the sentence; the remote killed mid-request
is a 503 and the next request after its restart works; a remote answering 500, HTML or its
own 4xx is a clean error of ours; discovery opens no socket; the API key shows nowhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
import time
import wave
from pathlib import Path

import httpx
import pytest
from conftest import JOE, SECRET, SENTENCE, Server, free_port, voicebox

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.support.speech import transcribe, word_error_rate

MODEL = "gpu-piper-en_US-joe-medium"


def heard(path: Path) -> float:
    return word_error_rate(SENTENCE, transcribe(path))


def write_pcm(path: Path, pcm: bytes, rate: int) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return path


# -- configuration and discovery --------------------------------------------------------


def test_add_remote_keeps_what_the_server_serves(configured: Path, piper_remote: Server) -> None:
    saved = json.loads((configured / "remote-engines.json").read_text())["engines"]
    gpu = saved["gpu"]
    assert gpu["url"] == piper_remote.url
    assert [m["id"] for m in gpu["models"]] == ["piper-en_US-joe-medium"]  # the aliases (tts-1...) left out
    assert [(v["id"], v["language"]) for v in gpu["voices"]] == [(JOE, "en")]
    assert saved["odd"]["api_key_env"] == "ODD_KEY" and SECRET not in json.dumps(saved)
    listed = json.loads(voicebox("engines", "list", "--json", data_dir=configured).stdout)
    engines = {e["engine"]: e for e in listed["engines"]}
    assert {"gpu", "flaky", "odd", "down"} <= set(engines) and not listed["failed"]
    assert engines["gpu"]["distribution"] == "voicebox-engine-remote"
    assert [(m["model_name"], m["sample_rate"]) for m in engines["gpu"]["models"]] == [(MODEL, 24000)]
    assert engines["gpu"]["default_voice"] == JOE


_NO_SOCKETS = """
import sys

def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
        with open({log!r}, "a") as log:
            log.write(f"{{event}} {{args!r}}\\n")
        raise OSError("no network at discovery")

sys.addaudithook(refuse)
"""


def test_engines_list_opens_no_socket(configured: Path, tmp_path: Path) -> None:
    log = tmp_path / "sockets.log"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_NO_SOCKETS.format(log=str(log)))
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    done = voicebox("engines", "list", data_dir=configured, PYTHONPATH=path)
    assert done.returncode == 0, done.stderr
    assert "gpu  gpu (remote)" in done.stdout and MODEL in done.stdout
    assert not log.exists(), log.read_text()
    # the hook works: a command that does reach out is caught
    reached = voicebox("engines", "add-remote", "probe", "http://127.0.0.1:9", data_dir=tmp_path / "d",
                       PYTHONPATH=path)
    assert reached.returncode == 1 and log.exists()


def test_add_remote_mistakes_are_one_line(tmp_path: Path) -> None:
    cases = [
        (["add-remote", "Bad-Name", "http://x"], 2, "lower case"),
        (["add-remote", "box", "ftp://x"], 2, "http(s)"),
        (["add-remote", "box", "http://me:pw@x:1"], 2, "--api-key-env"),
        (["add-remote", "box", "http://x:1", "--api-key-env", "sk-123"], 2, "variable"),
        (["add-remote", "piper", "http://x:1", "--model", "m", "--voice", "v"], 2, "taken by voicebox-engine-piper"),
        (["add-remote", "box", f"http://127.0.0.1:{free_port()}"], 1, "unreachable"),
        (["remove-remote", "nothing"], 2, "no remote engine 'nothing'"),
    ]
    for args, code, needle in cases:
        done = voicebox("engines", *args, data_dir=tmp_path)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == code and len(lines) == 1 and needle in lines[0], (args, done.stderr)
        assert "Traceback" not in done.stderr and "pw" not in done.stderr
    added = voicebox("engines", "add-remote", "box", "http://127.0.0.1:1/v1/", "--model", "a/b:c", "--voice", "v",
                     data_dir=tmp_path)
    assert added.returncode == 0 and "box-a-b-c" in added.stdout, added.stderr
    assert json.loads((tmp_path / "remote-engines.json").read_text())["engines"]["box"]["url"] == "http://127.0.0.1:1"
    elsewhere = voicebox("engines", "add-remote", "box", "http://127.0.0.1:1", "--model", "m", "--voice", "v",
                         "--data-dir", str(tmp_path / "sidecar"), data_dir=tmp_path)
    assert elsewhere.returncode == 0 and (tmp_path / "sidecar" / "remote-engines.json").is_file(), elsewhere.stderr
    removed = voicebox("engines", "remove-remote", "box", data_dir=tmp_path)
    assert removed.returncode == 0 and "box" not in json.loads((tmp_path / "remote-engines.json").read_text())["engines"]
    # a configuration cut short: the plugin is set aside, naming the file and what to do; every other engine works
    (tmp_path / "remote-engines.json").write_text('{"engines": {"box": ')
    listed = json.loads(voicebox("engines", "list", "--json", data_dir=tmp_path).stdout)
    (failure,) = [f for f in listed["failed"] if f["distribution"] == "voicebox-engine-remote"]
    assert "remote-engines.json is not a remote-engine configuration" in failure["reason"]
    assert "delete it" in failure["reason"] and "piper" in {e["engine"] for e in listed["engines"]}


# -- every face of our server ------------------------------------------------------------


def test_openai_speech_through_the_remote_is_the_sentence(local: Server, tmp_path: Path) -> None:
    # Seeded: an unseeded piper take is misheard now and then (3 words of 9, once in ~20).
    whole = httpx.post(f"{local.url}/v1/audio/speech", timeout=120, json={
        "model": MODEL, "input": SENTENCE, "voice": JOE, "response_format": "wav", "seed": 1})
    assert whole.status_code == 200, whole.text
    (tmp_path / "whole.wav").write_bytes(whole.content)
    assert heard(tmp_path / "whole.wav") < 0.3
    with httpx.stream("POST", f"{local.url}/v1/audio/speech", timeout=120, json={
            "model": MODEL, "input": SENTENCE, "voice": JOE, "response_format": "pcm", "seed": 1}) as streamed:
        assert streamed.status_code == 200 and streamed.headers["x-sample-rate"] == "24000"
        pcm = b"".join(streamed.iter_bytes())
    assert heard(write_pcm(tmp_path / "streamed.wav", pcm, 24000)) < 0.3


def test_voicebox_generate_through_the_remote_is_the_sentence(local: Server, tmp_path: Path) -> None:
    made = httpx.post(f"{local.url}/generate", timeout=120, json={"text": SENTENCE, "engine": "gpu", "voice": JOE,
                                                                    "seed": 1})
    assert made.status_code == 200, made.text
    with httpx.stream("GET", f"{local.url}/generate/{made.json()['id']}/status", timeout=120) as events:
        lines = [line for line in events.iter_lines() if line.startswith("data:")]
    assert "completed" in lines[-1], lines[-3:]
    audio = httpx.get(f"{local.url}/audio/{made.json()['id']}", timeout=60)
    (tmp_path / "generated.wav").write_bytes(audio.content)
    assert heard(tmp_path / "generated.wav") < 0.3


def test_wyoming_through_the_remote_is_the_sentence(local: Server, tmp_path: Path) -> None:
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.client import AsyncTcpClient
    from wyoming.info import Describe, Info
    from wyoming.tts import Synthesize, SynthesizeVoice

    async def exchange(*events: object, until: str) -> list[object]:
        async with AsyncTcpClient("127.0.0.1", local.wyoming_port) as client:
            for event in events:
                await client.write_event(event)  # type: ignore[arg-type]
            got = []
            while True:
                event = await asyncio.wait_for(client.read_event(), timeout=120)
                assert event is not None
                got.append(event)
                if event.type in (until, "error"):
                    return got

    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", local.wyoming_port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "wyoming did not listen"
            time.sleep(0.2)
    (info,) = asyncio.run(exchange(Describe().event(), until="info"))
    programs = {p.name: p for p in Info.from_event(info).tts}
    assert f"gpu:{JOE}" in {v.name for v in programs["gpu"].voices}

    def take() -> float:
        events = asyncio.run(exchange(Synthesize(text=SENTENCE, voice=SynthesizeVoice(name=f"gpu:{JOE}")).event(),
                                      until="audio-stop"))
        starts = [AudioStart.from_event(e) for e in events if AudioStart.is_type(e.type)]
        chunks = [AudioChunk.from_event(e) for e in events if AudioChunk.is_type(e.type)]
        assert starts and chunks and AudioStop.is_type(events[-1].type), [e.type for e in events]
        return heard(write_pcm(tmp_path / "wyoming.wav", b"".join(c.audio for c in chunks), starts[0].rate))

    # Wyoming has no seed: an unseeded take is misheard now and then, a broken chain every time.
    assert take() < 0.3 or take() < 0.3


# -- the remote failing ------------------------------------------------------------------


def test_remote_killed_mid_request_is_503_and_its_restart_serves_again(local: Server, flaky_remote: Server) -> None:
    # Far longer than 1.5 s of work on any machine: the remote dies while it speaks.
    long_text = " ".join(f"Sentence number {i} of a long story that keeps the remote busy." for i in range(300))
    answer: dict[str, httpx.Response] = {}

    def ask() -> None:
        answer["r"] = httpx.post(f"{local.url}/v1/audio/speech", timeout=120, json={
            "model": "flaky-piper-en_US-joe-medium", "input": long_text, "voice": JOE, "response_format": "flac"})

    asker = threading.Thread(target=ask)
    asker.start()
    time.sleep(1.5)
    flaky_remote.kill()
    asker.join(timeout=120)
    refused = answer["r"]
    assert refused.status_code == 503, refused.text
    detail = refused.json()["detail"]
    assert "'flaky'" in detail and flaky_remote.url in detail, detail
    again = httpx.post(f"{local.url}/v1/audio/speech", timeout=120, json={
        "model": "flaky-piper-en_US-joe-medium", "input": "Still down.", "voice": JOE, "response_format": "wav"})
    assert again.status_code == 503 and "unreachable" in again.json()["detail"], again.text
    flaky_remote.start()
    back = httpx.post(f"{local.url}/v1/audio/speech", timeout=120, json={
        "model": "flaky-piper-en_US-joe-medium", "input": "Back again.", "voice": JOE, "response_format": "wav"})
    assert back.status_code == 200 and back.content[:4] == b"RIFF", back.text


@pytest.mark.parametrize(("model", "status", "needles"), [
    ("odd-fail500", 502, ["failed (500)", "the GPU caught fire"]),
    ("odd-garbage", 502, ["text/html, not audio", "nginx"]),
    ("odd-mp3", 502, ["audio/mpeg, not the pcm it was asked for"]),
    ("odd-echo-key", 422, ["refused the request (422)", "Bearer ***"]),
    ("down-m", 503, ["unreachable", "'down'", "2 tries"]),  # --retries 1: one more try, then 503
])
def test_a_failing_remote_is_our_clean_error(local: Server, model: str, status: int, needles: list[str]) -> None:
    voice = "alice" if model.startswith("odd") else "v"
    for fmt in ("wav", "pcm"):  # whole, and streamed (the error comes before the first byte)
        answer = httpx.post(f"{local.url}/v1/audio/speech", timeout=60, json={
            "model": model, "input": "Hello there.", "voice": voice, "response_format": fmt})
        assert answer.status_code == status, answer.text
        detail = answer.json()["detail"]
        assert all(n in detail for n in needles) and SECRET not in detail, detail


def test_the_api_key_shows_nowhere(local: Server) -> None:
    for path in ("/engines", "/v1/models?all=true", "/v1/audio/voices?all=true", "/models/status"):
        shown = httpx.get(f"{local.url}{path}", timeout=60)
        assert shown.status_code == 200 and SECRET not in shown.text, path
    assert "ODD_KEY" not in httpx.get(f"{local.url}/engines", timeout=60).text
    assert SECRET not in local.log.read_text(errors="replace")
