"""A local Ray instance (started here, loopback, 2 CPUs) and `voicebox serve --ray` against it.

The tox env has voicebox-core[ray], piper (the offline default) and core's reference engine
installed: replicas inherit this environment (the cluster's own, as on a one-machine
cluster). Every replica asks for a quarter CPU so that all of them fit in ``num_cpus=2``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support.fake_hub import free_port  # noqa: E402

CONFIG = """
engines = ["piper", "reference"]

[defaults]
num_cpus = 0.25
max_ongoing_requests = 2

[engine.piper]
num_replicas = 2
"""


def _ray_cli() -> str:
    return str(Path(sys.executable).with_name("ray"))


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """``ray start --head`` on a free port (Ray's own CLI: what a user runs), stopped at the end."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="vbray", dir="/tmp")  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    started = subprocess.run(
        [_ray_cli(), "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1", "--num-cpus", "2",
         "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp,
         "--object-store-memory", str(200 * 2**20)],
        capture_output=True, text=True, env=env, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([_ray_cli(), "stop", "--force"], capture_output=True, env=env, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


class RayServer:
    """One real `voicebox serve --ray ADDRESS --ray-config FILE` on a free loopback port."""

    def __init__(self, address: str, data: Path, config: str = CONFIG, *extra: str, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        data.mkdir(parents=True, exist_ok=True)
        (data / "ray.toml").write_text(config)
        self.log = data / "server.log"
        command = [sys.executable, "-m", "voicebox_core", "serve", "--port", str(self.port), "--data-dir", str(data),
                   "--ray", address, "--ray-config", str(data / "ray.toml"), *extra]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **env})
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.3)
        self.stop()
        raise AssertionError(f"server did not answer /health within 400 s: {self.log.read_text()[-4000:]}")

    def engines(self) -> dict[str, dict[str, Any]]:
        body = httpx.get(f"{self.base}/engines", timeout=30).json()
        rows = body["engines"] if isinstance(body, dict) else body
        return {row["name"]: row for row in rows}

    def seen(self, engine: str) -> dict[str, dict[str, int]]:
        """What each replica of the engine's deployment said of itself last."""
        return self.engines()[engine]["lives"]["seen"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="session")
def ray_server(ray_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayServer]:
    server = RayServer(ray_address, tmp_path_factory.mktemp("ray-data"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ray_driver(ray_address: str) -> Any:
    """This test process joined to the cluster (as voicebox serve joins it), for Serve's own view."""
    from voicebox_core.ray_serve.config import RayConfig
    from voicebox_core.ray_serve.deploy import connect

    connect(RayConfig(address=ray_address))
    from ray import serve

    return serve
