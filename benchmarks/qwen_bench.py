"""Figures of the Qwen plugin on this machine: metadata import time, tiny-model load and generate.

Run inside the qwen environment (``.tox/qwen/bin/python benchmarks/qwen_bench.py``). The
tiny random-weight checkpoints are the tests' (plugins/qwen/tests/qwen_tiny.py), built in a
temporary Hugging Face cache; nothing touches the network. Times are wall-clock seconds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(tempfile.mkdtemp(prefix="qwen-bench-"))
os.environ.update(HF_HOME=str(ROOT / "hf"), HF_HUB_CACHE=str(ROOT / "hf" / "hub"), HF_HUB_OFFLINE="1",
                  VOICEBOX_DATA_DIR=str(ROOT / "voicebox"), VOICEBOX_DEVICE="cpu")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "qwen" / "tests"))

_IMPORT = ("import sys, time; t = time.perf_counter(); import voicebox_core; "
           "c = time.perf_counter(); import voicebox_engine_qwen.plugin; "
           "print(c - t, time.perf_counter() - c, 'torch' in sys.modules)")


def metadata_import(runs: int = 7) -> tuple[float, float, bool]:
    core, plugin, torch_seen = [], [], False
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _IMPORT], capture_output=True, text=True,
                             check=True).stdout.split()
        core.append(float(out[0]))
        plugin.append(float(out[1]))
        torch_seen |= out[2] == "True"
    return statistics.median(core), statistics.median(plugin), torch_seen


def main() -> None:
    core, plugin, torch_seen = metadata_import()
    print(f"import voicebox_engine_qwen.plugin, median of 7 fresh interpreters: {plugin * 1000:.1f} ms "
          f"on top of voicebox_core ({core * 1000:.0f} ms); torch imported: {torch_seen}")

    started = time.perf_counter()
    import qwen_tts  # noqa: F401

    print(f"import qwen_tts (torch, transformers, librosa...): {time.perf_counter() - started:.2f} s")

    from qwen_tiny import build_checkpoint, build_shared
    from voicebox_core.testing import write_reference_clip
    from voicebox_engine_qwen import backend as qb
    from voicebox_engine_qwen.plugin import MODELS

    started = time.perf_counter()
    shared = build_shared(ROOT / "shared")
    kinds = {"qwen": "base", "qwen_custom_voice": "custom_voice", "qwen_voice_design": "voice_design"}
    for config in MODELS:
        repo = ROOT / "hf" / "hub" / ("models--" + str(config.hf_repo_id).replace("/", "--"))
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text("0" * 40)
        build_checkpoint(repo / "snapshots" / ("0" * 40), shared, kinds[config.engine], config.model_size)
    print(f"build 5 tiny checkpoints: {time.perf_counter() - started:.2f} s")

    clip = str(write_reference_clip(ROOT / "ref.wav"))
    cases = [
        ("qwen 0.6B clone", qb.QwenBaseBackend, "0.6B", None),
        ("qwen 1.7B clone", qb.QwenBaseBackend, "1.7B", None),
        ("custom_voice 1.7B Ryan+instruct", qb.QwenCustomVoiceBackend, "1.7B",
         {"voice_type": "preset", "preset_voice_id": "Ryan"}),
        ("voice_design 1.7B", qb.QwenVoiceDesignBackend, "1.7B",
         {"voice_type": "designed", "design_prompt": "A calm old man."}),
    ]
    for label, cls, size, prompt in cases:
        backend = cls()
        started = time.perf_counter()
        asyncio.run(backend.load_model(size))
        load = time.perf_counter() - started
        extra = ""
        if prompt is None:
            started = time.perf_counter()
            prompt, _ = asyncio.run(backend.create_voice_prompt(clip, "The quick brown fox."))
            extra = f", clone prompt {time.perf_counter() - started:.2f} s"
        instruct = "Speak happily." if "instruct" in label else None
        runs = []
        for seed in range(4):
            started = time.perf_counter()
            audio, rate = asyncio.run(backend.generate("Hello world, this is a test.", prompt, "en",
                                                       seed, instruct))
            runs.append(time.perf_counter() - started)
        print(f"{label}: load {load:.2f} s{extra}, generate first {runs[0]:.2f} s, median of next 3 "
              f"{statistics.median(runs[1:]):.2f} s ({len(audio) / rate:.2f} s of audio, 12 codec steps)")
        backend.unload_model()
    shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
