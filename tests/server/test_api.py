"""The API in process: every route, what it stores, and 4xx for everything a client can get wrong."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
import voicebox_core as vb
from voicebox_core.server import create_app

REFERENCE = "reference"
TEN = " ".join(f"This is sentence number {n}, spoken to measure the encoding." for n in range(1, 11))


def finished(client: TestClient, generation_id: str) -> dict:
    """Read the status stream to its end, as the Voicebox app does; return the history row."""
    with client.stream("GET", f"/generate/{generation_id}/status") as events:
        statuses = [json.loads(line[6:])["status"] for line in events.iter_lines() if line.startswith("data: ")]
    assert statuses[-1] in ("completed", "failed"), statuses
    return client.get(f"/history/{generation_id}").json()


def generate(client: TestClient, **body: object) -> dict:
    response = client.post("/generate", json=body)
    assert response.status_code == 200, response.text
    return finished(client, response.json()["id"])


def wav_bytes(audio: np.ndarray, rate: int = 24000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="WAV")
    return buffer.getvalue()


# -- metadata ------------------------------------------------------------------------------


def test_health_and_engines_come_from_metadata(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "healthy" and health["model_loaded"] is False
    assert isinstance(health["gpu_available"], bool)
    body = client.get("/engines").json()
    engine = next(e for e in body["engines"] if e["name"] == REFERENCE)
    assert engine["distribution"] == "voicebox-test-reference"
    assert {v["voice_id"] for v in engine["preset_voices"]} >= {"low", "high", "alto"}
    assert engine["capabilities"]["deterministic"] is True
    assert {m["model_name"]: m["sample_rate"] for m in engine["models"]}["reference-24k"] == 24000
    assert engine["languages"] == ["en", "de"] and engine["default_voice"] == "low"
    assert engine["language_labels"] == {"en": "English", "de": "German"}  # from langcodes, not a table
    assert engine["lives"] == {"mode": "in-process"}
    assert body["failed"] == []


def test_presets_per_engine(client: TestClient) -> None:
    presets = client.get(f"/profiles/presets/{REFERENCE}").json()
    assert presets["engine"] == REFERENCE
    assert [p["voice_id"] for p in presets["voices"]][:3] == ["low", "high", "alto"]
    assert presets["voices"][0] == {"voice_id": "low", "name": "Low buzz", "gender": "male",
                                    "language": "en", "languages": ["en"], "models": []}
    assert client.get("/profiles/presets/nope").status_code == 404


# -- models --------------------------------------------------------------------------------


def test_model_status_load_unload_keep_the_size(client: TestClient) -> None:
    status = {m["model_name"]: m for m in client.get("/models/status").json()["models"]}
    assert status["reference-24k"]["model_size"] == "24k" and status["reference-24k"]["downloaded"]
    loaded = client.post("/models/reference-24k/load").json()
    assert loaded["loaded"] and loaded["model_size"] == "24k"
    assert client.get("/health").json()["loaded_models"] == ["reference-24k"]
    assert not client.post("/models/reference-24k/unload").json()["loaded"]
    assert client.post("/models/nope/load").status_code == 404


def test_bundled_model_download_is_complete_and_delete_is_refused(client: TestClient) -> None:
    assert client.post("/models/download", json={"model_name": "reference-16k"}).json()["status"] == "complete"
    events = client.get("/models/progress/reference-16k").text
    assert json.loads(events.split("data: ")[1])["status"] == "complete"  # fresh: replayed
    assert client.delete("/models/reference-16k").status_code == 409


def test_concurrent_loads_load_once(tmp_path: Path) -> None:
    app = create_app(tmp_path)
    state = app.state.voicebox
    backend = state.registry.backend(REFERENCE)
    calls = []
    original = backend.load_model

    async def counting(model_size: str = "default") -> None:
        calls.append(model_size)
        await asyncio.sleep(0.05)
        await original(model_size)

    backend.load_model = counting

    async def many() -> None:
        await asyncio.gather(*(state.synthesizer.load("reference-16k") for _ in range(10)))

    asyncio.run(many())
    assert calls == ["default"]


def test_lru_keeps_at_most_max_loaded_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = tmp_path / "hubtest-weights"  # a local copy of the other engine's model
    local.mkdir()
    (local / "config.json").write_text('{"pitch": 300}')
    monkeypatch.setenv("VOICEBOX_MODEL_PATH_HUBTEST_TINY", str(local))
    monkeypatch.setenv("VOICEBOX_MAX_LOADED_MODELS", "1")
    with TestClient(create_app(tmp_path / "data")) as client:
        client.post("/models/reference-16k/load")
        assert client.post("/models/hubtest-tiny/load").json()["loaded"]
        assert client.get("/health").json()["loaded_models"] == ["hubtest-tiny"]
        assert not client.app.state.voicebox.registry.backend(REFERENCE).is_loaded()
        generate(client, text="hi", engine=REFERENCE)  # reloads, evicts
        assert client.get("/health").json()["loaded_models"] == ["reference-16k"]


# -- profiles ------------------------------------------------------------------------------


def test_profile_crud_and_samples(client: TestClient, clip: Path) -> None:
    created = client.post("/profiles", json={"name": "Ada", "language": "en"})
    assert created.status_code == 201
    profile = created.json()
    assert profile["sample_count"] == 0 and profile["generation_count"] == 0
    assert profile["updated_at"].endswith("+00:00") and profile["effects_chain"] is None
    assert client.post("/profiles", json={"name": "Ada"}).status_code == 409
    upload = client.post(f"/profiles/{profile['id']}/samples", data={"reference_text": "a buzz"},
                         files={"file": ("ref.wav", clip.read_bytes(), "audio/wav")})
    assert upload.status_code == 201 and upload.json()["duration"] == pytest.approx(3.0, abs=0.01)
    assert upload.json()["audio_path"].startswith("samples/")
    assert len(client.get(f"/profiles/{profile['id']}/samples").json()) == 1
    renamed = client.put(f"/profiles/{profile['id']}", json={"name": "Ada L."}).json()
    assert renamed["name"] == "Ada L." and renamed["sample_count"] == 1
    assert [p["name"] for p in client.get("/profiles").json()] == ["Ada L."]
    sample_id = renamed["samples"][0]["id"]
    assert client.get(f"/samples/{sample_id}").content[:4] == b"RIFF"
    assert client.delete(f"/profiles/{profile['id']}/samples/{sample_id}").json()["message"]
    assert client.delete(f"/profiles/{profile['id']}").json()["message"]
    assert client.get(f"/profiles/{profile['id']}").status_code == 404


def _download_name(response) -> str:
    """The file name a browser saves: RFC 6266's ``filename*`` (and an ASCII ``filename``)."""
    import re
    from urllib.parse import unquote

    header = response.headers["content-disposition"]
    assert re.search(r'(?:^|; )filename="[ -~]+"', header), header
    star = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    assert star is not None, header
    return unquote(star.group(1), errors="strict")


