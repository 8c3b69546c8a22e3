"""Every installed engine, driven without naming one: tiny checkpoints, a fake hub, requests.

Used by the all-engines frozen test and its benchmark. Each plugin that can be tested this
way has ``tests/tiny_hub.py`` with ``build(hub) -> env``: it writes its tiny random-weight
checkpoints into the Hugging Face cache ``hub`` under their real repo ids and returns the
environment its engines need to run them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]

_LISTING = r"""
import json, os, re, sys
from voicebox_core.registry import Registry
from voicebox_core.runtime.download import cached_snapshot
registry = Registry.discover()
paths = {}
for model in registry.models:
    for config in (model, *model.requires):
        snapshot = cached_snapshot(config) if config.hf_repo_id else None
        if snapshot is not None:
            var = "VOICEBOX_MODEL_PATH_" + re.sub(r"[^A-Za-z0-9]", "_", config.model_name).upper()
            paths[var] = str(snapshot)
print(json.dumps({
    "engines": [{"name": e.name, "distribution": registry.plugin_of(e.name).distribution,
                 "voice_kinds": list(e.voice_kinds), "default_voice": e.default_voice,
                 "reference_seconds": list(e.reference_seconds),
                 "model": e.default_model.model_name, "sample_rate": e.default_model.sample_rate,
                 "languages": list(e.default_model.languages)} for e in registry.engines],
    "models": [{"model_name": m.model_name, "engine": m.engine, "repo": m.hf_repo_id,
                "bundled": m.bundled, "requires": len(m.requires), "files": list(m.files),
                "revision": m.revision} for m in registry.models],
    "paths": paths, "failed": [f.name for f in registry.failures]}))
"""


def plugin_sources() -> dict[str, Path]:
    """Distribution name -> the plugin's source folder in this repository."""
    found = {}
    for project in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        name = re.search(r'(?m)^name = "([^"]+)"', project.read_text()).group(1)  # type: ignore[union-attr]
        found[name] = project.parent
    return found


