"""Isolated engines for the tests: real environments made by `voicebox engines install --isolated`.

The host (this tox env) has voicebox-core[server] and no engine. One session data dir holds
two isolated environments, made once: the reference engine (core's test plugin) and the
faulty engine (tests/isolation/plugins/faulty), each with voicebox-core from a wheel built
here (the wheelhouse path of the docs). Servers bind 127.0.0.1 on free ports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support.fake_hub import free_port, running_fake_hub  # noqa: E402

REFERENCE = ROOT / "core" / "tests" / "plugins" / "reference"
FAULTY = Path(__file__).parent / "plugins" / "faulty"
CONSTRAINTS = ROOT / "constraints.txt"


def voicebox(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voicebox_core", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture(scope="session")
def core_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT / "core")],
                   check=True, timeout=600)
    return next(out.glob("voicebox_core-*.whl"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory, core_wheel: Path) -> Path:
    """A data dir with the reference and faulty engines installed isolated (the slow part: once)."""
    data = tmp_path_factory.mktemp("isolated-data")
    for plugin in (REFERENCE, FAULTY):
        done = voicebox("engines", "install", str(plugin), "--isolated", "-c", str(CONSTRAINTS),
                        "--core", str(core_wheel), env={"VOICEBOX_DATA_DIR": str(data)})
        assert done.returncode == 0, done.stderr + done.stdout
    return data


@pytest.fixture(scope="session")
def fake_hub() -> Iterator[str]:
    with running_fake_hub() as url:
        yield url


class Server:
    """One real `voicebox serve` on a free loopback port, with the isolated data dir."""

    def __init__(self, data: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / f"server-{self.port}.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "voicebox_core", "serve", "--port", str(self.port), "--data-dir", str(data)],
                env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("server did not answer /health within 60 s")

    def speak(self, engine: str, text: str, timeout: float = 120, **extra: object) -> httpx.Response:
        body = {"model": engine, "input": text, "response_format": "flac", **extra}
        return httpx.post(f"{self.base}/v1/audio/speech", json=body, timeout=timeout)

    def workers(self) -> dict[str, psutil.Process]:
        """The server's worker processes by engine (from their command lines)."""
        found = {}
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                cmd = child.cmdline()
            except psutil.Error:
                continue
            if "voicebox_core.worker" in cmd and "serve" in cmd:
                found[cmd[-1]] = child
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def serve(data_dir: Path) -> Iterator[object]:
    started: list[Server] = []

    def start(**env: str) -> Server:
        server = Server(data_dir, **env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def wait_gone(pids: list[int], seconds: float = 10) -> list[int]:
    """The pids still running after up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return []
        time.sleep(0.1)
    return alive