def test_downloads_of_any_name_carry_it_in_filename_star(client: TestClient, clip: Path) -> None:
    profile = client.post("/profiles", json={"name": "日本語 123", "language": "ja"}).json()
    client.post(f"/profiles/{profile['id']}/samples", data={"reference_text": "x"},
                files={"file": ("r.wav", clip.read_bytes(), "audio/wav")})
    exported = client.get(f"/profiles/{profile['id']}/export")
    assert exported.status_code == 200 and exported.content[:2] == b"PK"
    assert _download_name(exported) == "profile-日本語 123.voicebox.zip"
    spoken = generate(client, text="Grüße, café", engine=REFERENCE, voice="high", language="en")
    audio = client.get(f"/history/{spoken['id']}/export-audio")
    assert audio.status_code == 200 and _download_name(audio) == "Grüße café.wav"
    sample_id = client.get(f"/profiles/{profile['id']}/samples").json()[0]["id"]
    assert _download_name(client.get(f"/samples/{sample_id}")) == f"sample_{sample_id}.wav"


def test_stored_files_have_the_permissions_the_umask_gives(tmp_path: Path, clip: Path) -> None:
    """Generations, samples and avatars are the user's files: 0666 less the umask, not 0600."""
    import os
    import stat

    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (8, 8)).save(picture, format="PNG")
    before = os.umask(0o027)
    try:
        with TestClient(create_app(tmp_path / "data")) as client:
            profile = client.post("/profiles", json={"name": "Modes"}).json()
            client.post(f"/profiles/{profile['id']}/samples", data={"reference_text": "x"},
                        files={"file": ("r.wav", clip.read_bytes(), "audio/wav")})
            client.post(f"/profiles/{profile['id']}/avatar", files={"file": ("a.png", picture.getvalue())})
            generate(client, text="Hello.", engine=REFERENCE, voice="high")
    finally:
        os.umask(before)
    written = [p for folder in ("generations", "samples", "avatars") for p in (tmp_path / "data" / folder).iterdir()]
    assert len(written) == 3
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {p.name: "0o640" for p in written}


@pytest.mark.parametrize(("name", "needle"), [
    ("../etc/passwd", "not allowed"), ("a/b", "not allowed"), (".hidden", "not allowed"),
    ("tab\tname", "not allowed"), ("", "at least 1 character"), ("x" * 101, "at most 100"),
])
def test_path_like_or_bad_profile_names_are_refused(client: TestClient, name: str, needle: str) -> None:
    response = client.post("/profiles", json={"name": name})
    assert response.status_code == 422 and needle in response.json()["detail"]


@pytest.mark.parametrize(("payload", "status", "needle"), [
    (b"", 422, "empty"),
    (b"definitely not audio", 422, "could not be decoded"),
    ("short", 422, "between 2 and 30 s"),
    ("silent", 422, "silent"),
    ("long", 422, "between 2 and 30 s"),
])
def test_bad_uploads_are_refused_and_leave_nothing(client: TestClient, tmp_path: Path,
                                                   payload: object, status: int, needle: str) -> None:
    profile = client.post("/profiles", json={"name": "Bob"}).json()
    data = {"short": wav_bytes(np.full(24000, 0.2, np.float32)),
            "silent": wav_bytes(np.zeros(24000 * 3, np.float32)),
            "long": wav_bytes(np.full(24000 * 31, 0.2, np.float32))}.get(payload, payload)  # type: ignore[call-overload]
    response = client.post(f"/profiles/{profile['id']}/samples", data={"reference_text": "x"},
                           files={"file": ("x.wav", data, "audio/wav")})
    assert response.status_code == status and needle in response.json()["detail"]
    assert "/tmp" not in response.json()["detail"]
    samples_dir = client.app.state.voicebox.samples_dir
    assert list(samples_dir.iterdir()) == []
    assert client.get(f"/profiles/{profile['id']}").json()["samples"] == []


def test_oversize_upload_is_413(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clip: Path) -> None:
    monkeypatch.setenv("VOICEBOX_MAX_UPLOAD_MB", "0.01")
    with TestClient(create_app(tmp_path)) as client:
        profile = client.post("/profiles", json={"name": "Big"}).json()
        response = client.post(f"/profiles/{profile['id']}/samples", data={"reference_text": "x"},
                               files={"file": ("x.wav", clip.read_bytes(), "audio/wav")})
        assert response.status_code == 413 and "VOICEBOX_MAX_UPLOAD_MB" in response.json()["detail"]


