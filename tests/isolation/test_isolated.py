"""Isolated engines through the host: listing, the proxy backend, the conformance kit, faults.

Every engine here runs in its own environment's worker process; the host never imports it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import voicebox_core as vb
from conftest import FAULTY, REFERENCE, voicebox, wait_gone
from voicebox_core.isolation import envs
from voicebox_core.registry import Registry
from voicebox_core.runtime.download import DownloadProgress, download_progress
from voicebox_core.testing import ConformanceSuite, write_reference_clip


@pytest.fixture
def registry(data_dir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("VOICEBOX_DATA_DIR", str(data_dir))
    found = Registry.discover()
    yield found
    found.close()


# -- install and listing ----------------------------------------------------------------


def test_list_shows_where_each_engine_lives(data_dir: Path) -> None:
    done = voicebox("engines", "list", "--json", env={"VOICEBOX_DATA_DIR": str(data_dir)})
    assert done.returncode == 0, done.stderr
    rows = {row["engine"]: row for row in json.loads(done.stdout)["engines"]}
    for engine, dist in (("reference", "voicebox-test-reference"), ("faulty", "voicebox-test-faulty")):
        lives = rows[engine]["lives"]
        assert lives["mode"] == "isolated" and rows[engine]["distribution"] == dist
        assert Path(lives["environment"]) == data_dir / "engines" / dist
        assert lives["python"].startswith(str(data_dir / "engines" / dist / "venv"))
        assert "numpy" in lives["versions"]
    text = voicebox("engines", "list", env={"VOICEBOX_DATA_DIR": str(data_dir)}).stdout
    assert f"lives: isolated in {data_dir / 'engines' / 'voicebox-test-faulty'}" in text


def test_listing_imports_nothing_of_the_environments(data_dir: Path) -> None:
    code = ("import sys, json; from voicebox_core.registry import Registry; r = Registry.discover();"
            "print(json.dumps([[e.name for e in r.engines], sorted(m for m in sys.modules if m.startswith("
            "('numpy', 'voicebox_test_')))]))")
    done = voicebox_python(code, data_dir)
    engines, imported = json.loads(done.stdout)
    assert {"reference", "faulty"} <= set(engines)
    assert imported == []


def voicebox_python(code: str, data_dir: Path):  # type: ignore[no-untyped-def]
    import subprocess

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "VOICEBOX_DATA_DIR": str(data_dir)})


def test_description_is_cached_by_installed_versions(data_dir: Path) -> None:
    env = envs.find("voicebox-test-reference", data_dir / "engines")
    assert env is not None
    cache = env.root / envs.DESCRIBE
    assert json.loads(cache.read_text())["key"] == env.versions_key()
    stamp = cache.stat().st_mtime_ns
    envs.describe(env)
    assert cache.stat().st_mtime_ns == stamp  # read, not asked again
    fake = env.site_packages()[0] / "voicebox_fake_probe-1.0.dist-info"
    fake.mkdir()
    try:
        assert env.versions_key() != json.loads(cache.read_text())["key"]
        envs.describe(env)
        assert json.loads(cache.read_text())["key"] == env.versions_key()
    finally:
        fake.rmdir()
        envs.describe(env)


def test_install_errors_are_one_line_and_leave_nothing(data_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = voicebox("engines", "install", str(tmp_path / "nowhere"), "--isolated",
                    env={"VOICEBOX_DATA_DIR": str(data)})
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pyproject.toml").write_text('[project]\nname = "voicebox-engine-broken"\nversion = "1"\n'
                                           'dependencies = ["no-such-package-voicebox-xyz==9"]\n')
    done = voicebox("engines", "install", str(broken), "--isolated", "--core", str(REFERENCE),
                    env={"VOICEBOX_DATA_DIR": str(data)})
    assert done.returncode != 0 and "failed" in done.stderr and "Traceback" not in done.stderr
    assert not (data / "engines" / "voicebox-engine-broken").exists()
    done = voicebox("engines", "uninstall", "voicebox-engine-nothing", env={"VOICEBOX_DATA_DIR": str(data)})
    assert done.returncode != 0 and "Traceback" not in done.stderr


# -- the proxy backend ------------------------------------------------------------------


def test_typed_errors_arrive_as_the_same_core_type(registry: Registry) -> None:
    backend = registry.backend("faulty")
    prompt = {"voice_type": "preset", "preset_engine": "faulty", "preset_voice_id": "tone"}

    async def run(text: str):  # type: ignore[no-untyped-def]
        await backend.load_model("default")
        return await backend.generate(text, prompt, "en", 1)

    with pytest.raises(vb.UnsupportedLanguageError, match="'tlh' is not supported by the faulty engine"):
        asyncio.run(run("klingon please"))
    with pytest.raises(RuntimeError, match="boom: the engine failed on purpose"):  # a built-in stays itself
        asyncio.run(run("boom"))
    audio, rate = asyncio.run(run("all good"))
    assert rate == 16000 and audio.dtype == np.float32 and audio.size > 0


def test_voice_prompts_stay_in_the_worker_as_handles(registry: Registry, tmp_path: Path) -> None:
    clip = write_reference_clip(tmp_path / "ref.wav")
    backend = registry.backend("faulty")

    async def clone() -> tuple[dict, np.ndarray]:
        await backend.load_model("default")
        prompt, cached = await backend.create_voice_prompt(str(clip), "hello there", True)
        assert cached is False
        audio, _ = await backend.generate("hello", prompt, "en", 3)
        return prompt, audio

    prompt, audio = asyncio.run(clone())
    assert prompt["voice_type"] == "isolated" and ":" in prompt["handle"] and audio.size
    backend.unload_model()  # the worker ends; its handles with it
    with pytest.raises(vb.GenerationError, match="create the voice prompt again"):
        asyncio.run(_generate_with(backend, prompt))
    result = asyncio.run(vb.Synthesizer(registry).synthesize(vb.SynthesisRequest(
        text="Hello again.", model="faulty", voice=vb.Voice.clone([(str(clip), "hello there")]), seed=2)))
    assert result.audio.size and result.sample_rate == 16000


async def _generate_with(backend, prompt):  # type: ignore[no-untyped-def]
    await backend.load_model("default")
    return await backend.generate("hello", prompt, "en", 3)


def test_cancellation_reaches_the_worker_and_it_keeps_serving(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAULTY_SLOW_SECONDS", "30")
    backend = registry.backend("faulty")
    prompt = {"voice_type": "preset", "preset_engine": "faulty", "preset_voice_id": "tone"}

    async def run() -> float:
        await backend.load_model("default")
        task = asyncio.create_task(backend.generate("slow words", prompt, "en", 1))
        await asyncio.sleep(0.5)
        task.cancel()
        started = time.perf_counter()
        with pytest.raises(asyncio.CancelledError):
            await task
        waited = time.perf_counter() - started
        audio, _ = await backend.generate("quick words", prompt, "en", 1)
        assert audio.size
        return waited

    assert asyncio.run(run()) < 5
    assert backend.is_loaded()


def test_download_byte_progress_crosses_the_process_boundary(
        registry: Registry, fake_hub: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", fake_hub)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    seen: list[DownloadProgress] = []
    backend = registry.backend("faulty")

    async def load() -> None:
        with download_progress(seen.append):
            await backend.load_model("hub")

    asyncio.run(load())
    assert len(seen) >= 3, seen
    assert all(p.model_name == "faulty-hub" for p in seen)
    assert [p.downloaded for p in seen] == sorted(p.downloaded for p in seen)
    assert seen[-1].downloaded == seen[-1].total > 300_000
    assert (tmp_path / "hub" / "models--voicebox-test--tiny-tone").is_dir()  # the shared cache


def test_unload_ends_the_worker(registry: Registry) -> None:
    backend = registry.backend("reference")
    asyncio.run(backend.load_model("default"))
    pid = backend.worker.pid
    assert psutil.pid_exists(pid)
    backend.unload_model()
    assert wait_gone([pid]) == [] and not backend.is_loaded()


# -- the conformance kit through the proxy ----------------------------------------------


class TestIsolatedConformance(ConformanceSuite):
    """The reference engine, isolated: every kit test through the worker protocol."""

    engine = "reference"
    model_libraries = ("voicebox_test_reference",)

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, data_dir: Path):  # type: ignore[no-untyped-def,override]
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("VOICEBOX_DATA_DIR", str(data_dir))
            yield

    def test_it_is_the_isolated_one(self, registry: Registry) -> None:
        assert registry.plugin_of(self.engine).isolated
        assert type(registry.backend(self.engine)).__name__ == "IsolatedBackend"


# -- faults, served -----------------------------------------------------------------------


def test_worker_killed_mid_generation_others_keep_answering(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(FAULTY_SLOW_SECONDS="20")
    assert server.speak("faulty", "warm up").status_code == 200
    assert server.speak("reference", "warm up").status_code == 200
    result: dict[str, object] = {}
    slow = threading.Thread(target=lambda: result.update(r=server.speak("faulty", "slow words")))
    slow.start()
    time.sleep(1.5)
    worker = server.workers()["faulty"]
    os.kill(worker.pid, signal.SIGKILL)
    slow.join(30)
    response = result["r"]
    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert "'faulty'" in detail and "SIGKILL" in detail and "starts again" in detail
    assert response.headers.get("retry-after")
    assert server.speak("reference", "still here").status_code == 200
    again = server.speak("faulty", "back again")
    assert again.status_code == 200 and server.workers()["faulty"].pid != worker.pid
    assert server.proc.poll() is None


def test_worker_that_crashes_itself_is_restarted(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    response = server.speak("faulty", "crash now")
    assert response.status_code == 503 and "SIGKILL" in response.json()["detail"]
    assert server.speak("faulty", "fine now").status_code == 200


def test_hung_worker_times_out_and_is_replaced(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(VOICEBOX_WORKER_TIMEOUT="3")
    assert server.speak("faulty", "warm up").status_code == 200
    hung = server.workers()["faulty"].pid
    started = time.monotonic()
    response = server.speak("faulty", "hang forever", timeout=60)
    assert time.monotonic() - started < 30
    assert response.status_code == 503 and "did not answer generate within 3 s" in response.json()["detail"]
    assert wait_gone([hung]) == []
    assert server.speak("reference", "unaffected").status_code == 200
    assert server.speak("faulty", "recovered").status_code == 200


def test_worker_import_failure_is_reported_and_others_serve(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(VOICEBOX_TEST_FAULTY_BROKEN="1")
    response = server.speak("faulty", "hello")
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "could not load the engine" in detail and "broken on purpose" in detail
    assert server.speak("reference", "hello").status_code == 200
    assert server.proc.poll() is None


def test_no_worker_outlives_a_killed_server(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    assert server.speak("faulty", "one").status_code == 200
    assert server.speak("reference", "two").status_code == 200
    pids = [p.pid for p in server.workers().values()]
    assert len(pids) == 2
    server.proc.kill()  # SIGKILL: no shutdown code runs in the server
    server.proc.wait(10)
    assert wait_gone(pids) == []


def test_server_shutdown_ends_every_worker(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    assert server.speak("faulty", "one").status_code == 200
    assert server.speak("reference", "two").status_code == 200
    pids = [p.pid for p in server.workers().values()]
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(30)
    assert wait_gone(pids, 5) == []


def test_uninstall_removes_the_environment(data_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "engines"
    import shutil

    shutil.copytree(data_dir / "engines" / "voicebox-test-faulty", copy / "voicebox-test-faulty", symlinks=True)
    done = voicebox("engines", "uninstall", "faulty", env={"VOICEBOX_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert not (copy / "voicebox-test-faulty").exists()
    assert FAULTY.is_dir()
