"""Freeze core + the installed engines with build/freeze.py, then use the binary as a user.

The binary runs with an empty model cache and the network off. A second copy with the
engine's bundled espeak-ng data removed must fail with a readable error: proof that this
smoke test can fail when a plugin's hook misses its data.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support.speech import transcribe, word_error_rate  # noqa: E402

SENTENCE = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="session")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The onedir build folder; built once per session (a few minutes)."""
    prebuilt = os.environ.get("VOICEBOX_FROZEN_DIST")
    if prebuilt:
        return Path(prebuilt)
    out = tmp_path_factory.mktemp("dist")
    work = tmp_path_factory.mktemp("work")
    subprocess.run([sys.executable, str(ROOT / "build" / "freeze.py"), "--out", str(out),
                    "--work", str(work)], check=True, timeout=1500)
    return out / "voicebox"


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICEBOX_", "HF_", "PYTHON"))}
    env.update(HF_HOME=str(tmp_path / "empty-hf"), HF_HUB_OFFLINE="1",
               VOICEBOX_DATA_DIR=str(tmp_path / "data"))
    return env


def run(binary: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_engines_list_shows_the_default_engine(frozen: Path, clean_env: dict[str, str]) -> None:
    result = run(frozen / "voicebox", "engines", "list", env=clean_env)
    assert result.returncode == 0, result.stderr
    assert "piper" in result.stdout
    assert "failed to load" not in result.stdout


def test_say_writes_intelligible_speech(frozen: Path, clean_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "frozen.wav"
    result = run(frozen / "voicebox", "say", SENTENCE, "--engine", "piper", "-o", str(out),
                 env=clean_env)
    assert result.returncode == 0, result.stderr
    heard = transcribe(out)
    assert word_error_rate(SENTENCE, heard) < 0.3, heard


def test_missing_hook_data_fails_readably(frozen: Path, clean_env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(frozen, broken, symlinks=True)
    removed = [p for p in broken.rglob("espeak-ng-data") if p.is_dir()]
    assert removed, "the build bundled no espeak-ng data at all"
    for path in removed:
        shutil.rmtree(path)
    out = tmp_path / "never.wav"
    result = run(broken / "voicebox", "say", SENTENCE, "--engine", "piper", "-o", str(out),
                 env=clean_env)
    assert result.returncode != 0
    assert "voicebox: error:" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sidecar_launch_serves_and_stops_with_its_parent(frozen: Path, clean_env: dict[str, str],
                                                          tmp_path: Path) -> None:
    """Launched as the Voicebox app launches its sidecar; ready when uvicorn says so."""
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    port = _free_port()
    server = subprocess.Popen([str(frozen / "voicebox"), "--data-dir", str(tmp_path / "srv"),
                               "--port", str(port), "--parent-pid", str(parent.pid)], env=clean_env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        assert server.stdout is not None
        seen = []
        deadline = time.monotonic() + 120
        while not any("Application startup complete" in line for line in seen):
            line = server.stdout.readline()
            assert line or server.poll() is None, "".join(seen)
            seen.append(line)
            assert time.monotonic() < deadline, "no ready line in 120 s:\n" + "".join(seen)
        assert httpx.get(f"{base}/health", timeout=10).json()["status"] == "healthy"
        engines = httpx.get(f"{base}/engines", timeout=10).json()
        assert "piper" in str(engines)
        speech = httpx.post(f"{base}/v1/audio/speech", timeout=120,
                            json={"model": "piper", "input": SENTENCE, "response_format": "wav"})
        assert speech.status_code == 200, speech.text
        assert speech.content[:4] == b"RIFF"
        parent.kill()
        assert server.wait(timeout=30) == 0
    finally:
        parent.kill()
        if server.poll() is None:
            server.kill()