def test_preset_and_designed_profiles_are_validated(client: TestClient) -> None:
    ok = client.post("/profiles", json={"name": "Low", "voice_type": "preset",
                                        "preset_engine": REFERENCE, "preset_voice_id": "low"})
    assert ok.status_code == 201
    assert ok.json()["default_engine"] == REFERENCE and ok.json()["language"] == "en"
    bad = client.post("/profiles", json={"name": "X", "voice_type": "preset",
                                         "preset_engine": REFERENCE, "preset_voice_id": "nope"})
    assert bad.status_code == 404 and "its voices: alto, bright, high, low" in bad.json()["detail"]
    assert client.post("/profiles", json={"name": "D", "voice_type": "designed"}).status_code == 422
    # the reference engine has no designed voices: a default_engine that cannot speak it is refused
    designed = client.post("/profiles", json={"name": "D", "voice_type": "designed",
                                              "design_prompt": "calm", "default_engine": REFERENCE})
    assert designed.status_code == 422 and "not designed" in designed.json()["detail"]


# -- generation ----------------------------------------------------------------------------


def test_generate_stores_row_and_audio(client: TestClient) -> None:
    started = client.post("/generate", json={"text": "Hello there.", "engine": REFERENCE,
                                             "voice": "high", "seed": 3})
    assert started.status_code == 200 and started.json()["status"] in ("loading_model", "generating")
    generated = finished(client, started.json()["id"])
    assert generated["status"] == "completed" and generated["model_name"] == "reference-16k"
    assert generated["voice"] == "preset:high" and generated["profile_name"]
    audio = client.get(generated["audio_url"])
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    data, rate = sf.read(io.BytesIO(audio.content))
    assert rate == 16000 and len(data) == round(generated["duration"] * rate)
    history = client.get("/history").json()
    assert [h["id"] for h in history["items"]] == [generated["id"]] and history["total"] == 1
    assert client.delete(f"/history/{generated['id']}").json()["message"]
    assert client.get(generated["audio_url"]).status_code == 404


def test_generate_from_profiles(client: TestClient, clip: Path) -> None:
    preset = client.post("/profiles", json={"name": "Alto", "voice_type": "preset",
                                            "preset_engine": REFERENCE, "preset_voice_id": "alto"}).json()
    out = generate(client, text="Guten Tag", profile_id=preset["id"])
    assert out["language"] == "de" and out["profile_id"] == preset["id"] and out["profile_name"] == "Alto"
    cloned = client.post("/profiles", json={"name": "Me", "default_model": "reference-24k"}).json()
    assert client.post("/generate", json={"text": "Hi", "profile_id": cloned["id"]}).status_code == 422
    for _ in range(2):  # two samples: the multi-sample path
        client.post(f"/profiles/{cloned['id']}/samples", data={"reference_text": "buzz"},
                    files={"file": ("r.wav", clip.read_bytes(), "audio/wav")})
    out = generate(client, text="Cloned words", profile_id=cloned["id"])
    assert out["model_name"] == "reference-24k" and out["voice"] == "cloned:2 sample(s)"
    listed = client.get(f"/history?profile_id={cloned['id']}").json()
    assert [h["id"] for h in listed["items"]] == [out["id"]]
    assert client.get(f"/profiles/{cloned['id']}").json()["generation_count"] == 1


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"text": "hi", "engine": "nope"}, 404, "unknown engine 'nope'; installed engines:"),
    ({"text": "hi", "model": "nope"}, 404, "unknown model 'nope'"),
    ({"text": "hi", "engine": REFERENCE, "voice": "nope"}, 404, "unknown voice 'nope'"),
    ({"text": "hi", "profile_id": "nope"}, 404, "no profile with id 'nope'"),
    ({"text": "hi", "engine": REFERENCE, "language": "fr"}, 422, "choose one of: de, en"),
    ({"text": "", "engine": REFERENCE}, 422, "text: String should have at least 1 character"),
    ({"text": "?!", "engine": REFERENCE}, 422, "no letters or digits"),
    ({"text": "hi", "engine": REFERENCE, "seed": -1}, 422, "seed: Input should be greater than"),
    ({"text": "hi", "engine": REFERENCE, "seed": 2**40}, 422, "seed: Input should be less than"),
    ({"text": "hi", "engine": REFERENCE, "instruct": "whisper"}, 422, "does not take an instruct"),
    ({"text": "hi"}, 422, "give 'engine'"),
    ({"text": "hi", "engine": REFERENCE, "model_size": "9B"}, 422, "its sizes: default, 24k"),
    ({"text": "hi", "engine": REFERENCE, "personality": True}, 422, "personality rewriting"),
    ({"text": "hi", "engine": REFERENCE, "effects_chain": [{"type": "reverb"}]}, 422, "effects chains"),
    ({"text": "hi", "engine": REFERENCE, "surprise": 1}, 422, "surprise: Extra inputs"),
    ({"engine": REFERENCE}, 422, "text: Field required"),
])
def test_bad_generation_requests_are_4xx_and_store_nothing(client: TestClient, body: dict, status: int,
                                                           needle: str) -> None:
    response = client.post("/generate", json=body)
    assert response.status_code == status and needle in response.json()["detail"], response.text
    assert client.get("/history").json() == {"items": [], "total": 0}
    assert list(client.app.state.voicebox.audio_dir.iterdir()) == []


