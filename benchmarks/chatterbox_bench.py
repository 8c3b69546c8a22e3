"""Chatterbox plugin figures on this CPU: tiny-model load and generate time, venv size.

Run with the tox env's interpreter (it has the plugin and its pinned dependencies):

    .tox/chatterbox/bin/python benchmarks/chatterbox_bench.py [--repeats 5]

Models are the tests' tiny random-weight checkpoints (plugins/chatterbox/tests/tiny_chatterbox.py)
in a temporary Hugging Face cache, loaded and run through the plugin's backends offline, so
the numbers measure the integration path (imports, from_local, cloning, T3, S3Gen, Perth
watermark), not real-model speed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(tempfile.mkdtemp(prefix="chatterbox-bench-"))
os.environ.update(HF_HOME=str(CACHE / "hf"), HF_HUB_CACHE=str(CACHE / "hf" / "hub"),
                  HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PKUSEG_HOME=str(CACHE / "pkuseg"),
                  VOICEBOX_DATA_DIR=str(CACHE / "voicebox"))
sys.path.insert(0, str(ROOT / "plugins" / "chatterbox" / "tests"))


def du(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import asyncio

    import pytest

    started = time.perf_counter()
    import tiny_chatterbox as tiny
    from voicebox_engine_chatterbox.backend import ChatterboxBackend, ChatterboxTurboBackend

    mp = pytest.MonkeyPatch()
    tiny.shrink(mp)  # imports chatterbox, transformers, diffusers, perth...
    print(f"import chatterbox + plugin: {time.perf_counter() - started:.2f} s")
    hub = Path(os.environ["HF_HUB_CACHE"])
    t = time.perf_counter()
    tiny.as_hf_snapshot(hub, "ResembleAI/chatterbox", tiny.build_multilingual, "1" * 40)
    tiny.as_hf_snapshot(hub, "ResembleAI/chatterbox-turbo", tiny.build_turbo, "2" * 40)
    print(f"build tiny snapshots: {time.perf_counter() - t:.2f} s")
    clip = tiny.reference_wav(CACHE / "ref.wav", 6.0)
    cases = [("chatterbox (multilingual)", ChatterboxBackend, ["en", "fr"]),
             ("chatterbox_turbo", ChatterboxTurboBackend, ["en"])]
    for label, cls, languages in cases:
        backend = cls()
        t = time.perf_counter()
        asyncio.run(backend.load_model())
        load = time.perf_counter() - t
        prompt, _ = asyncio.run(backend.create_voice_prompt(str(clip), ""))
        for language in languages:
            times = []
            for index in range(args.repeats + 1):
                t = time.perf_counter()
                audio, rate = asyncio.run(backend.generate(
                    "Hello world, this is a benchmark.", prompt, language, seed=index))
                times.append(time.perf_counter() - t)
            first, rest = times[0], times[1:]
            print(f"{label} [{language}]: load {load:.2f} s; generate first {first:.2f} s, "
                  f"median of {len(rest)} {statistics.median(rest):.2f} s "
                  f"({len(audio) / rate:.2f} s of audio per call)")
        backend.unload_model()
    site = Path(sysconfig.get_paths()["purelib"])
    print(f"venv site-packages ({site}): {du(site) / 2**20:.0f} MiB")
    for name in ("torch", "transformers", "scipy", "llvmlite", "onnx", "perth", "diffusers",
                 "librosa", "chatterbox", "s3tokenizer"):
        if (site / name).is_dir():
            print(f"  {name}: {du(site / name) / 2**20:.0f} MiB")
    mp.undo()


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(CACHE, ignore_errors=True)
