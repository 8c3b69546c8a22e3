"""Time to first audio versus time to the whole utterance, through ``/v1/audio/speech``.

    python benchmarks/streaming_bench.py [--runs 3] [--engines piper,kokoro]

Every installed engine that speaks (piper on its real bundled voice; the others on the tiny
random-weight checkpoints their tests build, ``plugins/<engine>/tests/tiny_hub.py``, offline)
is asked for one 10-sentence text as streamed ``pcm`` by a real HTTP client, against one
`voicebox serve` app (uvicorn on 127.0.0.1, in this process), twice per run:

- **frames**: today's path: an engine that streams (``Capabilities(streaming=True)``) is sent
  as its model yields audio; any other engine in sentence chunks;
- **chunks**: the same request with frame streaming turned off for every engine, as before it
  existed: ``Synthesizer.streams`` answers False (patched in this process, for this run only),
  so the engine is called once per ~160-character sentence chunk (the first sentence alone).

Printed per engine: medians of first audio byte and last byte, and the ratios first/whole and
frames/chunks; and the goal the issue sets for piper, checked for every engine: first audio of
the 10-sentence text (today's path) within 1.2x the time to the whole of its first sentence
alone (the same request with only that sentence). The machine's other load is not controlled:
compare the rows of one run, not runs.

One run (2 shared CPU cores, --runs 5), first audio frames/chunks and first audio of ten
sentences over the first sentence alone: kokoro 0.87x, 1.12x; piper 1.03x, 1.04x (it streams
piper's own sentences: the two paths cost the same); pocket_tts 0.39x, 0.35x; voxcpm 0.90x,
0.59x. Under heavy load from other processes, single runs swung to 1.8x and 1.6x for kokoro.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.engines import build_tiny_hub, describe  # noqa: E402
from tests.support.fake_hub import free_port  # noqa: E402

TEN = " ".join(f"This is sentence number {n}, spoken for the streaming test." for n in range(1, 11))
FIRST = TEN.split(". ")[0] + "."
GOAL = 1.2


def timed(base: str, body: dict[str, Any]) -> tuple[float, float, int]:
    """Seconds to the first audio byte and to the last, and the bytes, of one streamed request."""
    started = time.perf_counter()
    first, size = 0.0, 0
    with httpx.stream("POST", f"{base}/v1/audio/speech", json={**body, "response_format": "pcm"},
                      timeout=600) as response:
        if response.status_code != 200:
            raise SystemExit(f"{body['model']}: {response.status_code} {response.read()[:300]!r}")
        for piece in response.iter_raw():
            if piece and not first:
                first = time.perf_counter() - started
            size += len(piece)
    return first, time.perf_counter() - started, size


class InProcessServer:
    """The server's app under uvicorn in a thread, so this process can switch frame streaming off."""

    def __init__(self, data: Path) -> None:
        import uvicorn
        from voicebox_core.server import create_app

        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.app = create_app(data)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit("the server did not answer /health within 300 s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def voice_for(base: str, engine: dict[str, Any], work: Path) -> str | None:
    """A voice /v1/audio/speech takes for the engine: its default preset, else a profile."""
    if "preset" in engine["voice_kinds"] and engine["default_voice"]:
        return None
    name = f"bench {engine['name']}"
    body: dict[str, Any] = {"name": name, "language": "en", "default_engine": engine["name"]}
    with httpx.Client(base_url=base, timeout=300) as http:
        if "cloned" in engine["voice_kinds"]:
            from voicebox_core.testing import write_reference_clip

            low, high = engine["reference_seconds"]
            clip = write_reference_clip(work / f"{engine['name']}.wav", seconds=min(high, max(low, 6.0)))
            profile = http.post("/profiles", json=body)
            profile.raise_for_status()
            http.post(f"/profiles/{profile.json()['id']}/samples", data={"reference_text": "The quick brown fox."},
                      files={"file": ("ref.wav", clip.read_bytes(), "audio/wav")}).raise_for_status()
        else:
            profile = http.post("/profiles", json={**body, "voice_type": "designed",
                                                   "design_prompt": "A calm, warm voice."})
            profile.raise_for_status()
    return name


def median_of(runs: list[tuple[float, float, int]]) -> tuple[float, float, float]:
    """First audio, whole, and the audio's seconds (pcm: 24 kHz, 16-bit)."""
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            statistics.median(r[2] for r in runs) / 2 / 24000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="", help="comma-separated; default: every installed engine")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="streaming-bench-"))
    listing = describe()
    wanted = set(filter(None, args.engines.split(","))) or {e["name"] for e in listing["engines"]}
    engines = [e for e in listing["engines"] if e["name"] in wanted and "en" in e["languages"]]
    started = time.perf_counter()
    env = build_tiny_hub(work / "hub", {e["distribution"] for e in engines})
    os.environ.update({"HF_HUB_CACHE": str(work / "hub"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                       "VOICEBOX_DEVICE": "cpu", "VOICEBOX_DATA_DIR": str(work / "data"), **env})
    os.environ.update(describe(work / "hub")["paths"])
    print(f"tiny checkpoints built in {time.perf_counter() - started:.1f} s; text: {len(TEN)} characters, "
          f"10 sentences; {args.runs} runs, medians; pcm over HTTP on 127.0.0.1")

    from voicebox_core import Synthesizer

    streams = Synthesizer.streams
    server = InProcessServer(work / "data")
    rows = []
    try:
        for engine in engines:
            voice = voice_for(server.base, engine, work)
            body: dict[str, Any] = {"model": engine["model"], "input": TEN, **({"voice": voice} if voice else {})}
            timed(server.base, body)  # loads the model; the first call's warm-up is not measured
            frames_on = server.app.state.voicebox.synthesizer.streams(engine["name"])
            frames, chunks, alone = [], [], []
            for _ in range(args.runs):
                frames.append(timed(server.base, body))
                Synthesizer.streams = lambda self, engine: False  # type: ignore[method-assign]
                try:
                    chunks.append(timed(server.base, body))
                finally:
                    Synthesizer.streams = streams  # type: ignore[method-assign]
                alone.append(timed(server.base, {**body, "input": FIRST}))
            rows.append((engine["name"], frames_on, median_of(frames), median_of(chunks), median_of(alone)))
    finally:
        server.stop()

    print(f"\n{'engine':<12} {'path':<7} {'first audio':>11} {'whole':>9} {'first/whole':>11} {'audio':>8}")
    for name, frames_on, frames, chunks, _alone in rows:
        for label, (first, whole, heard) in (("frames" if frames_on else "chunks", frames), ("chunks", chunks)):
            print(f"{name:<12} {label:<7} {first:>9.3f} s {whole:>7.3f} s {first / whole:>11.2f} {heard:>6.1f} s")
    print()
    for name, frames_on, frames, chunks, alone in rows:
        if frames_on:
            print(f"[{name}] frames / chunks: first audio {frames[0] / chunks[0]:.2f}x, whole {frames[1] / chunks[1]:.2f}x")
        else:
            print(f"[{name}] streams no frames: both rows are sentence chunking (same path, ratio "
                  f"{frames[0] / chunks[0]:.2f}x)")
        verdict = "met" if frames[0] <= GOAL * alone[1] else "NOT met"
        print(f"[{name}] first audio of 10 sentences {frames[0]:.3f} s vs first sentence alone {alone[1]:.3f} s "
              f"= {frames[0] / alone[1]:.2f}x (goal <= {GOAL}x: {verdict})")


if __name__ == "__main__":
    main()