def test_an_engine_of_a_set_aside_plugin_is_a_404_naming_the_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin whose metadata is rejected: its engine and model are 404s that say which
    plugin failed and why, not "unknown engine; installed engines: ..." alone."""
    import importlib_metadata
    from voicebox_core.registry import Registry, engine_entry_points

    (tmp_path / "set_aside_engine.py").write_text(
        "import voicebox_core as vb\nVOICEBOX_API_VERSION = vb.API_VERSION\n"
        "@vb.hookimpl\ndef voicebox_register_engines(register):\n"
        "    register(vb.EngineInfo(name='mms_tts', display_name='MMS', backend='no_such_module:B',\n"
        "        voice_kinds=('preset',), preset_voices=(vb.PresetVoice('v', 'V', 'en'),), default_voice='v',\n"
        "        models=(vb.ModelConfig(model_name='mms-tts-eng', display_name='M', engine='mms_tts',\n"
        "            hf_repo_id=None, bundled=True, sample_rate=16000, languages=('en',)),)))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = importlib_metadata.EntryPoint("mms_tts", "set_aside_engine", "voicebox.engines")
    registry = Registry.discover([*engine_entry_points(), broken], isolated=False)
    with TestClient(create_app(tmp_path / "data", registry)) as client:
        for response in (client.post("/generate", json={"text": "hi", "engine": "mms_tts"}),
                         client.post("/v1/audio/speech", json={"input": "hi", "model": "mms-tts-eng", "voice": "v"}),
                         client.get("/v1/models/mms_tts")):
            detail = response.json()["detail"]
            assert response.status_code == 404, response.text
            assert "plugin 'mms_tts'" in detail and "which provides it, was set aside" in detail, detail
            assert "metadata failed: engine 'mms_tts': field 'backend' names module 'no_such_module'" in detail
            assert "voicebox engines doctor" in detail and "GET /engines" in detail


def test_over_limit_text_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOX_MAX_TEXT_CHARS", "50")
    with TestClient(create_app(tmp_path)) as client:
        response = client.post("/generate", json={"text": "word " * 20, "engine": REFERENCE})
        assert response.status_code == 422 and "VOICEBOX_MAX_TEXT_CHARS" in response.json()["detail"]
        response = client.post("/generate/stream", json={"text": "word " * 20, "engine": REFERENCE})
        assert response.status_code == 422 and "VOICEBOX_MAX_TEXT_CHARS" in response.json()["detail"]


def test_stream_is_a_wav_of_every_chunk(client: TestClient) -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(12))
    response = client.post("/generate/stream", json={"text": text, "engine": REFERENCE, "seed": 1})
    assert response.status_code == 200 and response.content[:4] == b"RIFF"
    pcm = np.frombuffer(response.content[44:], dtype="<i2")
    whole = generate(client, text=text, engine=REFERENCE, seed=1)
    assert abs(len(pcm) / 16000 - whole["duration"]) < 0.5  # the same speech, not a prefix
    assert client.post("/generate/stream", json={"text": "", "engine": REFERENCE}).status_code == 422
    assert client.post("/generate/stream", json={"text": "?", "engine": REFERENCE}).status_code == 422


def test_full_queue_answers_503_with_retry_after(client: TestClient) -> None:
    queue = client.app.state.voicebox.queue(REFERENCE)
    queue.waiting = queue.limit
    for route in ("/generate", "/generate/stream"):
        response = client.post(route, json={"text": "hi", "engine": REFERENCE})
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert "VOICEBOX_MAX_QUEUE" in response.json()["detail"]
    assert client.get("/history").json()["total"] == 0
    queue.waiting = 0


# -- OpenAI-compatible ---------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "magic"), [("wav", b"RIFF"), ("flac", b"fLaC"), ("mp3", None), ("pcm", None),
                                           ("opus", b"OggS"), ("aac", b"\xff\xf1")])
def test_speech_formats(client: TestClient, fmt: str, magic: bytes | None) -> None:
    response = client.post("/v1/audio/speech", json={"model": REFERENCE, "input": "Hello world.",
                                                     "voice": "high", "response_format": fmt})
    assert response.status_code == 200 and len(response.content) > 100
    if magic:
        assert response.content.startswith(magic)
    if fmt == "mp3":
        assert response.headers["content-type"] == "audio/mpeg"
        assert len(sf.read(io.BytesIO(response.content))[0]) > 1000
    if fmt == "aac":  # ADTS frames (MPEG-4 AAC-LC), as OpenAI sends
        import av

        assert response.headers["content-type"] == "audio/aac"
        with av.open(io.BytesIO(response.content)) as container:
            stream = container.streams.audio[0]
            assert (stream.codec_context.name, stream.rate, stream.codec_context.layout.nb_channels) == ("aac", 16000, 1)
            assert sum(frame.samples for frame in container.decode(audio=0)) > 16000 // 2


def _mp3_frame_bitrates(data: bytes, rate: int) -> set[int]:
    """The kbit/s in the header of every MPEG audio frame after the ID3 tag and the Info frame."""
    kbit = {16000: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
            32000: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)}
    table = kbit[32000 if rate >= 32000 else 16000]
    offset = 10 + int.from_bytes(bytes(b & 0x7F for b in data[6:10]), "big") if data[:3] == b"ID3" else 0
    found = []
    while offset + 4 <= len(data) and data[offset] == 0xFF and data[offset + 1] & 0xE0 == 0xE0:
        index, padding = data[offset + 2] >> 4, (data[offset + 2] >> 1) & 1
        found.append(table[index])
        samples = 1152 if rate >= 32000 else 576
        offset += samples // 8 * table[index] * 1000 // rate + padding
    return set(found[1:])  # the first frame is LAME's Info header


@pytest.mark.parametrize("model", ["reference-16k", "reference-24k"])
def test_mp3_is_a_constant_128_kbit_s(client: TestClient, model: str) -> None:
    """Not libsndfile's default (variable, about 50 kbit/s): what OpenAI and Kokoro-FastAPI serve."""
    answer = client.post("/v1/audio/speech", json={"model": model, "input": TEN, "voice": "high",
                                                   "response_format": "mp3"})
    rate = {"reference-16k": 16000, "reference-24k": 24000}[model]
    assert _mp3_frame_bitrates(answer.content, rate) == {128}
    audio, decoded_rate = sf.read(io.BytesIO(answer.content))
    assert decoded_rate == rate and len(answer.content) * 8 / (len(audio) / rate) == pytest.approx(128_000, rel=0.05)


