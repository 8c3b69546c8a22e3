"""Two engines whose pins conflict, each isolated, served together by one `voicebox serve`.

Qwen (qwen-tts 0.1.1 breaks on transformers 5) and Kokoro (its range resolves to transformers
5.x alone) cannot share one environment at these versions. Each gets its own, made by
`voicebox engines install plugins/<engine> --isolated` with the torch constraint; the tiny
random-weight checkpoints are built by each plugin's own tests/tiny_hub.py, run with that
environment's Python (the host has no torch). One server then generates with both at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import CONSTRAINTS, ROOT, Server, voicebox

ENGINES = {"qwen": ROOT / "plugins" / "qwen", "kokoro": ROOT / "plugins" / "kokoro"}
#: Each engine's request: an engine with preset voices (its default voice speaks).
SPEAK = {"qwen": "qwen_custom_voice", "kokoro": "kokoro"}


def _torchaudio_wheel(out: Path) -> Path:
    """torchaudio as the README installs it beside CPU torch (build/torchaudio_wheel.py)."""
    subprocess.run([sys.executable, str(ROOT / "build" / "torchaudio_wheel.py"), "--out", str(out)],
                   check=True, capture_output=True, timeout=600)
    return next(out.glob("torchaudio-*.whl"))


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory, core_wheel: Path) -> dict[str, object]:
    data = tmp_path_factory.mktemp("pins-data")
    hub = data / "hub"
    wheel = _torchaudio_wheel(tmp_path_factory.mktemp("torchaudio"))
    seconds = {}
    for engine, plugin in ENGINES.items():
        started = time.perf_counter()
        done = voicebox("engines", "install", str(plugin), "--isolated", "-c", str(CONSTRAINTS), "--core",
                        str(core_wheel), "--with", str(wheel), "--with", "pytest>=8",
                        env={"VOICEBOX_DATA_DIR": str(data)}, timeout=1800)
        assert done.returncode == 0, done.stderr[-3000:]
        seconds[engine] = time.perf_counter() - started
        python = data / "engines" / f"voicebox-engine-{engine}" / "venv" / "bin" / "python"
        build = ("import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); import tiny_hub; "
                 "print(json.dumps(tiny_hub.build(Path(sys.argv[2]))))")
        made = subprocess.run([str(python), "-c", build, str(plugin / "tests"), str(hub)], capture_output=True,
                              text=True, timeout=900, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        assert made.returncode == 0, made.stderr[-3000:]
    print(f"isolated environment creation: {json.dumps({k: round(v, 1) for k, v in seconds.items()})} s")
    return {"data": data, "hub": hub, "seconds": seconds}


def test_engines_list_shows_both_with_their_own_transformers(pinned: dict[str, object]) -> None:
    done = voicebox("engines", "list", "--json", env={"VOICEBOX_DATA_DIR": str(pinned["data"])})
    rows = {row["engine"]: row for row in json.loads(done.stdout)["engines"]}
    qwen, kokoro = rows["qwen_custom_voice"]["lives"], rows["kokoro"]["lives"]
    assert qwen["mode"] == kokoro["mode"] == "isolated"
    assert qwen["versions"]["transformers"].startswith("4.57.")
    assert kokoro["versions"]["transformers"].startswith("5.")
    assert qwen["environment"] != kokoro["environment"]
    assert {"qwen", "qwen_custom_voice", "qwen_voice_design", "kokoro"} <= set(rows)
    assert not json.loads(done.stdout)["failed"]


def test_one_server_generates_with_both_at_once(pinned: dict[str, object]) -> None:
    server = Server(Path(str(pinned["data"])), HF_HUB_CACHE=str(pinned["hub"]), HF_HUB_OFFLINE="1")
    try:
        results: dict[str, object] = {}

        def speak(engine: str) -> None:
            results[engine] = server.speak(SPEAK[engine], "Hello from an isolated engine.", timeout=600,
                                           seed=7)

        threads = [threading.Thread(target=speak, args=(e,)) for e in ENGINES]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(660)
        for engine in ENGINES:
            response = results[engine]
            assert response.status_code == 200, (engine, response.text)
            assert response.headers["content-type"] == "audio/flac" and len(response.content) > 1000
        workers = server.workers()
        assert {"qwen_custom_voice", "kokoro"} <= set(workers)
        assert server.speak("kokoro", "And once more.", timeout=300).status_code == 200
    finally:
        server.stop()
