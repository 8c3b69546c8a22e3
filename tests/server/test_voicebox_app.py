"""The Voicebox app's own calls, replayed against a real `voicebox serve` process.

``VoiceboxClient`` sends each request the way ``app/src/lib/api/client.ts`` (jamiepine/voicebox
at e766c7c) builds it: JSON with ``Content-Type: application/json`` on every call (GETs and
DELETEs too), the multipart sample, avatar and import uploads without it, the status SSE read
to ``completed``. Each test checks the fields ``types.ts`` reads.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import LiveServers, free_port
from PIL import Image

ENGINE = "reference"
PROFILE_FIELDS = {"id", "name", "description", "language", "avatar_path", "effects_chain", "voice_type",
                  "preset_engine", "preset_voice_id", "design_prompt", "default_engine", "personality",
                  "generation_count", "sample_count", "created_at", "updated_at"}
GENERATION_FIELDS = {"id", "profile_id", "text", "language", "audio_path", "duration", "seed", "instruct",
                     "engine", "model_size", "status", "error", "is_favorited", "created_at"}


class ApiError(Exception):
    """What client.ts throws: ``new Error(formatErrorDetail(error.detail, ...))``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class VoiceboxClient:
    """client.ts, call for call."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=60)

    def request(self, endpoint: str, method: str = "GET", body: Any = None) -> Any:
        response = self.http.request(method, endpoint, headers={"Content-Type": "application/json"},
                                     content=None if body is None else json.dumps(body))
        return self._json(response)

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        if not response.is_success:
            try:
                detail = response.json()["detail"]
            except (ValueError, KeyError):
                detail = response.reason_phrase
            raise ApiError(response.status_code, detail if isinstance(detail, str) else json.dumps(detail))
        return response.json()  # every answer is JSON: `await this.request<void>` parses it too

    def form(self, endpoint: str, files: dict[str, Any], data: dict[str, str] | None = None) -> Any:
        return self._json(self.http.post(endpoint, files=files, data=data))

    def blob(self, endpoint: str) -> bytes:
        response = self.http.get(endpoint)
        if not response.is_success:
            raise ApiError(response.status_code, response.json()["detail"])
        return response.content

    # the client's methods
    def get_health(self) -> Any:
        return self.request("/health")

    def create_profile(self, data: dict[str, Any]) -> Any:
        return self.request("/profiles", "POST", data)

    def add_profile_sample(self, profile_id: str, audio: bytes, reference_text: str) -> Any:
        return self.form(f"/profiles/{profile_id}/samples", {"file": ("sample.wav", audio, "audio/wav")},
                         {"reference_text": reference_text})

    def generate_speech(self, data: dict[str, Any]) -> Any:
        return self.request("/generate", "POST", data)

    def status_events(self, generation_id: str) -> list[dict[str, Any]]:
        """The EventSource the app opens on getGenerationStatusUrl(id), read until it ends."""
        with self.http.stream("GET", f"/generate/{generation_id}/status") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            return [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]


def generation_request(profile_id: str, text: str, **extra: Any) -> dict[str, Any]:
    """The body useGenerationForm.ts sends (settings defaults: 800 chars, 50 ms, normalize)."""
    return {"profile_id": profile_id, "text": text, "language": "en", "seed": extra.pop("seed", None),
            "model_size": extra.pop("model_size", None), "engine": extra.pop("engine", ENGINE),
            "instruct": None, "personality": None, "max_chunk_chars": 800, "crossfade_ms": 50,
            "normalize": True, "effects_chain": None, **extra}


def json_body(data: dict[str, Any]) -> dict[str, Any]:
    """``JSON.stringify`` drops undefined fields; None here stands for undefined."""
    return {k: v for k, v in data.items() if v is not None}


def png(size: tuple[int, int] = (900, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def app(live: LiveServers, tmp_path: Path) -> Iterator[VoiceboxClient]:
    local = tmp_path / "hubtest-weights"
    local.mkdir()
    (local / "config.json").write_text('{"pitch": 300}')
    base = live.start(tmp_path / "data", VOICEBOX_MODEL_PATH_HUBTEST_TINY=str(local),
                      HUBTEST_SLOW_SECONDS="1.5")
    client = VoiceboxClient(base)
    yield client
    client.http.close()


# -- health and CORS -----------------------------------------------------------------------


def test_health_is_what_the_app_waits_for(app: VoiceboxClient) -> None:
    health = app.get_health()
    # App.tsx: status === 'healthy' && typeof model_loaded/gpu_available === 'boolean'
    assert health["status"] == "healthy"
    assert isinstance(health["model_loaded"], bool) and isinstance(health["gpu_available"], bool)
    assert health["backend_variant"] in ("cpu", "cuda")


@pytest.mark.parametrize("origin", ["tauri://localhost", "http://tauri.localhost",
                                    "https://tauri.localhost", "http://localhost:5173"])
def test_the_desktop_app_origins_pass_cors(app: VoiceboxClient, origin: str) -> None:
    preflight = app.http.options("/profiles", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    answer = app.http.get("/health", headers={"Origin": origin, "Content-Type": "application/json"})
    assert answer.headers["access-control-allow-origin"] == origin


# -- profiles, samples, avatars, export/import ---------------------------------------------


def test_profiles_as_the_app_creates_edits_and_deletes_them(app: VoiceboxClient, clip: Path) -> None:
    profile = app.create_profile(json_body({
        "name": "Narrator", "description": "warm", "language": "en", "voice_type": "cloned",
        "default_engine": ENGINE, "personality": "A calm narrator who loves trains."}))
    assert PROFILE_FIELDS <= profile.keys()
    assert profile["default_engine"] == ENGINE and profile["personality"].startswith("A calm")
    assert profile["sample_count"] == 0 and profile["generation_count"] == 0
    assert [p["id"] for p in app.request("/profiles")] == [profile["id"]]
    assert app.request(f"/profiles/{profile['id']}")["name"] == "Narrator"
    # updateProfile sends the whole VoiceProfileCreate
    edited = app.request(f"/profiles/{profile['id']}", "PUT", json_body({
        "name": "Narrator 2", "description": "warmer", "language": "de", "voice_type": "cloned",
        "default_engine": ENGINE, "personality": "Still calm."}))
    assert (edited["name"], edited["language"], edited["personality"]) == ("Narrator 2", "de", "Still calm.")
    assert edited["updated_at"] >= profile["updated_at"]
    with pytest.raises(ApiError, match="already exists") as taken:
        app.create_profile({"name": "Narrator 2", "language": "en"})
    assert taken.value.status == 409
    presets = app.request(f"/profiles/presets/{ENGINE}")
    assert presets["engine"] == ENGINE
    assert {"voice_id", "name", "gender", "language"} <= presets["voices"][0].keys()
    preset = app.create_profile({"name": "Buzz", "language": "en", "voice_type": "preset",
                                 "preset_engine": ENGINE, "preset_voice_id": "high"})
    assert preset["default_engine"] == ENGINE and preset["voice_type"] == "preset"
    assert app.request(f"/profiles/{preset['id']}", "DELETE") == {"message": "Profile deleted successfully"}
    with pytest.raises(ApiError) as gone:
        app.request(f"/profiles/{preset['id']}")
    assert gone.value.status == 404


def test_samples_by_the_app_s_paths(app: VoiceboxClient, clip: Path) -> None:
    profile = app.create_profile({"name": "Sampled", "language": "en"})
    sample = app.add_profile_sample(profile["id"], clip.read_bytes(), "a buzz")
    assert {"id", "profile_id", "audio_path", "reference_text"} <= sample.keys()
    assert sample["profile_id"] == profile["id"] and sample["audio_path"]
    assert [s["id"] for s in app.request(f"/profiles/{profile['id']}/samples")] == [sample["id"]]
    edited = app.request(f"/profiles/samples/{sample['id']}", "PUT", {"reference_text": "a long buzz"})
    assert edited["reference_text"] == "a long buzz"
    audio = app.blob(f"/samples/{sample['id']}")  # getSampleUrl: the player's src
    assert audio[:4] == b"RIFF"
    assert app.request(f"/profiles/{profile['id']}")["sample_count"] == 1
    assert app.request(f"/profiles/samples/{sample['id']}", "DELETE") == {"message": "Sample deleted successfully"}
    assert app.request(f"/profiles/{profile['id']}/samples") == []
    with pytest.raises(ApiError) as missing:
        app.blob(f"/samples/{sample['id']}")
    assert missing.value.status == 404


def test_avatar_upload_is_checked_resized_and_served(app: VoiceboxClient) -> None:
    profile = app.create_profile({"name": "Face", "language": "en"})
    with_avatar = app.form(f"/profiles/{profile['id']}/avatar", {"file": ("me.png", png(), "image/png")})
    assert with_avatar["avatar_path"]
    served = Image.open(io.BytesIO(app.blob(f"/profiles/{profile['id']}/avatar")))
    assert max(served.size) == 512 and served.size == (512, 341)
    with pytest.raises(ApiError, match="not a readable image") as bad:
        app.form(f"/profiles/{profile['id']}/avatar", {"file": ("x.png", b"GIF89a not really", "image/png")})
    assert bad.value.status == 422
    huge = os.urandom(6 * 2**20)
    with pytest.raises(ApiError, match="limit") as too_big:
        app.form(f"/profiles/{profile['id']}/avatar", {"file": ("x.png", huge, "image/png")})
    assert too_big.value.status == 413
    assert app.request(f"/profiles/{profile['id']}/avatar", "DELETE") == {"message": "Avatar deleted successfully"}
    assert app.request(f"/profiles/{profile['id']}")["avatar_path"] is None


def test_export_and_import_round_trip_as_voicebox_zip(app: VoiceboxClient, clip: Path) -> None:
    profile = app.create_profile({"name": "Exported", "description": "d", "language": "en"})
    app.add_profile_sample(profile["id"], clip.read_bytes(), "first")
    app.add_profile_sample(profile["id"], clip.read_bytes(), "second")
    app.form(f"/profiles/{profile['id']}/avatar", {"file": ("a.png", png((64, 64)), "image/png")})
    archive = app.blob(f"/profiles/{profile['id']}/export")
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        names = set(bundle.namelist())
        manifest = json.loads(bundle.read("manifest.json"))
        mapping = json.loads(bundle.read("samples.json"))
    assert manifest["version"] == "1.0" and manifest["profile"]["name"] == "Exported" and manifest["has_avatar"]
    assert sorted(mapping.values()) == ["first", "second"]
    assert {f"samples/{n}" for n in mapping} <= names and "avatar.png" in names
    imported = app.form("/profiles/import", {"file": ("p.voicebox.zip", archive, "application/zip")})
    assert imported["name"] == "Exported (1)" and imported["sample_count"] == 2 and imported["avatar_path"]
    # a broken archive imports nothing
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as bundle:
        bundle.writestr("manifest.json", json.dumps({"version": "1.0", "profile": {"name": "Half"}}))
        bundle.writestr("samples.json", json.dumps({"a.wav": "x", "b.wav": "y"}))
        bundle.writestr("samples/a.wav", clip.read_bytes())
        bundle.writestr("samples/b.wav", b"not audio")
    with pytest.raises(ApiError, match=r"sample b\.wav") as refused:
        app.form("/profiles/import", {"file": ("p.zip", broken.getvalue(), "application/zip")})
    assert refused.value.status == 422
    assert sorted(p["name"] for p in app.request("/profiles")) == ["Exported", "Exported (1)"]


# -- generation, status stream, history ----------------------------------------------------


def test_generate_answers_at_once_and_the_status_stream_ends_completed(app: VoiceboxClient, clip: Path) -> None:
    profile = app.create_profile({"name": "Speaker", "language": "en", "default_engine": ENGINE})
    app.add_profile_sample(profile["id"], clip.read_bytes(), "a buzz")
    started = app.generate_speech(json_body(generation_request(profile["id"], "Hello from the app.", seed=7)))
    assert GENERATION_FIELDS <= started.keys()
    assert started["status"] in ("loading_model", "generating") and started["profile_id"] == profile["id"]
    events = app.status_events(started["id"])
    assert {"id", "status", "duration", "error"} <= events[-1].keys()
    assert events[-1]["status"] == "completed" and events[-1]["duration"] > 0
    assert all(e["status"] in ("loading_model", "generating", "completed") for e in events)
    audio = app.blob(f"/audio/{started['id']}")  # getAudioUrl
    assert audio[:4] == b"RIFF"
    history = app.request("/history?limit=20")
    assert history["total"] == 1 and history["items"][0]["profile_name"] == "Speaker"
    assert GENERATION_FIELDS | {"profile_name"} <= history["items"][0].keys()
    assert app.request("/history?search=from%20the")["total"] == 1
    assert app.request("/history?search=nothing%20like%20it")["total"] == 0
    assert app.request(f"/history?profile_id={profile['id']}")["total"] == 1
    one = app.request(f"/history/{started['id']}")
    assert one["status"] == "completed" and one["seed"] == 7
    assert app.request(f"/history/{started['id']}/favorite", "POST") == {"is_favorited": True}
    assert app.blob(f"/history/{started['id']}/export-audio")[:4] == b"RIFF"
    assert app.request(f"/profiles/{profile['id']}")["generation_count"] == 1
    regenerated = app.request(f"/generate/{started['id']}/regenerate", "POST")
    assert regenerated["status"] == "generating"
    assert app.status_events(started["id"])[-1]["status"] == "completed"
    assert app.blob(f"/audio/{started['id']}")[:4] == b"RIFF"
    assert app.request(f"/history/{started['id']}", "DELETE") == {"message": "Generation deleted successfully"}
    assert app.request("/history")["total"] == 0


def test_model_size_maps_to_the_engine_s_model_as_voicebox_names_it(app: VoiceboxClient) -> None:
    preset = app.create_profile({"name": "Bright", "language": "en", "voice_type": "preset",
                                 "preset_engine": ENGINE, "preset_voice_id": "low"})
    started = app.generate_speech(json_body(generation_request(preset["id"], "Sized.", model_size="24k")))
    assert app.status_events(started["id"])[-1]["status"] == "completed"
    row = app.request(f"/history/{started['id']}")
    assert row["model_size"] == "24k" and row["model_name"] == "reference-24k"
    with pytest.raises(ApiError, match="its sizes: default, 24k") as wrong:
        app.generate_speech(json_body(generation_request(preset["id"], "x", model_size="3B")))
    assert wrong.value.status == 422


def test_outside_machinery_is_refused_not_dropped(app: VoiceboxClient) -> None:
    preset = app.create_profile({"name": "P", "language": "en", "voice_type": "preset",
                                 "preset_engine": ENGINE, "preset_voice_id": "low"})
    for extra, needle in (({"personality": True}, "personality"),
                          ({"effects_chain": [{"type": "reverb", "enabled": True, "params": {}}]}, "effects")):
        with pytest.raises(ApiError, match=needle) as refused:
            app.generate_speech(json_body(generation_request(preset["id"], "x", **extra)))
        assert refused.value.status == 422
    with pytest.raises(ApiError, match="effects"):
        app.request(f"/profiles/{preset['id']}/effects", "PUT",
                    {"effects_chain": [{"type": "reverb", "enabled": True, "params": {}}]})
    assert app.request(f"/profiles/{preset['id']}/effects", "PUT", {"effects_chain": None})["effects_chain"] is None
    assert app.request("/history")["total"] == 0


def test_failed_generation_stays_in_history_and_retries(app: VoiceboxClient, clip: Path, tmp_path: Path) -> None:
    profile = app.create_profile({"name": "Fragile", "language": "en", "default_engine": ENGINE})
    app.add_profile_sample(profile["id"], clip.read_bytes(), "buzz")
    sample_file = next((tmp_path / "data" / "samples").glob("*.wav"))
    kept = sample_file.read_bytes()
    sample_file.write_bytes(b"broken")  # the clip goes bad after the request was accepted
    with pytest.raises(ApiError) as refused:  # ...or before: then it is refused up front
        app.generate_speech(json_body(generation_request(profile["id"], "Will it speak?")))
    assert refused.value.status == 422
    sample_file.write_bytes(kept)
    slow = app.create_profile({"name": "Slow", "language": "en", "voice_type": "preset",
                               "preset_engine": "hubtest", "preset_voice_id": "slow"})
    started = app.generate_speech(json_body(generation_request(slow["id"], "One. Two. Three.", engine="hubtest")))
    assert app.request(f"/generate/{started['id']}/cancel", "POST")["message"]
    events = app.status_events(started["id"])
    assert events[-1]["status"] == "failed" and "cancelled" in events[-1]["error"]
    row = app.request(f"/history/{started['id']}")
    assert row["status"] == "failed" and "cancelled" in row["error"]
    retried = app.request(f"/generate/{started['id']}/retry", "POST")
    assert retried["status"] in ("loading_model", "generating")
    assert app.status_events(started["id"])[-1]["status"] == "completed"
    with pytest.raises(ApiError, match="only failed") as again:
        app.request(f"/generate/{started['id']}/retry", "POST")
    assert again.value.status == 409
    second = app.generate_speech(json_body(generation_request(slow["id"], "Stop me.", engine="hubtest")))
    app.request(f"/generate/{second['id']}/cancel", "POST")
    assert app.status_events(second["id"])[-1]["status"] == "failed"
    assert app.request("/history/failed", "DELETE") == {"deleted": 1}
    assert [h["status"] for h in app.request("/history")["items"]] == ["completed"]
    assert app.status_events("no-such-generation") == [{"id": "no-such-generation", "status": "not_found"}]


# -- models, tasks, settings ----------------------------------------------------------------


def test_models_tasks_and_settings_as_the_app_reads_them(app: VoiceboxClient, live: LiveServers,
                                                        tmp_path: Path) -> None:
    models = app.request("/models/status")["models"]
    for model in models:
        assert {"model_name", "display_name", "hf_repo_id", "downloaded", "downloading", "size_mb",
                "loaded"} <= model.keys()
    hub = next(m for m in models if m["model_name"] == "hubtest-tiny")
    assert hub["downloaded"] and hub["size_mb"] == pytest.approx(0, abs=0.01)  # a 14-byte local copy
    assert app.request("/models/cache-dir")["path"]
    assert "message" in app.request("/models/download", "POST", {"model_name": "reference-16k"})
    assert "message" in app.request("/models/download/cancel", "POST", {"model_name": "reference-16k"})
    assert "message" in app.request("/models/reference-16k/unload", "POST")
    with pytest.raises(ApiError, match="ships inside"):
        app.request("/models/reference-16k", "DELETE")
    slow = app.create_profile({"name": "Busy", "language": "en", "voice_type": "preset",
                               "preset_engine": "hubtest", "preset_voice_id": "slow"})
    started = app.generate_speech(json_body(generation_request(slow["id"], "Busy now.", engine="hubtest")))
    tasks = app.request("/tasks/active")
    assert tasks["downloads"] == [] or all("model_name" in d for d in tasks["downloads"])
    assert [g["task_id"] for g in tasks["generations"]] == [started["id"]]
    assert {"task_id", "profile_id", "text_preview", "started_at"} <= tasks["generations"][0].keys()
    assert app.status_events(started["id"])[-1]["status"] == "completed"
    assert app.request("/tasks/active")["generations"] == []
    assert "message" in app.request("/tasks/clear", "POST")
    defaults = app.request("/settings/generation")
    assert defaults == {"max_chunk_chars": 800, "crossfade_ms": 50, "normalize_audio": True,
                        "autoplay_on_generate": True}
    changed = app.request("/settings/generation", "PUT", {"crossfade_ms": 0, "autoplay_on_generate": False})
    assert changed["crossfade_ms"] == 0 and changed["max_chunk_chars"] == 800
    live.stop(app.base)
    again = VoiceboxClient(live.start(tmp_path / "data"))
    assert again.request("/settings/generation")["autoplay_on_generate"] is False


def test_what_the_app_polls_of_its_own_machinery_answers_nothing_here(app: VoiceboxClient) -> None:
    """useDictationReadiness, useCaptureSettings, EffectsChainEditor, AudioPlayer, VoicesTab:
    the app's shapes (types.ts), with what is true here: no dictation, effects or channels."""
    capture = app.request("/settings/captures")
    assert set(capture) == {"stt_model", "language", "auto_refine", "llm_model", "smart_cleanup",
                            "self_correction", "preserve_technical", "allow_auto_paste",
                            "default_playback_voice_id", "hotkey_enabled", "chord_push_to_talk_keys",
                            "chord_toggle_to_talk_keys"}
    assert capture["hotkey_enabled"] is False  # useChordSync never arms the global shortcut
    readiness = app.request("/capture/readiness")
    for gate in ("stt", "llm"):
        assert set(readiness[gate]) == {"ready", "model_name", "display_name", "size", "size_mb"}
        assert readiness[gate]["ready"] is False and "engine server" in readiness[gate]["display_name"]
    assert app.request("/effects/available") == {"effects": []}
    assert app.request("/effects/presets") == []
    assert app.request("/channels") == []
    profile = app.create_profile({"name": "Routed", "language": "en"})
    assert app.request(f"/profiles/{profile['id']}/channels") == {"channel_ids": []}
    with pytest.raises(ApiError) as unknown:
        app.request("/profiles/nope/channels")
    assert unknown.value.status == 404
    for endpoint, method, body in (("/settings/captures", "PUT", {"hotkey_enabled": True}),
                                   ("/effects/presets", "POST", {"name": "x", "effects_chain": []}),
                                   ("/channels", "POST", {"name": "x", "device_ids": []}),
                                   (f"/profiles/{profile['id']}/channels", "PUT", {"channel_ids": ["c"]})):
        refused = app.http.request(method, endpoint, json=body)
        assert refused.status_code == 405 and refused.headers["allow"] == "GET", refused.text
    assert app.request("/settings/captures")["hotkey_enabled"] is False