def test_speech_speed_shortens_audio(client: TestClient) -> None:
    def seconds(speed: float) -> float:
        body = {"model": "reference-16k", "input": "One two three four.", "response_format": "wav",
                "speed": speed, "seed": 1}
        content = client.post("/v1/audio/speech", json=body).content
        return len(content[44:]) / 2 / 16000

    assert seconds(2.0) == pytest.approx(seconds(1.0) / 2, rel=0.05)
    bad = client.post("/v1/audio/speech", json={"model": REFERENCE, "input": "x", "speed": 9})
    assert bad.status_code == 422 and "0.25 to 4.0" in bad.json()["detail"]


def test_speech_sse_stream(client: TestClient) -> None:
    response = client.post("/v1/audio/speech", json={"model": REFERENCE, "input": "One. Two.",
                                                     "stream_format": "sse", "response_format": "pcm"})
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1]["type"] == "speech.audio.done"
    assert events[0]["type"] == "speech.audio.delta" and len(events[0]["audio"]) > 100


def _sse_events(response) -> list[dict]:  # type: ignore[no-untyped-def]
    return [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]


def _hubtest_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """A server whose hubtest engine (no word timestamps) has its weights locally."""
    local = tmp_path / "hubtest-weights"
    local.mkdir()
    (local / "config.json").write_text('{"pitch": 300}')
    monkeypatch.setenv("VOICEBOX_MODEL_PATH_HUBTEST_TINY", str(local))
    return TestClient(create_app(tmp_path / "data"))


def test_sse_deltas_say_when_each_word_is_spoken(client: TestClient) -> None:
    """The reference engine's words are its syllables, 0.18 s each: the times are exact."""
    text = "Hello over there. Another sentence follows."
    for speed in (1.0, 2.0):
        response = client.post("/v1/audio/speech", json={"model": REFERENCE, "input": text, "speed": speed,
                                                         "stream_format": "sse", "response_format": "mp3"})
        events = _sse_events(response)
        assert events[-1] == {"type": "speech.audio.done", "word_timestamps": True}
        words = [w for e in events[:-1] for w in e["timestamps"]]
        assert [w["word"] for w in words] == text.split()
        syllables = [sum(c in "aeiouy" for c in w.lower()) for w in text.split()]
        starts = np.cumsum([0, *syllables[:-1]]) * 0.18 / speed
        ends = np.cumsum(syllables) * 0.18 / speed
        np.testing.assert_allclose([w["start"] for w in words], starts, atol=0.002)
        np.testing.assert_allclose([w["end"] for w in words], ends, atol=0.002)


def test_an_engine_without_alignments_has_no_timestamps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _hubtest_client(tmp_path, monkeypatch) as client:
        engines = {e["name"]: e for e in client.get("/engines").json()["engines"]}
        assert engines["hubtest"]["capabilities"]["word_timestamps"] is False
        assert engines[REFERENCE]["capabilities"]["word_timestamps"] is True
        events = _sse_events(client.post("/v1/audio/speech", json={
            "model": "hubtest-tiny", "input": "No words here.", "stream_format": "sse"}))
        assert events[-1] == {"type": "speech.audio.done", "word_timestamps": False}
        assert all("timestamps" not in e for e in events[:-1])
        row = generate(client, text="No captions either.", engine="hubtest")
        assert row["status"] == "completed" and row["captions_url"] is None
        refused = client.get(f"/history/{row['id']}/captions")
        assert refused.status_code == 409 and "no word timestamps" in refused.json()["detail"]


def test_captions_of_a_generation_in_webvtt_srt_and_json(client: TestClient) -> None:
    text = "First sentence here. And the second one."
    row = generate(client, text=text, engine=REFERENCE, seed=1)
    assert row["captions_url"] == f"/history/{row['id']}/captions"
    vtt = client.get(row["captions_url"])
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.headers["content-disposition"].endswith(".vtt") or ".vtt" in vtt.headers["content-disposition"]
    assert vtt.text.startswith("WEBVTT\n\n00:00:00.000 --> ")
    cues = [line for line in vtt.text.splitlines() if "-->" not in line and line and line != "WEBVTT"]
    assert cues == ["First sentence here.", "And the second one."]
    srt = client.get(row["captions_url"], params={"format": "srt"})
    assert srt.status_code == 200 and srt.text.startswith("1\n00:00:00,000 --> ") and "\n2\n" in srt.text
    words = client.get(row["captions_url"], params={"format": "json"}).json()
    assert [w["word"] for w in words] == text.split()
    assert words[-1]["end"] <= row["duration"] + 0.001
    assert client.get(row["captions_url"], params={"format": "ass"}).status_code == 422
    assert client.get("/history/nope/captions").status_code == 404


def test_speech_voice_by_profile_name_or_id(client: TestClient) -> None:
    profile = client.post("/profiles", json={"name": "Deep", "voice_type": "preset",
                                             "preset_engine": REFERENCE, "preset_voice_id": "low"}).json()
    for voice in ("Deep", profile["id"]):
        response = client.post("/v1/audio/speech", json={"model": REFERENCE, "input": "Hi.",
                                                         "voice": voice, "response_format": "wav"})
        assert response.status_code == 200
    bad = client.post("/v1/audio/speech", json={"model": REFERENCE, "input": "Hi.", "voice": "no-such-voice"})
    assert bad.status_code == 404 and "Deep" in bad.json()["detail"] and "low" in bad.json()["detail"]
    ogg = client.post("/v1/audio/speech", json={"model": REFERENCE, "input": "Hi.", "response_format": "ogg"})
    assert ogg.status_code == 422 and "response_format" in ogg.json()["detail"]  # not one of OpenAI's six


