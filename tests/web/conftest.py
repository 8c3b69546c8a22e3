"""The web page in a real browser: Debian's Chromium driven by Playwright, against a real
`voicebox serve` (piper, core's reference engine, the downloadable hub test engine and a
plugin that fails to load) on a free loopback port, models from a loopback fake hub.

Screenshots go to ``VOICEBOX_WEB_ARTIFACTS`` (default ``.web-artifacts/`` in the checkout).
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support.fake_hub import HUB_FILES, free_port, running_fake_hub  # noqa: E402

CHROMIUM = os.environ.get("VOICEBOX_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("VOICEBOX_WEB_ARTIFACTS", ROOT / ".web-artifacts"))
#: Chromium on a closed network (the machine refuses its background connections).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
         "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required"]


class Server:
    def __init__(self, data: Path, env: dict[str, str]) -> None:
        self.data, self.env = data, env
        self.start()

    def start(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(self.data.parent / f"server-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "voicebox_core", "serve", "--port", str(self.port), "--data-dir", str(self.data)],
            env={**os.environ, **self.env}, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, Path(self.log.name).read_text()
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("server did not answer /health within 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def hub() -> Iterator[str]:
    # 32 MB of weights, 1 MB every 50 ms: huggingface_hub reports every 10 MB, so the bar moves
    # in steps (31 %, 62 %, 94 %, 100 %) over about two seconds.
    files = {**HUB_FILES, "weights.bin": os.urandom(32 * 2**20)}
    with running_fake_hub(chunk_delay=0.05, files=files, piece=2**20) as url:
        yield url


@pytest.fixture(scope="session")
def environment(tmp_path_factory: pytest.TempPathFactory, hub: str) -> dict[str, str]:
    cache = tmp_path_factory.mktemp("hf")
    return {"HF_ENDPOINT": hub, "HF_HUB_OFFLINE": "0", "HF_HUB_CACHE": str(cache / "hub"),
            "HF_HOME": str(cache)}


@pytest.fixture
def server(tmp_path: Path, environment: dict[str, str]) -> Iterator[Server]:
    running = Server(tmp_path / "data", environment)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium), "
                    "or set VOICEBOX_CHROMIUM", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert errors == [], errors  # no uncaught error in the page


def open_page(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.base + "/")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