@pytest.mark.parametrize("endpoint", ["/stories", "/effects/presets/x", "/captures", "/mcp/bindings",
                                      "/backend/cuda-status", "/channels/x/voices", "/transcribe"])
def test_what_is_not_an_engine_server_answers_404(app: VoiceboxClient, endpoint: str) -> None:
    with pytest.raises(ApiError) as missing:
        app.request(endpoint)
    assert missing.value.status in (404, 405)


# -- the sidecar launch and restarts ---------------------------------------------------------


def _sidecar(data_dir: Path, parent_pid: int, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "voicebox_core", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data_dir), "--parent-pid", str(parent_pid)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_ready(proc: subprocess.Popen[str]) -> list[str]:
    """Read the output until uvicorn's ready line, as the Tauri app does."""
    lines = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError("sidecar exited:\n" + "".join(lines))
        lines.append(line)
        if "Application startup complete" in line or "Uvicorn running" in line:
            return lines
    raise AssertionError("no ready line in 60 s:\n" + "".join(lines))


def test_sidecar_launch_stops_when_its_parent_exits(tmp_path: Path, clip: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    port = free_port()
    server = _sidecar(tmp_path / "data", parent.pid, port)
    try:
        _wait_ready(server)
        base = f"http://127.0.0.1:{port}"
        profile = httpx.post(f"{base}/profiles", json={"name": "Survivor", "language": "en"}).json()
        httpx.post(f"{base}/profiles/{profile['id']}/samples", data={"reference_text": "buzz"},
                   files={"file": ("r.wav", clip.read_bytes(), "audio/wav")}).raise_for_status()
        parent.kill()
        parent.wait()
        started = time.monotonic()
        assert server.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
    finally:
        parent.kill()
        server.kill()
    with sqlite3.connect(tmp_path / "data" / "voicebox.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT name FROM profiles").fetchall() == [("Survivor",)]
        assert db.execute("SELECT count(*) FROM profile_samples").fetchone() == (1,)


def test_watchdog_disable_keeps_the_sidecar_up(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    port = free_port()
    server = _sidecar(tmp_path / "data", parent.pid, port)
    try:
        _wait_ready(server)
        base = f"http://127.0.0.1:{port}"
        assert httpx.post(f"{base}/watchdog/disable").json()["message"]
        parent.kill()
        time.sleep(3)
        assert server.poll() is None and httpx.get(f"{base}/health").json()["status"] == "healthy"
        assert httpx.post(f"{base}/shutdown").json()["message"]
        assert server.wait(timeout=15) == 0
    finally:
        parent.kill()
        server.kill()


def test_a_killed_server_marks_running_generations_failed_and_keeps_the_rest(
        live: LiveServers, tmp_path: Path) -> None:
    local = tmp_path / "w"
    local.mkdir()
    (local / "config.json").write_text('{"pitch": 300}')
    env = {"VOICEBOX_MODEL_PATH_HUBTEST_TINY": str(local), "HUBTEST_SLOW_SECONDS": "30"}
    base = live.start(tmp_path / "data", **env)
    app = VoiceboxClient(base)
    done = app.create_profile({"name": "Quick", "language": "en", "voice_type": "preset",
                               "preset_engine": ENGINE, "preset_voice_id": "low"})
    finished = app.generate_speech(json_body(generation_request(done["id"], "Kept.")))
    assert app.status_events(finished["id"])[-1]["status"] == "completed"
    slow = app.create_profile({"name": "Slow", "language": "en", "voice_type": "preset",
                               "preset_engine": "hubtest", "preset_voice_id": "slow"})
    running = app.generate_speech(json_body(generation_request(slow["id"], "Never finished.", engine="hubtest")))
    queued = app.generate_speech(json_body(generation_request(slow["id"], "Never started.", engine="hubtest")))
    deadline = time.monotonic() + 30
    while app.request(f"/history/{running['id']}")["status"] != "generating" and time.monotonic() < deadline:
        time.sleep(0.1)
    live.processes[base].kill()  # kill -9: no shutdown handler runs
    live.processes[base].wait()
    live.processes.pop(base)
    again = VoiceboxClient(live.start(tmp_path / "data", **env))
    rows = {h["id"]: h for h in again.request("/history")["items"]}
    assert rows[finished["id"]]["status"] == "completed"
    assert again.blob(f"/audio/{finished['id']}")[:4] == b"RIFF"
    for lost in (running["id"], queued["id"]):
        assert rows[lost]["status"] == "failed" and "server stopped" in rows[lost]["error"]
        assert again.status_events(lost)[-1]["status"] == "failed"
    assert {p["name"] for p in again.request("/profiles")} == {"Quick", "Slow"}
    assert list((tmp_path / "data" / "generations").glob("*.part")) == []


#: The engines the app's front end hard-codes (e766c7c: ``ENGINE_OPTIONS`` of
#: EngineModelSelector.tsx, the ``engine`` enum of useGenerationForm.ts and types.ts).
APP_ENGINES = {"qwen", "qwen_custom_voice", "luxtts", "chatterbox", "chatterbox_turbo", "tada", "kokoro"}


def test_the_docs_say_which_engines_the_app_shows_and_where_the_others_are() -> None:
    """docs/server.md names exactly the app's engines, places every plugin of this repository
    (a new plugin must be placed too), and names the routes that reach every engine."""
    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "server.md").read_text(encoding="utf-8")
    assert "## Which engines the Voicebox app shows" in text
    section = text.split("## Which engines the Voicebox app shows", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|") for line in section.splitlines() if line.startswith("| ")]
    rows = [row for row in rows if row[2].strip().startswith("`")]
    assert {row[2].strip().strip("`") for row in rows} == APP_ENGINES
    for plugin in sorted(p.name for p in (root / "plugins").iterdir() if (p / "pyproject.toml").is_file()):
        assert plugin in section.lower(), f"docs/server.md does not say whether the app shows {plugin}"
    for route in ("web page at `/`", "`POST /generate`", "`/v1/audio/speech`", "Wyoming", "`voicebox say"):
        assert route in section, route
