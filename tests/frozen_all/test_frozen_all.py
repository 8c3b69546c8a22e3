"""One frozen binary with every installed engine, as Voicebox ships it, used offline.

build/freeze.py freezes the core and whatever engines this environment has (it names none).
The binary then runs with an empty model cache and the network off; each engine reaches
its tiny random-weight checkpoint through ``VOICEBOX_MODEL_PATH_*``. Nothing here names an
engine: the engines are whatever ``voicebox engines list`` shows, and their checkpoints
come from each plugin's own ``tests/tiny_hub.py``.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support.engines import (  # noqa: E402
    Server,
    build_tiny_hub,
    clean_env,
    describe,
    fake_hub,
    first_generation,
)

FIGURES = ROOT / ".frozen-figures.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _record(key: str, value: Any) -> None:
    figures = json.loads(FIGURES.read_text()) if FIGURES.is_file() else {}
    figures[key] = value
    FIGURES.write_text(json.dumps(figures, indent=2))
    print(f"figure {key}: {value}")


@pytest.fixture(scope="session")
def installed() -> dict[str, Any]:
    listing = describe()
    assert listing["failed"] == [], listing["failed"]
    assert len(listing["engines"]) >= 2, "the all-engines environment has fewer than two engines"
    return listing


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory, installed: dict[str, Any]) -> tuple[Path, dict[str, str], dict[str, str]]:
    """(hub, environment the engines ask for, VOICEBOX_MODEL_PATH_* of every tiny snapshot)."""
    hub = tmp_path_factory.mktemp("tiny-hub")
    env = build_tiny_hub(hub, {e["distribution"] for e in installed["engines"]})
    return hub, env, describe(hub)["paths"]


@pytest.fixture(scope="session")
def frozen(tmp_path_factory: pytest.TempPathFactory, installed: dict[str, Any]) -> Path:
    """The onedir build's executable (``VOICEBOX_FROZEN_DIST`` reuses a folder built before)."""
    prebuilt = os.environ.get("VOICEBOX_FROZEN_DIST")
    if prebuilt:
        return Path(prebuilt) / "voicebox"
    out, work = tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("work")
    done = subprocess.run([sys.executable, str(ROOT / "build" / "freeze.py"), "--out", str(out),
                           "--work", str(work)], capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    seconds = float(done.stdout.rsplit(" in ", 1)[-1].split(" s")[0])
    size = sum(p.stat().st_size for p in (out / "voicebox").rglob("*") if p.is_file())
    _record("build_seconds", round(seconds, 1))
    _record("bundle_mb", round(size / 2**20, 1))
    return out / "voicebox" / "voicebox"


def test_the_cpu_bundle_holds_no_cuda_library(frozen: Path) -> None:
    """The seed's CPU build rule: no nvidia.* package and no library that needs CUDA."""
    bundle = frozen.parent
    nvidia = [p for p in bundle.rglob("*") if p.is_dir() and p.name == "nvidia"]
    cuda = [p for p in bundle.rglob("*") if p.is_file() and p.name.startswith(
        ("libcudart", "libcublas", "libcudnn", "libnccl", "libcufft", "libcusparse", "libc10_cuda",
         "libtorch_cuda"))]
    assert nvidia == [] and cuda == [], (nvidia + cuda)[:10]


def test_cold_start_to_health(frozen: Path, tmp_path: Path) -> None:
    """A user's start: every engine discovered, no model loaded, no test fixture imported."""
    server = Server([str(frozen)], tmp_path / "srv", clean_env(tmp_path), _free_port())
    try:
        _record("cold_start_to_health_s", round(server.cold_start, 2))
        deadline = time.monotonic() + 10  # the line the Voicebox app waits for, as it reads it
        while not any("Application startup complete" in line for line in server.output):
            assert time.monotonic() < deadline, "".join(server.output)
            time.sleep(0.1)
        assert server.cold_start < 60
    finally:
        server.stop()


def test_engines_list_in_the_binary_matches_the_environment(frozen: Path, installed: dict[str, Any],
                                                           tmp_path: Path) -> None:
    done = subprocess.run([str(frozen), "engines", "list", "--json"], capture_output=True, text=True,
                          env=clean_env(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    listing = json.loads(done.stdout)
    assert listing["failed"] == []
    assert sorted(e["engine"] for e in listing["engines"]) == sorted(e["name"] for e in installed["engines"])


def test_deep_doctor_passes_in_the_binary(frozen: Path, tmp_path: Path) -> None:
    """Each engine's model library imports inside the bundle (a child process per engine)."""
    done = subprocess.run([str(frozen), "engines", "doctor", "--deep", "--json"], capture_output=True,
                          text=True, env=clean_env(tmp_path), timeout=1800)
    report = json.loads(done.stdout)
    broken = [e for e in report["engines"] if not e["ok"]]
    assert broken == [] and done.returncode == 0, json.dumps(broken, indent=2)[-4000:]


def test_every_engine_speaks_through_the_http_api_offline(frozen: Path, installed: dict[str, Any],
                                                         tiny: tuple[Path, dict[str, str], dict[str, str]],
                                                         tmp_path: Path) -> None:
    _hub, env, paths = tiny
    server = Server([str(frozen)], tmp_path / "srv", clean_env(tmp_path, **env, **paths), _free_port())
    try:
        health = httpx.get(f"{server.base}/health").json()
        assert health["status"] == "healthy" and health["failed_plugins"] == 0
        timings = {}
        for engine in installed["engines"]:
            result = first_generation(server.base, engine, tmp_path)
            assert result["status"]["status"] == "completed", (engine["name"], result["status"],
                                                               "".join(server.output[-40:]))
            data, rate = sf.read(io.BytesIO(result["audio"]))
            assert rate == engine["sample_rate"] and len(data) > 0, engine["name"]
            timings[engine["name"]] = round(result["seconds"], 2)
        _record("first_generation_frozen_s", timings)
    finally:
        server.stop()


def test_a_model_downloads_with_byte_progress_in_the_binary(frozen: Path, installed: dict[str, Any],
                                                           tiny: tuple[Path, dict[str, str], dict[str, str]],
                                                           tmp_path: Path) -> None:
    """Progress stuck at 0% was the seed's frozen-only bug: bytes must arrive as they download."""
    hub, env, _paths = tiny
    in_hub = describe(hub)["paths"]
    candidates = [m for m in installed["models"] if not m["bundled"] and not m["requires"] and m["repo"]
                  and "VOICEBOX_MODEL_PATH_" + re.sub(r"[^A-Za-z0-9]", "_", m["model_name"]).upper() in in_hub]
    assert candidates, "no tiny model to download"
    model = candidates[0]["model_name"]
    with fake_hub(hub, _free_port()) as endpoint:
        server = Server([str(frozen)], tmp_path / "srv", clean_env(
            tmp_path, **env, HF_ENDPOINT=endpoint, HF_HUB_OFFLINE="0", TRANSFORMERS_OFFLINE="0",
            HF_HUB_CACHE=str(tmp_path / "cache"), HF_HUB_DISABLE_XET="1"), _free_port())
        try:
            status = {m["model_name"]: m for m in httpx.get(f"{server.base}/models/status").json()["models"]}
            assert not status[model]["downloaded"]
            httpx.post(f"{server.base}/models/download", json={"model_name": model}).raise_for_status()
            with httpx.stream("GET", f"{server.base}/models/progress/{model}", timeout=600) as stream:
                events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
            final = events[-1]
            assert final["status"] == "complete", (final, "".join(server.output[-30:]))
            assert final["current"] == final["total"] > 0
            partial = [e for e in events if e["status"] == "downloading" and 0 < e["current"] < e["total"]]
            assert partial, f"no intermediate byte progress: {events[:5]}"
            status = {m["model_name"]: m for m in httpx.get(f"{server.base}/models/status").json()["models"]}
            assert status[model]["downloaded"] and status[model]["size_mb"] > 0
        finally:
            server.stop()


SENTENCE = "The quick brown fox jumps over the lazy dog."


def _bundled(installed: dict[str, Any]) -> list[dict[str, Any]]:
    """Engines whose default model ships inside a package: real weights, real speech."""
    bundled = {m["model_name"] for m in installed["models"] if m["bundled"] and not m["requires"]}
    return [e for e in installed["engines"] if e["model"] in bundled]


def test_bundled_voices_speak_intelligibly_from_the_binary(frozen: Path, installed: dict[str, Any],
                                                          tmp_path: Path) -> None:
    from tests.support.speech import transcribe, word_error_rate

    engines = _bundled(installed)
    if not engines:
        pytest.skip("no installed engine ships its weights in a package")
    for engine in engines:
        out = tmp_path / f"{engine['name']}.wav"
        done = subprocess.run([str(frozen), "say", SENTENCE, "--engine", engine["name"], "-o", str(out)],
                              capture_output=True, text=True, env=clean_env(tmp_path), timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        heard = transcribe(out)
        assert word_error_rate(SENTENCE, heard) < 0.3, (engine["name"], heard)


def test_a_bundle_missing_its_native_data_fails_readably(frozen: Path, installed: dict[str, Any],
                                                        tmp_path: Path) -> None:
    """Proof the smoke tests can fail: without the espeak-ng data a hook bundled, speaking is
    one readable error line, not a crash or a traceback."""
    engines = _bundled(installed)
    data = [p for p in frozen.parent.rglob("espeak-ng-data") if p.is_dir()]
    if not engines or not data:
        pytest.skip("no bundled engine and espeak-ng data to remove")
    broken = tmp_path / "broken"
    shutil.copytree(frozen.parent, broken, symlinks=True, copy_function=os.link)
    for path in broken.rglob("espeak-ng-data"):
        if path.is_dir():
            shutil.rmtree(path)
    out = tmp_path / "never.wav"
    done = subprocess.run([str(broken / frozen.name), "say", SENTENCE, "--engine", engines[0]["name"],
                           "-o", str(out)], capture_output=True, text=True, env=clean_env(tmp_path), timeout=600)
    assert done.returncode != 0
    assert "voicebox: error:" in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert not out.exists()


def test_frozen_binary_serves_an_isolated_engine(frozen: Path, tmp_path: Path) -> None:
    """The frozen host reaches an isolated engine through the environment's own Python: the
    binary, which has no pip of its own, installs isolated without being told (the same check
    and rollback; --python: it has no Python either) and speaks through its worker."""
    env = clean_env(tmp_path)
    done = subprocess.run([str(frozen), "engines", "install", str(ROOT / "core" / "tests" / "plugins" / "reference"),
                           "--python", sys.executable, "--core", str(ROOT / "core"), "--json",
                           "-c", str(ROOT / "constraints.txt")], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout)
    assert outcome["lives"] == "isolated" and "frozen app" in outcome["reason"], outcome
    assert "check" in outcome["seconds"]
    listing = json.loads(subprocess.run([str(frozen), "engines", "list", "--json"], capture_output=True, text=True,
                                        env=env, timeout=300, check=True).stdout)
    (row,) = [e for e in listing["engines"] if e["engine"] == "reference"]
    assert row["lives"]["mode"] == "isolated"
    out = tmp_path / "isolated.wav"
    done = subprocess.run([str(frozen), "say", "Hello from an isolated engine.", "--engine", "reference", "-o", str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    audio, rate = sf.read(out)
    assert rate == 16000 and len(audio) > 1000