def test_v1_listings_show_what_can_be_generated_now(client: TestClient) -> None:
    ready = {m["id"] for m in client.get("/v1/models").json()["data"]}
    everything = {m["id"] for m in client.get("/v1/models?all=true").json()["data"]}
    assert {"reference-16k", "reference-24k"} <= ready
    assert "hubtest-tiny" in everything and "hubtest-tiny" not in ready
    voices = client.get("/v1/audio/voices").json()["voices"]
    assert {"low", "high"} <= {v["id"] for v in voices} and "tone" not in {v["id"] for v in voices}
    assert "tone" in {v["id"] for v in client.get("/v1/audio/voices?all=true").json()["voices"]}


def test_openai_model_and_voice_names_mean_installed_ones(client: TestClient) -> None:
    """What agent frameworks send (tts-1, gpt-4o-mini-tts; alloy, nova...) reaches an installed
    model and voice; /engines and /v1/audio/voices say what each means."""
    table = client.get("/engines").json()["openai_aliases"]
    assert set(table["models"]) == {"tts-1", "tts-1-hd", "gpt-4o-mini-tts"}
    target = table["models"]["tts-1"]
    engine = client.get(f"/v1/models/{target}").json()["engine"]
    presets = {v["voice_id"] for e in client.get("/engines").json()["engines"] if e["name"] == engine
               for v in e["preset_voices"]}
    assert {"alloy", "ash", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer"} <= set(table["voices"])
    assert set(table["voices"].values()) <= presets
    for model, voice in (("tts-1", "alloy"), ("gpt-4o-mini-tts", "nova"), ("tts-1-hd", "onyx")):
        response = client.post("/v1/audio/speech", json={"model": model, "input": "Hello there.", "voice": voice,
                                                         "response_format": "wav"})
        assert response.status_code == 200, response.text
    listed = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert listed["tts-1"]["alias_of"] == target
    voices = {v["id"]: v for v in client.get("/v1/audio/voices").json()["voices"]}
    assert voices["alloy"]["kind"] == "alias" and voices["alloy"]["alias_of"] == table["voices"]["alloy"]


def test_pcm_and_sse_audio_are_24khz_as_openai_clients_play_them(client: TestClient) -> None:
    """OpenAI documents raw PCM as 24 kHz 16-bit mono and every client plays it so: the same
    speech as pcm, as SSE deltas and as a wav (the engine's own 16 kHz) lasts the same."""
    import base64
    import io
    import json

    import soundfile as sf

    body = {"model": "reference-16k", "input": "Hello there. How are you today?", "voice": "low", "seed": 5}
    wav = client.post("/v1/audio/speech", json={**body, "response_format": "wav"})
    native = len(wav.content[44:]) / 2 / 16000
    assert wav.headers["x-sample-rate"] == "16000"
    pcm = client.post("/v1/audio/speech", json={**body, "response_format": "pcm"})
    assert pcm.headers["x-sample-rate"] == "24000" and pcm.headers["content-type"] == "audio/pcm"
    assert abs(len(pcm.content) / 2 / 24000 / native - 1) < 0.02
    sse = client.post("/v1/audio/speech", json={**body, "response_format": "pcm", "stream_format": "sse"})
    events = [json.loads(line[6:]) for line in sse.text.splitlines() if line.startswith("data: ")]
    audio = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")
    assert events[-1]["type"] == "speech.audio.done" and abs(len(audio) / 2 / 24000 / native - 1) < 0.02
    chosen = client.post("/v1/audio/speech", json={**body, "response_format": "pcm", "sample_rate": 16000})
    assert chosen.headers["x-sample-rate"] == "16000" and abs(len(chosen.content) / 2 / 16000 / native - 1) < 0.02
    assert client.post("/v1/audio/speech", json={**body, "response_format": "pcm", "sample_rate": 100}).status_code == 422
    assert sf.info(io.BytesIO(wav.content)).samplerate == 16000


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav"])
def test_sse_deltas_are_the_requested_format(client: TestClient, fmt: str) -> None:
    """As OpenAI sends them and LiveKit's plugin decodes them: the deltas joined are one file
    of the requested format (decoded here by FFmpeg through PyAV, as LiveKit does), as long as
    the engine's own audio."""
    import base64
    import io
    import json

    import av

    body = {"model": "reference-16k", "input": "Hello there. How are you today?", "voice": "low", "seed": 5}
    native = len(client.post("/v1/audio/speech", json={**body, "response_format": "wav"}).content[44:]) / 2 / 16000
    sse = client.post("/v1/audio/speech", json={**body, "response_format": fmt, "stream_format": "sse"})
    assert sse.status_code == 200 and sse.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in sse.text.splitlines() if line.startswith("data: ")]
    data = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(audio=0))
    seconds = sum(f.samples for f in frames) / frames[0].sample_rate
    assert abs(seconds - native) < 0.1, (fmt, seconds, native)  # codecs' own padding aside


def test_operators_choose_what_openai_names_mean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOX_OPENAI_MODEL", "reference-24k")
    monkeypatch.setenv("VOICEBOX_OPENAI_VOICES", '{"alloy": "high", "nova": "Deep"}')
    with TestClient(create_app(tmp_path)) as client:
        client.post("/profiles", json={"name": "Deep", "voice_type": "preset", "preset_engine": REFERENCE,
                                       "preset_voice_id": "low"})
        table = client.get("/engines").json()["openai_aliases"]
        assert table["models"]["tts-1"] == "reference-24k" and table["voices"]["alloy"] == "high"
        for voice in ("alloy", "nova"):
            response = client.post("/v1/audio/speech", json={"model": "tts-1", "input": "Hi there.", "voice": voice,
                                                             "response_format": "wav"})
            assert response.status_code == 200, response.text
        # a real model or voice of that name would win; an unknown one is still a 404
        assert client.post("/v1/audio/speech", json={"model": "tts-2", "input": "Hi."}).status_code == 404
    monkeypatch.setenv("VOICEBOX_OPENAI_VOICES", "{not json")
    with pytest.raises(vb.InvalidRequestError, match="VOICEBOX_OPENAI_VOICES is not valid JSON"):
        create_app(tmp_path / "other")


