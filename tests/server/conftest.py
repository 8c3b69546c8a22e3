"""Server test fixtures: an in-process app, real `voicebox serve` processes, a fake HF hub.

Every server binds 127.0.0.1 on a free port; every request loop is bounded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from voicebox_core.server import create_app
from voicebox_core.testing import write_reference_clip

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.fake_hub import COMMIT, HUB_FILES, free_port, running_fake_hub

__all__ = ["COMMIT", "HUB_FILES", "LiveServers", "free_port"]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(tmp_path / "data")) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reference_clip(tmp_path_factory.mktemp("clips") / "ref.wav")


@pytest.fixture(scope="session")
def fake_hub() -> Iterator[str]:
    with running_fake_hub() as url:
        yield url


class LiveServers:
    """Real `voicebox serve` processes on free loopback ports."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: dict[str, subprocess.Popen[str]] = {}

    def start(self, data_dir: Path | None = None, **env: str) -> str:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "voicebox_core", "serve", "--port", str(port),
             "--data-dir", str(data_dir or self.root / "live-data")],
            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        base = f"http://127.0.0.1:{port}"
        self.processes[base] = proc
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("server did not answer /health within 60 s")

    def stop(self, base: str) -> None:
        proc = self.processes.pop(base)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServers]:
    servers = LiveServers(tmp_path)
    yield servers
    for base in list(servers.processes):
        servers.stop(base)
