"""Engines whose pins conflict, each isolated, served together by one `voicebox serve`.

Which plugins: ``VOICEBOX_ISOLATION_PLUGINS`` (plugin folders, space-separated; tox.ini names
them: engines on transformers 4.57 and on transformers 5 that cannot share one environment).
Each gets its own environment, made by `voicebox engines install <folder> --isolated` with the
torch constraint; the tiny random-weight checkpoints are built by each plugin's own
tests/tiny_hub.py, run with that environment's Python (the host has no torch). One server
then generates with one engine of each environment at once; an engine that takes several
voices also speaks a dialogue through its worker.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
import voicebox_core as vb
from conftest import CONSTRAINTS, ROOT, Server, voicebox
from voicebox_core.registry import Registry
from voicebox_core.testing import write_reference_clip

PLUGINS = [ROOT / p for p in os.environ.get("VOICEBOX_ISOLATION_PLUGINS", "").split()]
pytestmark = pytest.mark.skipif(len(PLUGINS) < 2, reason="set VOICEBOX_ISOLATION_PLUGINS to two or more "
                                "plugin folders whose pins conflict (tox -e isolation does)")

BUILD = ("import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); import tiny_hub; "
         "print(json.dumps(tiny_hub.build(Path(sys.argv[2]))))")


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory, core_wheel: Path) -> dict[str, Any]:
    data = tmp_path_factory.mktemp("pins-data")
    hub = data / "hub"
    seconds, env = {}, {}
    wheelhouse = Path(os.environ.get("VOICEBOX_WHEELHOUSE", ROOT / "wheelhouse"))
    for plugin in PLUGINS:
        started = time.perf_counter()
        # by name from the wheelhouse, as from an index (a folder where there is none); no
        # --with torchaudio: the installer repairs it inside the environment it makes
        name, source = (plugin.name, ["--find-links", str(wheelhouse)]) if (wheelhouse / "simple").is_dir() \
            else (str(plugin), [])
        done = voicebox("engines", "install", name, *source, "--isolated", "-c", str(CONSTRAINTS), "--core",
                        str(core_wheel), "--with", "pytest>=8",
                        env={"VOICEBOX_DATA_DIR": str(data)}, timeout=1800)
        assert done.returncode == 0, done.stderr[-3000:]
        seconds[plugin.name] = round(time.perf_counter() - started, 1)
        distribution = re.search(r'(?m)^name = "([^"]+)"', (plugin / "pyproject.toml").read_text()).group(1)  # type: ignore[union-attr]
        record = [e for e in (data / "engines").iterdir() if (e / "voicebox-env.json").is_file()
                  and json.loads((e / "voicebox-env.json").read_text())["distribution"] == distribution]
        python = record[0] / "venv" / "bin" / "python"
        made = subprocess.run([str(python), "-c", BUILD, str(plugin / "tests"), str(hub)], capture_output=True,
                              text=True, timeout=900, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        assert made.returncode == 0, made.stderr[-3000:]
        env.update(json.loads(made.stdout.strip().splitlines()[-1]))
    print(f"isolated environment creation: {json.dumps(seconds)} s")
    listing = json.loads(voicebox("engines", "list", "--json", env={"VOICEBOX_DATA_DIR": str(data)}).stdout)
    return {"data": data, "hub": hub, "env": env, "listing": listing}


def _by_environment(listing: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in listing["engines"]:
        groups.setdefault(row["lives"].get("environment", ""), []).append(row)
    return groups


def test_engines_list_shows_every_environment_with_its_own_transformers(pinned: dict[str, Any]) -> None:
    groups = _by_environment(pinned["listing"])
    assert "" not in groups and len(groups) == len(PLUGINS)  # every engine is isolated, one env per plugin
    versions = {rows[0]["lives"]["versions"].get("transformers", "") for rows in groups.values()}
    minors = {".".join(v.split(".")[:2]) for v in versions if v}
    assert len(minors) >= 2, versions  # the pins that could not share one environment
    assert not pinned["listing"]["failed"]


def _speaker_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The engine of an environment to speak with: one with a default voice, else a cloning one."""
    preset = [r for r in rows if r["default_voice"]]
    return preset[0] if preset else next(r for r in rows if "cloned" in r["voice_kinds"])


def test_one_server_generates_with_every_environment_at_once(pinned: dict[str, Any], tmp_path: Path) -> None:
    server = Server(Path(pinned["data"]), HF_HUB_CACHE=str(pinned["hub"]), HF_HUB_OFFLINE="1", **pinned["env"])
    try:
        clip = write_reference_clip(tmp_path / "voice.wav", seconds=3.0)
        requests = {}
        for rows in _by_environment(pinned["listing"]).values():
            row = _speaker_of(rows)
            voice = None
            if not row["default_voice"]:  # a cloning engine speaks with a saved profile
                profile = httpx.post(f"{server.base}/profiles", json={"name": f"voice for {row['engine']}",
                                                                      "voice_type": "cloned", "language": "en"}).json()
                with open(clip, "rb") as audio:
                    added = httpx.post(f"{server.base}/profiles/{profile['id']}/samples",
                                       files={"file": ("voice.wav", audio, "audio/wav")},
                                       data={"reference_text": "a test of my voice"})
                assert added.status_code == 201, added.text
                voice = profile["id"]
            requests[row["engine"]] = voice
        results: dict[str, httpx.Response] = {}

        def speak(engine: str, voice: str | None) -> None:
            extra = {"voice": voice} if voice else {}
            results[engine] = server.speak(engine, "Hello from an isolated engine.", timeout=600, seed=7, **extra)

        threads = [threading.Thread(target=speak, args=item) for item in requests.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(660)
        for engine in requests:
            response = results[engine]
            assert response.status_code == 200, (engine, response.text)
            assert response.headers["content-type"] == "audio/flac"
            # a tiny random-weight model may say little, and FLAC packs a short or quiet clip
            # into a few hundred bytes: decode it rather than weigh it
            audio, rate = sf.read(io.BytesIO(response.content))
            assert len(audio) > 0 and rate > 0 and np.isfinite(audio).all(), (engine, len(audio), rate)
        assert set(requests) <= set(server.workers())
    finally:
        server.stop()


def test_a_dialogue_through_an_isolated_worker(pinned: dict[str, Any], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Several voices' prompt handles cross the boundary together (where an engine takes them)."""
    monkeypatch.setenv("VOICEBOX_DATA_DIR", str(pinned["data"]))
    monkeypatch.setenv("HF_HUB_CACHE", str(pinned["hub"]))
    for key, value in pinned["env"].items():
        monkeypatch.setenv(key, value)
    registry = Registry.discover()
    try:
        talkers = [e for e in registry.engines if e.capabilities.max_speakers > 1 and "cloned" in e.voice_kinds]
        if not talkers:
            pytest.skip("no isolated engine here takes several voices")
        engine = talkers[0]
        clips = [write_reference_clip(tmp_path / f"s{i}.wav", seconds=2.5, seed=i) for i in range(2)]
        voices = [vb.Voice.clone([(str(c), "")]) for c in clips]
        result = __import__("asyncio").run(vb.Synthesizer(registry).synthesize(vb.SynthesisRequest(
            text="Speaker 1: Welcome.\nSpeaker 2: Thank you.", model=engine.name, voice=voices[0],
            speakers=(voices[1],), seed=3)))
        assert registry.plugin_of(engine.name).isolated
        assert result.audio.size and result.sample_rate == engine.default_model.sample_rate
    finally:
        registry.close()