def describe(hub: Path | None = None) -> dict[str, Any]:
    """The installed engines as this Python sees them, and their snapshots in ``hub``."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if hub is not None:
        env["HF_HUB_CACHE"] = str(hub)
    done = subprocess.run([sys.executable, "-c", _LISTING], capture_output=True, text=True, env=env,
                          check=True, timeout=300)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def build_tiny_hub(hub: Path, distributions: set[str]) -> dict[str, str]:
    """Run each installed plugin's ``tests/tiny_hub.py``; the merged environment it asks for."""
    hub.mkdir(parents=True, exist_ok=True)
    env: dict[str, str] = {}
    code = ("import json, runpy, sys; from pathlib import Path; "
            "m = runpy.run_path(sys.argv[1]); print('ENV=' + json.dumps(m['build'](Path(sys.argv[2]))))")
    for distribution, source in plugin_sources().items():
        builder = source / "tests" / "tiny_hub.py"
        if distribution not in distributions or not builder.is_file():
            continue
        done = subprocess.run([sys.executable, "-c", code, str(builder), str(hub)], capture_output=True,
                              text=True, timeout=1800, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        if done.returncode != 0:
            raise AssertionError(f"{builder} failed:\n{done.stderr[-4000:]}")
        asked = json.loads(next(line[4:] for line in done.stdout.splitlines() if line.startswith("ENV=")))
        for key, value in asked.items():
            env[key] = os.pathsep.join(filter(None, [env.get(key, ""), value])) if key.endswith("_SCRIPTS") else value
    return env


def clean_env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICEBOX_", "HF_", "PYTHON"))}
    env.update(HF_HOME=str(data / "empty-hf"), HF_HUB_OFFLINE="1", VOICEBOX_DATA_DIR=str(data / "data"),
               HF_HUB_DISABLE_TELEMETRY="1", TRANSFORMERS_OFFLINE="1", VOICEBOX_DEVICE="cpu")
    env.update(extra)
    return env


class Server:
    """A `voicebox` server started the way the Voicebox app starts its sidecar."""

    def __init__(self, command: list[str], data: Path, env: dict[str, str], port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        self.proc = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(port),
                                      "--data-dir", str(data), "--parent-pid", str(os.getpid())],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + 300
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("server exited:\n" + "".join(self.output[-80:]))
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("no /health in 300 s:\n" + "".join(self.output[-80:]))
            time.sleep(0.1)
        self.cold_start = time.perf_counter() - started

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _clip(path: Path, seconds: float) -> bytes:
    from voicebox_core.testing import write_reference_clip

    return write_reference_clip(path, seconds=seconds).read_bytes()


def first_generation(base: str, engine: dict[str, Any], workdir: Path, timeout: float = 900) -> dict[str, Any]:
    """One generation with ``engine`` through the Voicebox API (its kind of voice); the row."""
    language = "en" if "en" in engine["languages"] else engine["languages"][0]
    body: dict[str, Any] = {"text": "Hello from every engine.", "engine": engine["name"], "language": language}
    kinds = engine["voice_kinds"]
    with httpx.Client(base_url=base, timeout=timeout) as http:
        if "preset" in kinds and engine["default_voice"]:
            pass
        elif "cloned" in kinds:
            low, high = engine["reference_seconds"]
            profile = http.post("/profiles", json={"name": f"clone for {engine['name']}", "language": language,
                                                   "default_engine": engine["name"]})
            profile.raise_for_status()
            sample = http.post(f"/profiles/{profile.json()['id']}/samples", data={"reference_text": "The quick brown fox."},
                               files={"file": ("ref.wav", _clip(workdir / f"{engine['name']}.wav", min(high, max(low, 6.0))),
                                               "audio/wav")})
            sample.raise_for_status()
            body["profile_id"] = profile.json()["id"]
        else:
            profile = http.post("/profiles", json={"name": f"design for {engine['name']}", "language": language,
                                                   "voice_type": "designed", "design_prompt": "A calm, warm voice.",
                                                   "default_engine": engine["name"]})
            profile.raise_for_status()
            body["profile_id"] = profile.json()["id"]
        started = time.perf_counter()
        made = http.post("/generate", json=body)
        assert made.status_code == 200, made.text
        with http.stream("GET", f"/generate/{made.json()['id']}/status") as events:
            last = [json.loads(line[6:]) for line in events.iter_lines() if line.startswith("data: ")][-1]
        seconds = time.perf_counter() - started
        row = http.get(f"/history/{made.json()['id']}").json()
        audio = http.get(f"/audio/{made.json()['id']}") if last["status"] == "completed" else None
    return {"status": last, "row": row, "seconds": seconds, "audio": audio.content if audio is not None else b""}


class _Hub(BaseHTTPRequestHandler):
    """The routes huggingface_hub calls to plan and fetch a model, over a local HF cache."""

    hub: Path
    delay = 0.02

    def log_message(self, *args: object) -> None:
        pass

    def _repo(self, repo_id: str) -> Path:
        return self.hub / ("models--" + repo_id.replace("/", "--"))

    def _snapshot(self, repo_id: str, revision: str) -> tuple[str, Path] | None:
        repo = self._repo(repo_id)
        ref = repo / "refs" / revision
        commit = ref.read_text().strip() if ref.is_file() else revision
        snapshot = repo / "snapshots" / commit
        return (commit, snapshot) if snapshot.is_dir() else None

    def _api(self, path: str) -> None:
        match = re.match(r"^/api/models/([^/]+/[^/?]+)(?:/revision/([^/?]+))?", path)
        found = self._snapshot(match.group(1), match.group(2) or "main") if match else None
        if match is None or found is None:
            self.send_error(404, "Repository Not Found")
            return
        commit, snapshot = found
        files = sorted(p for p in snapshot.rglob("*") if p.is_file())
        body = json.dumps({"id": match.group(1), "sha": commit, "siblings": [
            {"rfilename": p.relative_to(snapshot).as_posix(), "size": p.stat().st_size} for p in files]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _file(self) -> tuple[str, Path] | None:
        match = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+?)(?:\?.*)?$", self.path)
        if match is None:
            return None
        found = self._snapshot(match.group(1), match.group(2))
        if found is None:
            return None
        path = found[1] / match.group(3)
        return (found[0], path) if path.is_file() else None

    def _headers(self, commit: str, path: Path) -> None:
        self.send_response(200)
        self.send_header("X-Repo-Commit", commit)
        self.send_header("ETag", f'"{hashlib.sha256(path.read_bytes()).hexdigest()}"')
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802
        found = self._file()
        if found is None:
            self.send_error(404)
            return
        self._headers(*found)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/api/models/"):
            self._api(self.path)
            return
        found = self._file()
        if found is None:
            self.send_error(404, "Entry Not Found")
            return
        self._headers(*found)
        data = found[1].read_bytes()
        step = max(64 * 1024, len(data) // 20)
        for start in range(0, len(data), step):  # in steps, so progress has something to report
            self.wfile.write(data[start:start + step])
            self.wfile.flush()
            time.sleep(self.delay)


@contextmanager
def fake_hub(hub: Path, port: int) -> Iterator[str]:
    """A loopback Hugging Face endpoint serving the snapshots of ``hub``."""
    handler = type("Hub", (_Hub,), {"hub": hub})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
