"""A fake Hugging Face hub on loopback: the few routes huggingface_hub calls to plan and
fetch ``voicebox-test/tiny-tone`` (config.json and 300 kB of weights, sent slowly so byte
progress has steps). Used by the server and isolation tests; point ``HF_ENDPOINT`` at it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "c0ffee" + "0" * 34
HUB_FILES = {"config.json": json.dumps({"pitch": 330}).encode(), "weights.bin": os.urandom(300_000)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Hub(BaseHTTPRequestHandler):
    """The few routes huggingface_hub calls to plan and fetch a model's files."""

    files = HUB_FILES
    #: Bytes per piece of a file and seconds between pieces (the download's pace).
    piece = 50_000
    chunk_delay = 0.05

    def log_message(self, *args: object) -> None:
        pass

    def _file(self) -> tuple[str, bytes] | None:
        prefix = "/voicebox-test/tiny-tone/resolve/"
        if not self.path.startswith(prefix):
            return None
        name = self.path[len(prefix):].split("/", 1)[-1].split("?")[0]
        return (name, self.files[name]) if name in self.files else None

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
                {"rfilename": n, "size": len(d)} for n, d in self.files.items()]}).encode()
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
        for start in range(0, len(data), self.piece):  # slowly, so progress has steps to report
            self.wfile.write(data[start:start + self.piece])
            self.wfile.flush()
            time.sleep(self.chunk_delay)


@contextlib.contextmanager
def running_fake_hub(chunk_delay: float = 0.05, files: dict[str, bytes] | None = None,
                     piece: int = 50_000) -> Iterator[str]:
    """The hub's base URL while the block runs. ``files`` replaces HUB_FILES; ``piece`` bytes
    leave every ``chunk_delay`` seconds. (huggingface_hub 1.x and 2.x report a download's
    bytes every 10 MB: a progress bar needs a file above that to move in steps.)"""
    handler = type("Hub", (_Hub,), {"chunk_delay": chunk_delay, "files": files or HUB_FILES, "piece": piece})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
