"""Pocket TTS plugin figures on this machine, with the tiny random-weight checkpoint of the tests.

Prints:
- import time of ``voicebox_engine_pocket_tts.plugin`` (metadata; must import no torch) and of
  the upstream ``pocket_tts`` package, each in a fresh interpreter, best of 3;
- load time of the tiny model through the plugin backend (offline cache; first and again);
- time to the first streamed chunk against the whole utterance (the plugin's
  ``generate_stream``, pocket-tts's ``generate_audio_stream``), for one and three sentences,
  median of 5, as a ratio.

The tiny model has Pocket TTS's architecture with a few small layers, so its absolute times
are far below the real 100M model's; the ratio is what streaming buys.

Run: python benchmarks/pocket_tts_bench.py  (in an env with the plugin and its test deps, e.g.
tox's all-engines).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "plugins" / "pocket_tts" / "tests"
ONE = "The quick brown fox jumps over the lazy dog."
THREE = f"{ONE} It was a bright cold day in April. The clocks were striking thirteen."

_IMPORT = """
import json, sys, time
t = time.perf_counter()
import {module}
print(json.dumps({{"seconds": time.perf_counter() - t, "torch": "torch" in sys.modules}}))
"""


def import_time(module: str, runs: int = 3) -> tuple[float, bool]:
    best, torch = float("inf"), False
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", _IMPORT.format(module=module)], capture_output=True,
                              text=True, check=True)
        data = json.loads(done.stdout.strip().splitlines()[-1])
        if data["seconds"] < best:
            best, torch = data["seconds"], data["torch"]
    return best, torch


async def stream_times(backend: object, text: str) -> tuple[float, float, int]:
    prompt = {"voice_type": "preset", "preset_engine": "pocket_tts", "preset_voice_id": "alba"}
    started = time.perf_counter()
    first, chunks = 0.0, 0
    async for _chunk in backend.generate_stream(text, prompt, "en", 1):  # type: ignore[attr-defined]
        first = first or time.perf_counter() - started
        chunks += 1
    return first, time.perf_counter() - started, chunks


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="pocket-bench-"))
    os.environ.update(HF_HOME=str(root / "hf"), HF_HUB_CACHE=str(root / "hf" / "hub"), HF_HUB_OFFLINE="1",
                      VOICEBOX_DATA_DIR=str(root / "data"))
    sys.path.insert(0, str(TESTS))
    from tiny_hub import build

    os.environ.update(build(Path(os.environ["HF_HUB_CACHE"])))

    metadata, metadata_torch = import_time("voicebox_engine_pocket_tts.plugin")
    upstream, _ = import_time("pocket_tts")
    torch_alone, _ = import_time("torch")
    print(f"import plugin metadata: {metadata * 1000:.1f} ms (torch imported: {metadata_torch})")
    print(f"import pocket_tts: {upstream:.2f} s (torch alone: {torch_alone:.2f} s)")

    from voicebox_engine_pocket_tts.backend import PocketTTSBackend

    backend = PocketTTSBackend()
    started = time.perf_counter()
    asyncio.run(backend.load_model())
    cold = time.perf_counter() - started
    backend.unload_model()
    started = time.perf_counter()
    asyncio.run(backend.load_model())
    print(f"load tiny model: first {cold:.3f} s, again {time.perf_counter() - started:.3f} s (pocket_tts already imported)")

    asyncio.run(stream_times(backend, ONE))  # warm-up: the first call builds caches
    for label, text in (("one sentence", ONE), ("three sentences", THREE)):
        runs = [asyncio.run(stream_times(backend, text)) for _ in range(5)]
        first = statistics.median(r[0] for r in runs)
        whole = statistics.median(r[1] for r in runs)
        print(f"{label}: first chunk {first * 1000:.0f} ms, whole {whole * 1000:.0f} ms "
              f"({runs[0][2]} chunks), first/whole = {first / whole:.2f}x")


if __name__ == "__main__":
    main()