# -- security ------------------------------------------------------------------------------


def test_bearer_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOX_API_TOKEN", "s3cret")
    with TestClient(create_app(tmp_path)) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/engines").status_code == 401
        assert client.get("/engines", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/engines", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_without_the_token_every_route_is_401_before_any_lookup(tmp_path: Path, clip: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A stranger learns nothing: not which profile ids exist, not an upload's limit."""
    import re

    from voicebox_core.server.app import OPEN_PATHS

    monkeypatch.setenv("VOICEBOX_API_TOKEN", "s3cret")
    with TestClient(create_app(tmp_path)) as client:
        auth = {"Authorization": "Bearer s3cret"}
        real = client.post("/profiles", json={"name": "Known"}, headers=auth).json()["id"]
        upload = {"data": {"reference_text": "x"}, "files": {"file": ("r.wav", clip.read_bytes(), "audio/wav")}}
        for profile_id in (real, "unknown"):
            assert client.post(f"/profiles/{profile_id}/samples", **upload).status_code == 401
            assert client.post(f"/profiles/{profile_id}/avatar", files={"file": ("a.png", b"x")}).status_code == 401
        oversize = client.post(f"/profiles/{real}/samples", content=b"x",
                               headers={"Content-Length": str(2**40), "Content-Type": "multipart/form-data"})
        assert oversize.status_code == 401
        foreign = client.post("/profiles", json={"name": "x"}, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 401
        operations = client.get("/openapi.json").json()["paths"]
        assert len(operations) > 40
        for template, methods in operations.items():
            for profile_id in (real, "unknown"):
                path = re.sub(r"\{[^}]+\}", profile_id, template)
                for method in methods:
                    if path in OPEN_PATHS:
                        continue
                    answer = client.request(method.upper(), path)
                    assert answer.status_code == 401, (method, path, answer.status_code, answer.text)
        assert client.post(f"/profiles/{real}/samples", headers=auth, **upload).status_code == 201


def test_a_wrong_method_is_405_with_every_method_the_path_takes(client: TestClient) -> None:
    """FastAPI keeps included routers as routes of their own: the Allow header came out empty.
    A concrete path takes its own methods, not those of a template that also matches it."""
    for method, path, allowed in (("PUT", "/generate", "POST"), ("PATCH", "/profiles/x", "DELETE, GET, PUT"),
                                  ("POST", "/history", "GET"), ("OPTIONS", "/models/status", "GET"),
                                  ("OPTIONS", "/profiles/import", "POST"), ("POST", "/", "GET")):
        answer = client.request(method, path)
        assert answer.status_code == 405 and answer.headers["allow"] == allowed, (path, answer.headers)
        assert answer.json()["detail"].endswith(f"use {allowed}")


def test_cors_allows_the_app_and_configured_origins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    headers = {"Origin": "http://app.example", "Access-Control-Request-Method": "GET"}
    with TestClient(create_app(tmp_path / "a")) as client:
        assert "access-control-allow-origin" not in client.options("/engines", headers=headers).headers
        for origin in ("tauri://localhost", "http://tauri.localhost", "https://tauri.localhost",
                       "http://localhost:5173"):
            preflight = client.options("/profiles", headers={
                "Origin": origin, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type"})
            assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin
    monkeypatch.setenv("VOICEBOX_CORS_ORIGINS", "http://app.example")
    with TestClient(create_app(tmp_path / "b")) as client:
        allowed = client.options("/engines", headers=headers).headers
        assert allowed["access-control-allow-origin"] == "http://app.example"


def test_history_paging_is_bounded(client: TestClient) -> None:
    """Found by schemathesis: an offset beyond SQLite's integers was a 500."""
    response = client.get("/history?limit=1&offset=9223372036854775808")
    assert response.status_code == 422 and "offset" in response.json()["detail"]


#: What a schema object may hold: JSON Schema 2020-12's keywords and OpenAPI 3.1's.
SCHEMA_KEYWORDS = {
    "$ref", "$defs", "title", "description", "default", "examples", "example", "deprecated", "readOnly",
    "writeOnly", "type", "enum", "const", "anyOf", "allOf", "oneOf", "not", "if", "then", "else",
    "properties", "required", "additionalProperties", "patternProperties", "propertyNames",
    "minProperties", "maxProperties", "items", "prefixItems", "contains", "minItems", "maxItems",
    "uniqueItems", "minLength", "maxLength", "pattern", "format", "contentMediaType", "contentEncoding",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "discriminator",
}


def _schemas(schema: object) -> list[dict]:
    """Every schema object in ``schema`` (itself, and those it holds)."""
    if not isinstance(schema, dict):
        return []
    found = [schema]
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        for inner in schema.get(key, []):
            found += _schemas(inner)
    for key in ("items", "not", "if", "then", "else", "additionalProperties", "contains", "propertyNames"):
        found += _schemas(schema.get(key))
    for key in ("properties", "patternProperties", "$defs"):
        for inner in schema.get(key, {}).values():
            found += _schemas(inner)
    return found


def test_the_schema_states_bounds_in_json_schema_terms(client: TestClient) -> None:
    """pydantic wrote ``ge``/``le``/``lt`` for the bounds of optional validated integers:
    no client or fuzzer reads those, so the bounds were invisible."""
    schema = client.get("/openapi.json").json()
    roots = list(schema["components"]["schemas"].values())
    for operations in schema["paths"].values():
        for operation in operations.values():
            roots += [p["schema"] for p in operation.get("parameters", [])]
            for media in [*operation.get("requestBody", {}).get("content", {}).values(),
                          *(m for r in operation["responses"].values() for m in r.get("content", {}).values())]:
                roots.append(media.get("schema"))
    unknown = {key for root in roots for inner in _schemas(root) for key in inner} - SCHEMA_KEYWORDS
    assert unknown == set(), f"not JSON Schema keywords: {sorted(unknown)}"
    bodies = schema["components"]["schemas"]
    for body, field, bounds in (("GenerateBody", "seed", (0, 2**32 - 1)), ("SpeechBody", "seed", (0, 2**32 - 1)),
                                ("GenerateBody", "crossfade_ms", (0, 500)),
                                ("GenerationSettingsBody", "max_chunk_chars", (100, 5000))):
        number = bodies[body]["properties"][field]["anyOf"][0]
        assert (number["minimum"], number["maximum"]) == bounds, (body, field, number)
        value = bounds[1] + 1
        path, extra = {"GenerateBody": ("/generate", {"text": "Hi", "engine": REFERENCE}),
                       "SpeechBody": ("/v1/audio/speech", {"model": REFERENCE, "input": "Hi"}),
                       "GenerationSettingsBody": ("/settings/generation", {})}[body]
        refused = client.request("PUT" if body == "GenerationSettingsBody" else "POST", path,
                                 json={**extra, field: value})
        assert refused.status_code == 422 and field in refused.json()["detail"], refused.text
    # which voice: a profile, an engine or a model, given as a string (null is not one)
    assert {"required": ["engine"], "properties": {"engine": {"type": "string"}}} in bodies["GenerateBody"]["anyOf"]
    assert client.post("/generate", json={"text": "Hi", "engine": None}).status_code == 422


def test_a_repeated_query_parameter_is_refused_not_reduced(client: TestClient) -> None:
    answer = client.get("/history?offset=0&offset=5")
    assert answer.status_code == 422 and "'offset' is given more than once" in answer.json()["detail"]
    assert client.get("/engines?deep=false&deep=true").status_code == 422
    assert client.get("/history?offset=0&limit=5").status_code == 200


def test_engines_deep_reports_each_engine_s_model_library(client: TestClient) -> None:
    plain = client.get("/engines").json()
    assert "health" not in plain["engines"][0]
    deep = client.get("/engines?deep=true").json()
    health = {e["name"]: e["health"] for e in deep["engines"]}
    assert health["reference"]["ok"] is True and health["reference"]["stage"] == ""
    assert set(health) == {e["name"] for e in plain["engines"]}


# -- layers --------------------------------------------------------------------------------


def test_the_server_s_modules_import_one_another_without_a_cycle() -> None:
    """Imports inside functions count too: a cycle there is one refactoring from a crash."""
    import ast

    import voicebox_core.server

    package = Path(voicebox_core.server.__file__).parent
    root = package.parents[1]
    graph: dict[str, set[str]] = {}
    for file in package.rglob("*.py"):
        name = ".".join(file.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        wanted: set[str] = set()
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                wanted |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                wanted |= {a.name for a in node.names}
        graph[name] = wanted - {name}
    graph = {name: wanted & graph.keys() for name, wanted in graph.items()}

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(graph[name])
        return seen

    cycles = sorted(name for name in graph if name in reachable(name))
    assert cycles == [], f"modules in an import cycle: {cycles}"


# -- the event loop under a burst ------------------------------------------------------------


def _burst(tmp_path: Path, requests: int, fmt: str, observe: object) -> list[int]:
    """``requests`` concurrent speech requests through the app in this event loop (lifespan
    and all), with ``observe(loop)`` started beside them; their statuses."""
    import httpx

    app = create_app(tmp_path / "data")

    async def run() -> list[int]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                warm = await client.post("/v1/audio/speech", json={"model": REFERENCE, "input": "Warm.",
                                                                   "response_format": fmt})
                assert warm.status_code == 200, warm.text
                watcher = asyncio.get_running_loop().create_task(observe(asyncio.get_running_loop()))  # type: ignore[operator]
                answers = await asyncio.gather(*(
                    client.post("/v1/audio/speech", json={"model": REFERENCE, "input": f"Request {i} here.",
                                                          "response_format": fmt})
                    for i in range(requests)))
                watcher.cancel()
                return [a.status_code for a in answers]

    return asyncio.run(run())


def test_a_burst_takes_the_engine_one_loop_pass_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A free engine is taken without suspending: without a yield, every request of a burst ran
    its synchronous part (an engine's, the core's) in one pass of the loop, and /health waited
    seconds behind 200 of them. Each generation must start in a pass of its own."""
    from voicebox_core.registry import get_registry

    passes = [0]
    started_in: list[int] = []
    backend_class = type(get_registry().backend(REFERENCE))
    generate = backend_class.generate

    async def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        started_in.append(passes[0])
        return await generate(self, *args, **kwargs)

    async def count_passes(loop: asyncio.AbstractEventLoop) -> None:
        while True:
            passes[0] += 1
            await asyncio.sleep(0)

    monkeypatch.setattr(backend_class, "generate", counted)
    assert _burst(tmp_path, 12, "wav", count_passes) == [200] * 12
    burst = started_in[1:]  # after the warm-up request
    assert len(burst) == 12 and len(set(burst)) == 12, started_in


def test_whole_speech_responses_are_encoded_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An mp3 takes tens of milliseconds to encode (an opus more): on the loop, 200 of them held
    every other request for seconds."""
    import threading

    from voicebox_core.server.services import speech

    loop_threads: list[int] = []
    encoded_in: list[int] = []
    encode = speech.encode_audio

    def recorded(*args, **kwargs):  # type: ignore[no-untyped-def]
        encoded_in.append(threading.get_ident())
        return encode(*args, **kwargs)

    async def note_loop_thread(loop: asyncio.AbstractEventLoop) -> None:
        loop_threads.append(threading.get_ident())

    monkeypatch.setattr(speech, "encode_audio", recorded)
    assert _burst(tmp_path, 3, "mp3", note_loop_thread) == [200] * 3
    assert len(encoded_in) == 4 and loop_threads[0] not in encoded_in
