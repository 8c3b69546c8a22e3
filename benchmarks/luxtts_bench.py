"""LuxTTS plugin figures: load / encode / generate time of the tiny test model on this CPU.

Needs upstream LuxTTS (git-only) installed, e.g. in a throwaway venv::

    HF_HUB_OFFLINE=1 python benchmarks/luxtts_bench.py [--repeats 3]

Builds the tiny random-weight model of plugins/luxtts/tests/conftest.py in a temporary
Hugging Face cache, then times the plugin backend (upstream's real ONNX CPU path):

- import: ``import zipvoice.luxvoice`` (torch, transformers, lhotse, librosa... once per process)
- load: ``LuxTTSBackend.load_model()`` (ensure_model + LuxTTS(...) with the loader patches)
- encode: ``create_voice_prompt`` of an 8 s clip (first call, then a warm call, cache off)
- generate: ``generate`` of one sentence (4 flow-matching steps + 48 kHz vocoder), with the
  real-time factor (seconds of compute per second of audio).

Absolute numbers describe the tiny model only (dims 32, one layer per stack), not the real
~0.7 GB LuxTTS; they show the fixed costs of the integration.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "luxtts" / "tests"))
TEXT = "The quick brown fox jumps over the lazy dog."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="luxtts-bench-"))
    os.environ.update(HF_HOME=str(work / "hf"), HF_HUB_CACHE=str(work / "hf" / "hub"),
                      HF_HUB_OFFLINE="1", VOICEBOX_DATA_DIR=str(work / "voicebox"))
    started = time.perf_counter()
    import zipvoice.luxvoice  # noqa: F401

    import_s = time.perf_counter() - started

    from conftest import build_tiny_luxtts  # sets the test cache variables: set ours again
    from lux_helpers import FAKE_COMMIT

    os.environ.update(HF_HOME=str(work / "hf"), HF_HUB_CACHE=str(work / "hf" / "hub"),
                      VOICEBOX_DATA_DIR=str(work / "voicebox"))

    from voicebox_core.testing import write_reference_clip
    from voicebox_engine_luxtts.backend import LuxTTSBackend

    repo = work / "hf" / "hub" / "models--YatharthS--LuxTTS"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(FAKE_COMMIT)
    started = time.perf_counter()
    build_tiny_luxtts(repo / "snapshots" / FAKE_COMMIT)
    build_s = time.perf_counter() - started
    clip = write_reference_clip(work / "ref.wav", seconds=8.0, sample_rate=22050)
    transcript = "Hello world. This is a test, one two three! The quick brown fox jumps over the lazy dog."

    loads = []
    for _ in range(args.repeats):
        backend = LuxTTSBackend()
        started = time.perf_counter()
        asyncio.run(backend.load_model())
        loads.append(time.perf_counter() - started)

    encodes = []
    for _ in range(args.repeats + 1):
        started = time.perf_counter()
        prompt, _ = asyncio.run(backend.create_voice_prompt(str(clip), transcript, False))
        encodes.append(time.perf_counter() - started)

    generations, seconds = [], 0.0
    for index in range(args.repeats + 1):
        started = time.perf_counter()
        audio, rate = asyncio.run(backend.generate(TEXT, prompt, "en", seed=index))
        generations.append(time.perf_counter() - started)
        seconds = len(audio) / rate

    def fmt(values: list[float]) -> str:
        return f"median {statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"

    print(f"cpu cores: {os.cpu_count()}, threads used by onnxruntime: {min(8, os.cpu_count() or 1)}")
    print(f"import zipvoice.luxvoice : {import_s:.2f} s")
    print(f"build tiny model (export): {build_s:.2f} s")
    print(f"load                     : {fmt(loads)}")
    print(f"encode (first call)      : {encodes[0]:.3f} s")
    print(f"encode (warm)            : {fmt(encodes[1:])}")
    print(f"generate (first call)    : {generations[0]:.3f} s")
    print(f"generate (warm)          : {fmt(generations[1:])}")
    print(f"audio per generate       : {seconds:.2f} s at {rate} Hz; "
          f"warm RTF {statistics.median(generations[1:]) / seconds:.3f}")


if __name__ == "__main__":
    main()
