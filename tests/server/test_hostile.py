"""Faults a hostile-but-fair client or a bad day can cause, one test each (loopback only).

Every one of these failed before: truncated 200 streams, orphan upload files, uploads that
filled the disk before the 413, unbounded bodies, cross-site requests that changed state,
disconnects that kept the engine busy, advertised formats that were refused, loudness and
first-chunk latency that differed by route, storage faults as 500s, two servers on one
data directory, and a schema that did not say what the server answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import psutil
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from conftest import LiveServers, free_port
from voicebox_core.server import create_app
from voicebox_core.synthesis import STREAM_CHUNK_CHARS, SynthesisRequest

REFERENCE = "reference"
TEN = " ".join(f"This is sentence number {n}, spoken for the streaming test." for n in range(1, 11))


def _hub_weights(tmp_path: Path) -> dict[str, str]:
    local = tmp_path / "hubtest-weights"
    local.mkdir(exist_ok=True)
    (local / "config.json").write_text('{"pitch": 300}')
    return {"VOICEBOX_MODEL_PATH_HUBTEST_TINY": str(local)}


def _raw_request(base: str, head: str, body_parts: int, part: bytes) -> tuple[str, int]:
    """Send ``head`` and then up to ``body_parts`` parts; (the answer, bytes sent before it)."""
    host, port = base.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        answer = b""
        for _ in range(body_parts):
            readable, _, _ = select.select([sock], [], [], 0.01)
            if readable:
                answer += sock.recv(65536)
                if answer:
                    break
            try:
                sock.settimeout(5)
                sock.sendall(part)
                sent += len(part)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
        sock.settimeout(30)
        try:
            while b"\r\n\r\n" not in answer:
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
            head_part, _, rest = answer.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head_part.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(rest) < length:
                more = sock.recv(65536)
                if not more:
                    break
                rest += more
            answer = head_part + b"\r\n\r\n" + rest
        except (ConnectionResetError, TimeoutError):
            pass
    return answer.decode(errors="replace"), sent


# 1 -- no truncated stream under load -----------------------------------------------------


@pytest.mark.slow
def test_two_hundred_concurrent_streams_are_complete_or_a_clean_503(live: LiveServers) -> None:
    base = live.start(VOICEBOX_MAX_QUEUE="16")
    body = {"model": REFERENCE, "input": "Hello there, this is a load test.", "voice": "high",
            "response_format": "wav", "seed": 1}
    whole = httpx.post(f"{base}/v1/audio/speech", json=body, timeout=60).content
    generate = {"text": "Hello there, this is a load test.", "engine": REFERENCE, "voice": "high", "seed": 1}
    healthy: list[float] = []

    async def run() -> list[tuple[int, bytes, dict[str, str]]]:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=250)) as client:
            async def one(i: int) -> tuple[int, bytes, dict[str, str]]:
                if i % 4 == 3:
                    r = await client.post(f"{base}/generate/stream", json=generate)
                else:
                    # pcm at the engine's own rate (OpenAI's 24 kHz is the default), to compare bytes
                    pcm = {"response_format": "pcm", "sample_rate": int.from_bytes(whole[24:28], "little")}
                    r = await client.post(f"{base}/v1/audio/speech",
                                          json={**body, **(pcm if i % 4 == 1 else {"response_format": "wav"})})
                return r.status_code, r.content, dict(r.headers)

            async def poll_health() -> None:
                for _ in range(20):
                    started = time.perf_counter()
                    assert (await client.get(f"{base}/health")).status_code == 200
                    healthy.append(time.perf_counter() - started)
                    await asyncio.sleep(0.05)

            results, _ = await asyncio.gather(asyncio.gather(*(one(i) for i in range(200))), poll_health())
            return list(results)

    results = asyncio.run(run())
    completed = refused = 0
    for status, content, headers in results:
        if status == 503:
            assert headers.get("retry-after"), headers
            refused += 1
            continue
        assert status == 200, (status, content[:200])
        pcm = content[44:] if content[:4] == b"RIFF" else content
        assert len(pcm) == len(whole) - 44, "a stream stopped short"  # the same speech each time
        completed += 1
    assert completed >= 16 and completed + refused == 200
    assert len(healthy) == 20 and max(healthy) < 10


# 2 -- no orphan upload files -------------------------------------------------------------


def test_a_restart_removes_what_a_killed_server_left_half_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_app(data)
    orphans = [data / "samples" / "tmpk1ll3d.upload", data / "generations" / ".abc.wav.x1.part",
               data / "avatars" / "p-1.png.part"]
    for orphan in orphans:
        orphan.write_bytes(os.urandom(1000))
    keep = data / "samples" / "kept.wav"
    keep.write_bytes(b"RIFF")
    create_app(data)
    assert [p for p in orphans if p.exists()] == [] and keep.exists()


def test_kill_9_during_an_upload_leaves_nothing_after_restart(live: LiveServers, tmp_path: Path) -> None:
    data = tmp_path / "killed"
    base = live.start(data)
    profile = httpx.post(f"{base}/profiles", json={"name": "Upload", "language": "en"}).json()
    boundary = "XXkillXX"
    head = (f"POST /profiles/{profile['id']}/samples HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {20 * 2**20}\r\n\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n")
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode())
        for _ in range(10):
            sock.sendall(os.urandom(2**20))
        live.processes[base].kill()
        live.processes[base].wait()
        live.processes.pop(base)
    again = live.start(data)
    assert httpx.get(f"{again}/profiles/{profile['id']}/samples").json() == []
    leftovers = [p for p in data.rglob("*") if p.is_file() and (p.suffix in (".upload", ".part"))]
    assert leftovers == []


# 3, 4 -- bodies are refused before they are spooled ----------------------------------------


def test_an_oversize_upload_is_refused_before_it_is_read(live: LiveServers, tmp_path: Path) -> None:
    base = live.start(tmp_path / "d", VOICEBOX_MAX_UPLOAD_MB="1")
    profile = httpx.post(f"{base}/profiles", json={"name": "Big", "language": "en"}).json()
    head = (f"POST /profiles/{profile['id']}/samples HTTP/1.1\r\nHost: x\r\nContent-Length: {2**30}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n\r\n")
    answer, sent = _raw_request(base, head, 64, b"x" * 2**20)
    assert " 413 " in answer.splitlines()[0] and "VOICEBOX_MAX_UPLOAD_MB" in answer
    assert sent < 16 * 2**20  # refused on the header, not after 1 GiB
    preamble = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
    chunked = (f"POST /profiles/{profile['id']}/samples HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               "Content-Type: multipart/form-data; boundary=b\r\n\r\n"
               f"{len(preamble):x}\r\n{preamble.decode()}\r\n")
    part = b"100000\r\n" + b"y" * 0x100000 + b"\r\n"
    answer, sent = _raw_request(base, chunked, 64, part)
    assert " 413 " in answer.splitlines()[0] and sent < 16 * 2**20
    missing = httpx.post(f"{base}/profiles/nope/samples", files={"file": ("a.wav", os.urandom(3 * 2**20))})
    assert missing.status_code == 404 and "no profile" in missing.json()["detail"]
    assert list((tmp_path / "d" / "samples").iterdir()) == []


def test_a_200_mb_json_body_is_refused_and_memory_stays_flat(live: LiveServers) -> None:
    base = live.start()
    server = psutil.Process(next(iter(live.processes.values())).pid)
    before = server.memory_info().rss
    head = f"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {200 * 2**20}\r\n\r\n"
    answer, sent = _raw_request(base, head, 200, b"{" + b" " * (2**20 - 1))
    assert " 413 " in answer.splitlines()[0] and sent < 16 * 2**20
    chunked = "POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer, _ = _raw_request(base, chunked, 200, b"100000\r\n" + b" " * 0x100000 + b"\r\n")
    assert " 413 " in answer.splitlines()[0]
    field = httpx.post(f"{base}/v1/audio/speech", timeout=60,
                       json={"model": REFERENCE, "input": "x", "junk": "j" * (10 * 2**20)})
    assert field.status_code == 413
    after = server.memory_info().rss
    assert after - before < 60 * 2**20, (before, after)


# 5 -- cross-site requests ------------------------------------------------------------------


def test_a_foreign_page_cannot_drive_the_server(client: TestClient) -> None:
    simple = {"Origin": "https://evil.example", "Content-Type": "text/plain"}
    refused = client.post("/models/reference-16k/unload", headers=simple, content=b"x")
    assert refused.status_code == 403 and "VOICEBOX_CORS_ORIGINS" in refused.json()["detail"]
    form = client.post("/profiles", headers={"Origin": "https://evil.example"},
                       data={"name": "x"})
    assert form.status_code == 403
    assert client.get("/profiles").json() == []
    preflight = client.options("/profiles", headers={"Origin": "https://evil.example",
                                                     "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    app_origin = client.post("/models/reference-16k/unload", headers={"Origin": "tauri://localhost"})
    assert app_origin.status_code == 200


def test_behind_a_trusted_reverse_proxy_the_page_s_own_writes_pass(live: LiveServers, tmp_path: Path) -> None:
    """A proxy that rewrites Host (Voicebox's web deployment): the browser's Origin is the
    proxy's, and only X-Forwarded-Host says so. Believed from the addresses the operator
    names, from nobody else."""
    proxied = {"Origin": "https://voice.example", "Host": "127.0.0.1:8000", "X-Forwarded-Host": "voice.example",
               "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    for allowed, status in (("", 403), ("10.0.0.0/8", 403), ("127.0.0.1", 201), ("::1, 127.0.0.0/8", 201)):
        base = live.start(tmp_path / f"data-{status}-{len(allowed)}", VOICEBOX_FORWARDED_ALLOW_IPS=allowed)
        answer = httpx.post(f"{base}/profiles", json={"name": "Proxied"}, headers=proxied)
        assert answer.status_code == status, (allowed, answer.text)
        foreign = httpx.post(f"{base}/profiles", json={"name": "Foreign"},
                             headers={**proxied, "Origin": "https://evil.example"})
        assert foreign.status_code == 403, allowed  # the proxied page's own origin only
        live.stop(base)
    done = subprocess.run([sys.executable, "-m", "voicebox_core", "serve", "--port", str(free_port()),
                           "--data-dir", str(tmp_path / "bad")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "VOICEBOX_FORWARDED_ALLOW_IPS": "proxy.example"})
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1 and "VOICEBOX_FORWARDED_ALLOW_IPS" in lines[0], done.stderr


# 6 -- a client that goes away frees the engine ---------------------------------------------


def test_a_disconnect_stops_the_engine_after_its_current_chunk(live: LiveServers, tmp_path: Path) -> None:
    base = live.start(tmp_path / "d", HUBTEST_SLOW_SECONDS="0.5", **_hub_weights(tmp_path))
    long_text = " ".join(f"Sentence {i} of a long text that takes a while to speak." for i in range(120))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{base}/v1/audio/speech", timeout=1.0,
                   json={"model": "hubtest", "voice": "slow", "input": long_text, "response_format": "mp3"})
    started = time.perf_counter()
    quick = httpx.post(f"{base}/v1/audio/speech", timeout=60,
                       json={"model": "hubtest", "voice": "tone", "input": "Quick.", "response_format": "wav"})
    waited = time.perf_counter() - started
    assert quick.status_code == 200
    assert waited < 4, f"the next request waited {waited:.1f} s for an engine nobody was listening to"


# 7 -- formats and models.retrieve ----------------------------------------------------------


def test_every_advertised_format_is_served_and_retrieve_works(live: LiveServers, tmp_path: Path) -> None:
    base = live.start()
    import av

    schema = httpx.get(f"{base}/openapi.json").json()
    formats = schema["components"]["schemas"]["SpeechBody"]["properties"]["response_format"]["enum"]
    assert sorted(formats) == ["aac", "flac", "mp3", "opus", "pcm", "wav"]  # OpenAI's six
    media = schema["paths"]["/v1/audio/speech"]["post"]["responses"]["200"]["content"]
    served = set()
    for fmt in formats:
        answer = httpx.post(f"{base}/v1/audio/speech", timeout=60,
                            json={"model": REFERENCE, "input": "Format check.", "response_format": fmt})
        assert answer.status_code == 200, (fmt, answer.text)
        served.add(answer.headers["content-type"])
        if fmt == "aac":  # libsndfile reads no AAC
            with av.open(io.BytesIO(answer.content)) as container:
                samples, rate = sum(f.samples for f in container.decode(audio=0)), container.streams.audio[0].rate
            assert samples > rate // 10
        elif fmt != "pcm":
            data, rate = sf.read(io.BytesIO(answer.content))
            assert len(data) > rate // 10, fmt
    assert set(media) == served | {"text/event-stream"}  # the schema lists exactly what is served
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="x")
    assert client.models.retrieve("reference-24k").id == "reference-24k"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")


# 8 -- one loudness, the first sentence first -----------------------------------------------


def _rms_db(audio: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(audio))) + 1e-12))


def test_every_route_has_the_same_loudness(client: TestClient) -> None:
    body = {"model": REFERENCE, "input": TEN, "voice": "high", "seed": 2}
    levels = {}
    for fmt in ("wav", "flac", "mp3"):
        content = client.post("/v1/audio/speech", json={**body, "response_format": fmt}).content
        if fmt == "wav":
            audio = np.frombuffer(content[44:], "<i2").astype(np.float32) / 32768
        else:
            audio = sf.read(io.BytesIO(content), dtype="float32")[0]
        levels[fmt] = _rms_db(audio)
    stream = client.post("/generate/stream", json={"text": TEN, "engine": REFERENCE, "voice": "high", "seed": 2})
    levels["stream"] = _rms_db(np.frombuffer(stream.content[44:], "<i2").astype(np.float32) / 32768)
    assert max(levels.values()) - min(levels.values()) < 2.0, levels
    assert all(abs(v - -20) < 3 for v in levels.values()), levels


def test_the_first_streamed_chunk_is_the_first_sentence(client: TestClient) -> None:
    synthesizer = client.app.state.voicebox.synthesizer
    plan = synthesizer.plan(SynthesisRequest(TEN, REFERENCE), chunk_chars=STREAM_CHUNK_CHARS)
    assert plan.chunks[0] == "This is sentence number 1, spoken for the streaming test."
    assert all(len(c) <= STREAM_CHUNK_CHARS for c in plan.chunks)
    assert " ".join(plan.chunks) == TEN


# 9 -- storage faults and two servers -------------------------------------------------------


def test_a_full_disk_is_a_507_that_names_the_directory_and_saves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clip: Path) -> None:
    import errno

    from voicebox_core.server.services import profiles

    with TestClient(create_app(tmp_path / "data"), raise_server_exceptions=False) as client:
        profile = client.post("/profiles", json={"name": "Full", "language": "en"}).json()

        def full(path: object, *args: object) -> None:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

        monkeypatch.setattr(profiles, "save_audio", full)
        answer = client.post(f"/profiles/{profile['id']}/samples", data={"reference_text": "x"},
                             files={"file": ("r.wav", clip.read_bytes(), "audio/wav")})
        assert answer.status_code == 507 and "no space left on device" in answer.json()["detail"]
        assert str(tmp_path / "data") in answer.json()["detail"]
        assert client.get(f"/profiles/{profile['id']}/samples").json() == []
        assert list((tmp_path / "data" / "samples").iterdir()) == []


@contextlib.contextmanager
def _writes_fail(server: psutil.Process) -> Iterator[None]:
    """The server's file size limit (RLIMIT_FSIZE) at one byte: every write to a file fails
    as on a full disk (CPython ignores SIGXFSZ, so write() answers EFBIG), SQLite's too."""
    if not hasattr(psutil, "RLIMIT_FSIZE"):
        pytest.skip("needs prlimit (Linux)")
    limits = server.rlimit(psutil.RLIMIT_FSIZE)
    server.rlimit(psutil.RLIMIT_FSIZE, (1, limits[1]))
    try:
        yield
    finally:
        server.rlimit(psutil.RLIMIT_FSIZE, limits)


def test_a_507_answers_in_full_and_the_connection_goes_on(live: LiveServers, tmp_path: Path, clip: Path) -> None:
    """A storage failure used to be answered and then re-raised: uvicorn logged "Exception in
    ASGI application" and closed the connection, and the next request on it was reset."""
    base = live.start(tmp_path / "data")
    proc = live.processes[base]
    with httpx.Client(base_url=base, timeout=60) as client:
        profile = client.post("/profiles", json={"name": "Kept", "language": "en"}).json()
        with _writes_fail(psutil.Process(proc.pid)):
            for _ in range(2):
                answer = client.post(f"/profiles/{profile['id']}/samples", data={"reference_text": "x"},
                                     files={"file": ("r.wav", clip.read_bytes(), "audio/wav")})
                assert answer.status_code == 507 and "file too large" in answer.json()["detail"], answer.text
                assert client.get(f"/profiles/{profile['id']}/samples").json() == []  # the same connection
    live.stop(base)
    log = proc.stdout.read() if proc.stdout else ""
    assert "storage" in log and "Exception in ASGI application" not in log and "Traceback" not in log, log


def test_a_database_write_that_fails_is_a_507_and_saves_nothing(live: LiveServers, tmp_path: Path) -> None:
    data = tmp_path / "data"
    base = live.start(data)
    server = psutil.Process(live.processes[base].pid)
    profile = httpx.post(f"{base}/profiles", json={"name": "Before", "voice_type": "preset",
                                                   "preset_engine": REFERENCE, "preset_voice_id": "low"}).json()
    settings = httpx.get(f"{base}/settings/generation").json()
    writes = [("POST", "/profiles", {"name": "During", "language": "en"}),
              ("PUT", "/settings/generation", {"crossfade_ms": 0}),
              ("POST", "/generate", {"text": "Hello there.", "profile_id": profile["id"], "engine": REFERENCE}),
              ("POST", "/generate", {"text": "Hello there.", "engine": REFERENCE, "voice": "high"})]
    with _writes_fail(server), httpx.Client(base_url=base, timeout=60) as client:
        for method, path, body in writes:
            answer = client.request(method, path, json=body)
            assert answer.status_code == 507, (path, answer.status_code, answer.text)
            assert str(data / "voicebox.db") in answer.json()["detail"], answer.text
    assert [p["name"] for p in httpx.get(f"{base}/profiles").json()] == ["Before"]
    assert httpx.get(f"{base}/settings/generation").json() == settings
    assert httpx.get(f"{base}/history").json()["total"] == 0
    assert httpx.post(f"{base}/profiles", json={"name": "After", "language": "en"}).status_code == 201


def _unwritable_dir(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        locked = tmp_path / "ro"
        locked.mkdir()
        locked.chmod(0o555)
        return locked / "data"
    return Path("/sys/voicebox-readonly-test")  # sysfs: not even root may create a folder


def test_an_unwritable_data_dir_is_one_line_naming_it(tmp_path: Path) -> None:
    target = _unwritable_dir(tmp_path)
    done = subprocess.run([sys.executable, "-m", "voicebox_core", "serve", "--port", str(free_port()),
                           "--data-dir", str(target)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(target) in lines[0] and "Traceback" not in done.stderr, done.stderr
    with TestClient(create_app(tmp_path / "fine")) as client:
        assert client.get("/health").status_code == 200


def test_a_second_server_on_one_data_dir_is_refused_naming_the_first(live: LiveServers, tmp_path: Path) -> None:
    data = tmp_path / "shared"
    live.start(data)
    first = next(iter(live.processes.values())).pid
    done = subprocess.run([sys.executable, "-m", "voicebox_core", "serve", "--port", str(free_port()),
                           "--data-dir", str(data)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    line = done.stderr.strip().splitlines()
    assert len(line) == 1 and f"PID {first}" in line[0] and str(data) in line[0], done.stderr


def test_serve_on_ray_without_ray_installed_says_how_to_install_it(tmp_path: Path) -> None:
    """This env has voicebox-core[server] and no Ray (the [ray] extra): one line that says so."""
    done = subprocess.run([sys.executable, "-m", "voicebox_core", "serve", "--port", str(free_port()),
                           "--data-dir", str(tmp_path / "data"), "--ray", "local"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "voicebox-core[ray]" in lines[0] and "Traceback" not in done.stderr, done.stderr


# 10 -- the schema tells the truth -----------------------------------------------------------


def test_the_schema_documents_the_errors_and_the_constraints(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    error = schema["components"]["schemas"]["ErrorResponse"]
    assert error["properties"]["detail"]["type"] == "string"
    generate = schema["paths"]["/generate"]["post"]["responses"]
    for status in ("404", "409", "413", "422", "503", "507"):
        assert generate[status]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    text = schema["components"]["schemas"]["GenerateBody"]["properties"]["text"]
    assert text["minLength"] == 1 and "pattern" in text
    name = schema["components"]["schemas"]["ProfileBody"]["properties"]["name"]
    assert "pattern" in name
    history = client.get("/history?limit=1").json()
    assert history == {"items": [], "total": 0}
    created = client.post("/profiles", json={"name": "Zoned", "language": "en"}).json()
    assert created["created_at"].endswith("+00:00") and created["updated_at"].endswith("+00:00")


def test_progress_of_a_model_that_is_not_downloading_ends_at_once(client: TestClient) -> None:
    started = time.perf_counter()
    events = client.get("/models/progress/hubtest-tiny").text
    assert time.perf_counter() - started < 5
    last = json.loads([line for line in events.splitlines() if line.startswith("data: ")][-1][6:])
    assert last["status"] == "idle" and last["downloaded"] is False
