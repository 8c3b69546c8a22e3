"""One real `voicebox serve` (loopback, a free port, its own data dir) for the voice-agent
frameworks' OpenAI TTS clients, and what the engine itself makes of a text, to compare with.

The environment has piper (the offline default, a real bundled voice) and no other engine, so
OpenAI's names (``tts-1``, ``gpt-4o-mini-tts``; ``alloy``, ``ash``...) mean piper's model and
voices here, as an operator who installed only piper gets them.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support.fake_hub import free_port  # noqa: E402

#: Two sentences a voice agent could say: long enough that a rate mistake shows (22.05 kHz
#: audio taken as 24 kHz is 8% short), short enough to transcribe quickly.
TEXT = "Please call me when you get home tonight. The weather will be sunny and warm this afternoon."


class Server:
    def __init__(self, base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.base, self.proc, self.log = base, proc, log
        self._takes: dict[tuple[str, str], tuple[list[float], int]] = {}

    def engine_takes(self, text: str, voice: str, takes: int = 5) -> tuple[list[float], int]:
        """Seconds of the engine's own audio for ``text`` (whole WAV at its own rate), take after
        take: piper without a seed says it a little differently each time (about ±1.5%), and the
        frameworks send no seed. Asked once per text and voice."""
        if (text, voice) in self._takes:
            return self._takes[text, voice]
        seconds, rate = [], 0
        for _ in range(takes):
            response = httpx.post(f"{self.base}/v1/audio/speech", timeout=120, json={
                "model": "piper", "voice": voice, "input": text, "response_format": "wav"})
            assert response.status_code == 200, response.text
            info = sf.info(io.BytesIO(response.content))
            seconds.append(info.frames / info.samplerate)
            rate = info.samplerate
        self._takes[text, voice] = seconds, rate
        return seconds, rate

    def voice_of(self, alias: str) -> str:
        """The piper voice an OpenAI voice name means on this server (its /v1/audio/voices)."""
        voices = httpx.get(f"{self.base}/v1/audio/voices", timeout=30).json()["voices"]
        (row,) = [v for v in voices if v["id"] == alias and v["kind"] == "alias"]
        return str(row["alias_of"])


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    data = Path(tempfile.mkdtemp(prefix="voicebox-agents-"))
    port = free_port()
    log = data / "server.log"
    env = {**os.environ, "VOICEBOX_DATA_DIR": str(data / "data"), "VOICEBOX_OPENAI_MODEL": "",
           "VOICEBOX_OPENAI_VOICES": "", "VOICEBOX_OPENAI_MODELS": ""}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "voicebox_core", "serve", "--host", "127.0.0.1",
                                 "--port", str(port), "--data-dir", str(data / "data")],
                                env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not answer /health within 90 s: {log.read_text()[-3000:]}")
            time.sleep(0.1)
        engines = {row["name"] for row in httpx.get(f"{base}/engines", timeout=30).json()["engines"]}
        assert engines == {"piper"}, f"this environment should have piper alone, not {sorted(engines)}"
        yield Server(base, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
