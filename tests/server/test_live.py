"""A real `voicebox serve` process: httpx, the official openai package, restarts, downloads."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest
from conftest import HUB_FILES, LiveServers


def test_openai_package_speaks_through_the_server(live: LiveServers, tmp_path: Path) -> None:
    base = live.start()
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="not-needed")
    out = tmp_path / "speech.wav"
    with client.audio.speech.with_streaming_response.create(
            model="reference", voice="high", input="Hello from the openai package.",
            response_format="wav") as response:
        response.stream_to_file(out)
    assert out.read_bytes()[:4] == b"RIFF" and out.stat().st_size > 1000
    mp3 = client.audio.speech.create(model="reference-24k", voice="low", input="Default format.")
    assert len(mp3.content) > 100
    assert "reference-16k" in {m.id for m in client.models.list()}
    with pytest.raises(openai.NotFoundError, match="unknown voice 'no-such-voice'"):
        client.audio.speech.create(model="reference", voice="no-such-voice", input="x")
    # OpenAI's own names reach installed ones; raw pcm is 24 kHz 16-bit mono, as OpenAI sends it
    pcm = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there.", response_format="pcm")
    assert pcm.response.headers["x-sample-rate"] == "24000" and len(pcm.content) % 2 == 0
    with pytest.raises(openai.UnprocessableEntityError, match="text is empty"):
        client.audio.speech.create(model="reference", voice="low", input=" ")


def test_profiles_and_history_survive_a_restart(live: LiveServers, tmp_path: Path, clip: Path) -> None:
    data_dir = tmp_path / "persist"
    base = live.start(data_dir)
    profile = httpx.post(f"{base}/profiles", json={"name": "Keeper"}).json()
    httpx.post(f"{base}/profiles/{profile['id']}/samples", data={"reference_text": "buzz"},
               files={"file": ("r.wav", clip.read_bytes(), "audio/wav")}).raise_for_status()
    made = httpx.post(f"{base}/generate", timeout=60, json={
        "text": "Remember me.", "profile_id": profile["id"], "engine": "reference"}).json()
    with httpx.stream("GET", f"{base}/generate/{made['id']}/status", timeout=60) as events:
        assert [line for line in events.iter_lines() if "completed" in line]
    audio = httpx.get(f"{base}/audio/{made['id']}").content
    live.stop(base)

    again = live.start(data_dir)
    kept = httpx.get(f"{again}/profiles/{profile['id']}").json()
    assert kept["name"] == "Keeper" and len(kept["samples"]) == 1
    assert [h["id"] for h in httpx.get(f"{again}/history").json()["items"]] == [made["id"]]
    assert httpx.get(f"{again}/audio/{made['id']}").content == audio


def test_download_reports_real_byte_progress_over_sse(live: LiveServers, fake_hub: str, tmp_path: Path) -> None:
    base = live.start(HF_ENDPOINT=fake_hub, HF_HUB_OFFLINE="0", HF_HUB_CACHE=str(tmp_path / "hub"),
                      HF_HUB_DISABLE_XET="1")
    before = {m["model_name"]: m for m in httpx.get(f"{base}/models/status").json()["models"]}
    assert not before["hubtest-tiny"]["downloaded"]
    started = httpx.post(f"{base}/models/download", json={"model_name": "hubtest-tiny"}).json()
    assert started["status"] in ("downloading", "complete")
    events = []
    with httpx.stream("GET", f"{base}/models/progress/hubtest-tiny", timeout=60) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    total = sum(len(d) for d in HUB_FILES.values())
    assert events[-1]["status"] == "complete", events[-1]
    assert events[-1]["current"] == events[-1]["total"] == total
    partial = [e for e in events if e["status"] == "downloading" and 0 < e["current"] < total]
    assert partial, "no intermediate byte progress was reported"
    after = {m["model_name"]: m for m in httpx.get(f"{base}/models/status").json()["models"]}
    assert after["hubtest-tiny"]["downloaded"] and after["hubtest-tiny"]["size_on_disk_mb"] > 0.2
    speech = httpx.post(f"{base}/v1/audio/speech", timeout=60, json={
        "model": "hubtest", "input": "Downloaded and speaking.", "response_format": "wav"})
    assert speech.status_code == 200
    deleted = httpx.delete(f"{base}/models/hubtest-tiny").json()
    assert deleted["deleted"] and not deleted["downloaded"]


def test_a_failed_download_is_reported_not_lost(live: LiveServers, fake_hub: str, tmp_path: Path) -> None:
    base = live.start(HF_ENDPOINT=fake_hub, HF_HUB_OFFLINE="0", HF_HUB_CACHE=str(tmp_path / "hub"))
    httpx.post(f"{base}/models/download", json={"model_name": "hubtest-missing"}).raise_for_status()
    with httpx.stream("GET", f"{base}/models/progress/hubtest-missing", timeout=60) as stream:
        events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
    assert events[-1]["status"] == "error" and "hubtest-missing" in events[-1]["error"]


def test_offline_load_of_a_missing_model_is_a_clear_409(live: LiveServers, tmp_path: Path) -> None:
    base = live.start(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "empty"))
    response = httpx.post(f"{base}/models/hubtest-tiny/load", timeout=60)
    assert response.status_code == 409
    assert "voicebox models download hubtest-tiny" in response.json()["detail"]
    for route in ("/generate", "/generate/stream"):
        refused = httpx.post(f"{base}{route}", timeout=60, json={"text": "hi", "model": "hubtest-tiny"})
        assert refused.status_code == 409 and "network is off" in refused.json()["detail"]
    assert httpx.get(f"{base}/history").json()["total"] == 0
