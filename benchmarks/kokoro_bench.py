"""Kokoro plugin figures on this machine, with the tiny random-weight checkpoint of the tests.

Prints:
- import time of ``voicebox_engine_kokoro.plugin`` (fresh interpreter, best of 5) and
  whether torch / kokoro / misaki were imported by it;
- load time of the tiny model through the plugin backend (``ensure_model`` from the offline
  cache + ``KModel`` construction + loading the 228 MB ``module.``-prefixed checkpoint);
- first-call time (English pipeline + spaCy + voice pack) and real-time factor
  (synthesis seconds / audio seconds) of later calls, English and Spanish.

The tiny model keeps Kokoro's fixed 512-wide decoder (57M of the real 82M parameters) but
emits 1-4 frames per phoneme, so its RTF is only a rough lower bound of the real model's.

Run: python benchmarks/kokoro_bench.py  (in an env with the plugin and its test deps).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "plugins" / "kokoro" / "tests"

_IMPORT = """
import json, sys, time
t = time.perf_counter()
import voicebox_core
core = time.perf_counter() - t
import voicebox_engine_kokoro.plugin
elapsed = time.perf_counter() - t
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "kokoro", "misaki", "spacy", "phonemizer", "transformers"})
print(json.dumps({"seconds": elapsed, "core": core, "heavy": heavy}))
"""


_COLD_LOAD = """
import asyncio, json, time
t = time.perf_counter()
from voicebox_engine_kokoro.backend import KokoroBackend
backend = KokoroBackend()
asyncio.run(backend.load_model())
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def import_time(runs: int = 5) -> tuple[float, float, list[str]]:
    best, core, heavy = float("inf"), 0.0, []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _IMPORT], capture_output=True, text=True, check=True)
        data = json.loads(out.stdout.strip().splitlines()[-1])
        if data["seconds"] < best:
            best, core, heavy = data["seconds"], data["core"], data["heavy"]
    return best, core, heavy


def cold_load_time() -> float:
    out = subprocess.run([sys.executable, "-c", _COLD_LOAD], capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def main() -> None:
    seconds, core, heavy = import_time()
    print(f"import voicebox_engine_kokoro.plugin: {seconds * 1000:.1f} ms (best of 5, fresh "
          f"interpreter; {core * 1000:.1f} ms of it is voicebox_core); heavy modules imported: "
          f"{heavy or 'none (torch not imported)'}")

    sys.path.insert(0, str(TESTS))
    import conftest  # the tests' tiny-checkpoint builder; points HF_HUB_CACHE at a temp dir

    snapshot = Path(os.environ["HF_HUB_CACHE"]) / conftest.REPO_DIR / "snapshots" / conftest.FAKE_COMMIT
    (snapshot.parent.parent / "refs").mkdir(parents=True)
    (snapshot.parent.parent / "refs" / "main").write_text(conftest.FAKE_COMMIT)
    started = time.perf_counter()
    conftest.build_tiny_snapshot(snapshot)
    print(f"build tiny snapshot: {time.perf_counter() - started:.2f} s (includes import kokoro)")

    import torch
    from voicebox_engine_kokoro.backend import KokoroBackend

    print(f"torch threads: {torch.get_num_threads()}")
    backend = KokoroBackend()
    started = time.perf_counter()
    asyncio.run(backend.load_model())
    print(f"load_model (tiny, cached, kokoro already imported): {time.perf_counter() - started:.2f} s")
    print(f"load_model in a fresh process (imports torch + kokoro + misaki, builds KModel, "
          f"loads the 228 MB checkpoint): {cold_load_time():.2f} s")

    cases = (
        ("af_heart", "en", "Hello world. This is a short test of the Kokoro pipeline running "
         "fully offline on a tiny random checkpoint."),
        ("ef_dora", "es", "Hola mundo. Esta es una prueba corta del motor Kokoro, sin red."),
    )
    for voice, language, text in cases:
        prompt = {"voice_type": "preset", "preset_engine": "kokoro", "preset_voice_id": voice}
        started = time.perf_counter()
        audio, rate = asyncio.run(backend.generate(text, prompt, language, 1))
        first = time.perf_counter() - started
        timings = []
        for seed in range(3):
            started = time.perf_counter()
            audio, rate = asyncio.run(backend.generate(text, prompt, language, seed))
            timings.append((time.perf_counter() - started) / (len(audio) / rate))
        print(f"{voice} ({language}): first call {first:.2f} s (pipeline + G2P "
              f"{backend._loaded.english_g2p if language == 'en' else 'espeak-ng'} + voice pack); "
              f"{len(audio) / rate:.2f} s of audio; RTF {', '.join(f'{t:.3f}' for t in timings)}")


if __name__ == "__main__":
    main()
