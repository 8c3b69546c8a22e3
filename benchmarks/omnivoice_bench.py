"""Figures of the OmniVoice plugin on this machine: metadata, /engines with 647 languages,
tiny-model load, clone prompt and generate.

Run in an environment with the plugin (``.tox/omnivoice/bin/python benchmarks/omnivoice_bench.py``,
or an isolated engine's venv) plus voicebox-core[server] for the /engines figures. The tiny
random-weight checkpoint is the tests' (plugins/omnivoice/tests/tiny_omnivoice.py), built in a
temporary Hugging Face cache; nothing touches the network. Times are wall-clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(tempfile.mkdtemp(prefix="omnivoice-bench-"))
os.environ.update(HF_HOME=str(ROOT / "hf"), HF_HUB_CACHE=str(ROOT / "hf" / "hub"), HF_HUB_OFFLINE="1",
                  VOICEBOX_DATA_DIR=str(ROOT / "voicebox"), VOICEBOX_DEVICE="cpu")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "omnivoice" / "tests"))

_IMPORT = ("import sys, time; t = time.perf_counter(); import voicebox_core; "
           "c = time.perf_counter(); import voicebox_engine_omnivoice.plugin; "
           "print(c - t, time.perf_counter() - c, 'torch' in sys.modules)")


def metadata_import(runs: int = 7) -> None:
    core, plugin, torch_seen = [], [], False
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _IMPORT], capture_output=True, text=True, check=True).stdout.split()
        core.append(float(out[0]))
        plugin.append(float(out[1]))
        torch_seen |= out[2] == "True"
    print(f"import voicebox_engine_omnivoice.plugin, median of {runs} fresh interpreters: "
          f"{statistics.median(plugin) * 1000:.1f} ms on top of voicebox_core "
          f"({statistics.median(core) * 1000:.0f} ms); torch imported: {torch_seen}")


def engines_listing(runs: int = 20) -> None:
    try:
        from fastapi.testclient import TestClient
        from voicebox_core.server.app import create_app
    except ImportError:
        print("/engines: skipped (install voicebox-core[server] and httpx)")
        return
    from voicebox_core.runtime.languages import language_labels
    from voicebox_engine_omnivoice.plugin import LANGUAGES

    started = time.perf_counter()
    labels = language_labels(LANGUAGES)
    first = time.perf_counter() - started
    started = time.perf_counter()
    language_labels(LANGUAGES)
    warm = time.perf_counter() - started
    unlabelled = [code for code, label in labels.items() if label == code]
    print(f"language_labels of {len(LANGUAGES)} codes: first {first * 1000:.0f} ms (langcodes' data), "
          f"then {warm * 1000:.2f} ms; left as codes: {unlabelled}")
    with TestClient(create_app(ROOT / "server")) as client:
        client.get("/engines")
        times, size, own = [], 0, 0
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get("/engines")
            times.append(time.perf_counter() - started)
            body = response.json()
            size = len(response.content)
            own = len(json.dumps([e for e in body["engines"] if e["name"] == "omnivoice"], separators=(",", ":"),
                                  ensure_ascii=False).encode())
    print(f"GET /engines ({len(body['engines'])} engines), median of {runs}: {statistics.median(times) * 1000:.1f} ms, "
          f"{size / 1024:.0f} KiB of JSON ({own / 1024:.0f} KiB of it OmniVoice's)")


def tiny_model() -> None:
    started = time.perf_counter()
    import omnivoice  # noqa: F401

    print(f"import omnivoice (torch, transformers, torchaudio, pydub): {time.perf_counter() - started:.2f} s")
    from tiny_hub import build
    from voicebox_core.testing import write_reference_clip
    from voicebox_engine_omnivoice.backend import OmniVoiceBackend

    started = time.perf_counter()
    build(ROOT / "hf" / "hub")
    print(f"tiny checkpoint built: {time.perf_counter() - started:.2f} s")
    backend = OmniVoiceBackend()
    started = time.perf_counter()
    asyncio.run(backend.load_model())
    print(f"load (tiny): {time.perf_counter() - started:.2f} s")
    clip = write_reference_clip(ROOT / "voice.wav", seconds=3.0)
    for attempt in ("first", "second"):
        started = time.perf_counter()
        prompt, _ = asyncio.run(backend.create_voice_prompt(str(clip), "A short test of my voice.", False))
        print(f"clone prompt, {attempt}: {time.perf_counter() - started:.2f} s")
    for steps in (2, 32):
        os.environ["VOICEBOX_OMNIVOICE_OPTIONS"] = json.dumps({"num_step": steps})
        started = time.perf_counter()
        audio, rate = asyncio.run(backend.generate("Hello there, this is a benchmark.", prompt, "en", 1))
        print(f"generate, num_step={steps}: {time.perf_counter() - started:.2f} s for {len(audio) / rate:.1f} s of audio")


def main() -> None:
    try:
        metadata_import()
        engines_listing()
        tiny_model()
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
