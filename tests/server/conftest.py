"""Server test fixtures: an in-process app, real `voicebox serve` processes, a fake HF hub.

Every server binds 127.0.0.1 on a free port; every request loop is bounded.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from voicebox_core.server import create_app
from voicebox_core.testing import write_reference_clip

COMMIT = "c0ffee" + "0" * 34
HUB_FILES = {"config.json": json.dumps({"pitch": 330}).encode(), "weights.bin": os.urandom(300_000)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(tmp_path / "data")) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reference_clip(tmp_path_factory.mktemp("clips") / "ref.wav")


class _Hub(BaseHTTPRequestHandler):
    """The few routes huggingface_hub calls to plan and fetch a model's files."""

    def log_message(self, *args: object) -> None:
        pass

    def _file(self) -> tuple[str, bytes] | None:
        prefix = "/voicebox-test/tiny-tone/resolve/"
        if not self.path.startswith(prefix):
            return None
        name = self.path[len(prefix):].split("/", 1)[-1].split("?")[0]
        return (name, HUB_FILES[name]) if name in HUB_FILES else None

    def _headers(self, name: str, data: bytes) -> None:
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802
        found = self._file()
        if found is None:
            self.send_error(404)
            return
        self._headers(*found)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/api/models/voicebox-test/tiny-tone"):
            body = json.dumps({"id": "voicebox-test/tiny-tone", "sha": COMMIT, "siblings": [
                {"rfilename": n, "size": len(d)} for n, d in HUB_FILES.items()]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        found = self._file()
        if found is None:
            self.send_error(404, "Repository Not Found")
            return
        self._headers(*found)
        data = found[1]
        for start in range(0, len(data), 50_000):  # slowly, so progress has steps to report
            self.wfile.write(data[start:start + 50_000])
            self.wfile.flush()
            time.sleep(0.05)


@pytest.fixture(scope="session")
def fake_hub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


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
