"""Real servers for the remote engine's tests, all on loopback, all stopped at the end.

- ``piper_remote``: a second ``voicebox serve`` with its own data dir, speaking with the
  offline piper voice: the remote a laptop reaches.
- ``odd_remote``: a small HTTP server in this process that answers like a broken speech
  server would (500, a 200 that is HTML or MP3, a 4xx that repeats the API key).
- ``local``: our ``voicebox serve`` (HTTP + Wyoming), whose data dir has the remote engines
  ``gpu`` (piper_remote), ``flaky`` (a piper remote the tests kill), ``odd`` and ``down``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("VOICEBOX_DATA_DIR", tempfile.mkdtemp(prefix="voicebox-remote-tests-"))

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from tests.support.fake_hub import free_port  # noqa: E402

#: The API key the odd remote expects; it must never show in our answers or logs.
SECRET = "sk-remote-test-3f9a1c"
SENTENCE = "The quick brown fox jumps over the lazy dog."
JOE = "en_US-joe-medium"


def voicebox(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voicebox_core", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "VOICEBOX_DATA_DIR": str(data_dir), **env})


@dataclass
class Server:
    """A ``voicebox serve`` subprocess; ``start`` again on the same port after ``kill``."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    wyoming_port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}-{self.port}.log"

    def start(self) -> Server:
        command = [sys.executable, "-m", "voicebox_core", "serve", "--port", str(self.port),
                   "--data-dir", str(self.data_dir)]
        if self.wyoming_port:
            command += ["--wyoming", f"tcp://127.0.0.1:{self.wyoming_port}"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, "VOICEBOX_DATA_DIR": str(self.data_dir), **self.env})
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"voicebox serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("voicebox serve did not answer /health within 90 s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


def piper_server(data_dir: Path) -> Server:
    # The remote serves piper only: the remote engines are ours, not its.
    return Server(data_dir, env={"VOICEBOX_PLUGINS": "piper", "HF_HUB_CACHE": str(data_dir / "empty-hub")})


class _Odd(BaseHTTPRequestHandler):
    """A speech server gone wrong; the model asked for says how."""

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, media: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        key = self.headers.get("Authorization", "")
        model = body.get("model")
        if model == "fail500":
            self._send(500, "application/json", json.dumps({"detail": "the GPU caught fire"}).encode())
        elif model == "garbage":
            self._send(200, "text/html", b"<html><body>Welcome to nginx!</body></html>")
        elif model == "mp3":  # a server that ignores response_format
            self._send(200, "audio/mpeg", b"\xff\xfb\x90\x00" * 64)
        elif model == "echo-key":  # a careless server repeating the credentials it got
            self._send(422, "application/json", json.dumps({"detail": f"bad voice for {key}"}).encode())
        else:
            self._send(404, "application/json", json.dumps({"error": {"message": f"no model {model}"}}).encode())


@pytest.fixture(scope="session")
def odd_remote() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Odd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def piper_remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = piper_server(tmp_path_factory.mktemp("remote") / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def flaky_remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = piper_server(tmp_path_factory.mktemp("flaky") / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def configured(tmp_path_factory: pytest.TempPathFactory, piper_remote: Server, flaky_remote: Server,
               odd_remote: str) -> Path:
    """A data dir with the remote engines, added as a user adds them."""
    data = tmp_path_factory.mktemp("local") / "data"
    for args in (["gpu", piper_remote.url],
                 ["flaky", flaky_remote.url, "--retries", "1"],
                 ["odd", odd_remote, "--api-key-env", "ODD_KEY", "--model", "fail500", "--model", "garbage",
                  "--model", "echo-key", "--model", "mp3", "--voice", "alice"],
                 ["down", f"http://127.0.0.1:{free_port()}", "--model", "m", "--voice", "v", "--retries", "1"]):
        done = voicebox("engines", "add-remote", *args, data_dir=data)
        assert done.returncode == 0, done.stderr
    return data


@pytest.fixture(scope="session")
def local(configured: Path) -> Iterator[Server]:
    """Our server, with piper too (as a laptop might have it) and the remote engines."""
    server = Server(configured, wyoming_port=free_port(),
                    env={"ODD_KEY": SECRET, "HF_HUB_CACHE": str(configured / "empty-hub")}).start()
    try:
        yield server
    finally:
        server.stop()
