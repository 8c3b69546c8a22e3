"""Figures for the TADA plugin on this machine's CPU (issue 8).

Run inside the tada env (``.tox/tada/bin/python benchmarks/tada_bench.py``):

1. fixture build time: the tiny random-weight TADA of plugins/tada/tests/tiny_tada.py written
   as Hugging Face snapshots into a temporary cache;
2. through the plugin backend, offline: load (1B, then 3B), encode a 3 s reference clip (cold,
   then a prompt-cache hit), generate one sentence (mean of 3, fixed seed);
3. with ``--venv DIR``: the size of the tada env's site-packages as installed (dac shim, no
   descript-audio-codec), and with ``--dac-wheels DIR`` (the result of
   ``pip download descript-audio-codec==1.0.0 -d DIR -c constraints.txt`` in a throwaway
   folder) what descript-audio-codec's tree would add: every downloaded wheel whose
   distribution is not already installed, unpacked with ``pip install --no-deps --target``
   into a temporary folder and measured there.

Timings are wall clock, one process, 2 shared cores: indicative, not a benchmark of TADA.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "plugins" / "tada" / "tests"


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


def model_figures() -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="tada-bench-"))
    os.environ.update(HF_HOME=str(work / "hf"), HF_HUB_CACHE=str(work / "hf" / "hub"),
                      HF_HUB_OFFLINE="1", VOICEBOX_DATA_DIR=str(work / "vb"),
                      VOICEBOX_TADA_INFERENCE_OPTIONS='{"noise_temperature": 0.0}')
    sys.path.insert(0, str(TESTS))
    figures: dict[str, float] = {}
    try:
        started = time.perf_counter()
        import torch  # noqa: F401, PLC0415 - timed: the first import is most of a cold start
        from tiny_tada import build  # noqa: PLC0415 - after the env is set
        from voicebox_engine_tada.backend import import_tada  # noqa: PLC0415

        import_tada()
        figures["import_torch_transformers_tada_s"] = time.perf_counter() - started
        built = build(Path(os.environ["HF_HUB_CACHE"]))
        figures["fixture_build_s"] = built["total_s"]
        figures["fixture_mb"] = _tree_bytes(work / "hf") / 2**20

        from voicebox_core.testing import write_reference_clip
        from voicebox_engine_tada.backend import TadaBackend

        backend = TadaBackend()
        clip = write_reference_clip(work / "ref.wav", seconds=3.0)
        for size in ("3B", "1B"):  # 1B last: the encode/generate figures use it
            t = time.perf_counter()
            asyncio.run(backend.load_model(size))
            figures[f"load_{size}_s"] = time.perf_counter() - t
        text = "The quick brown fox jumps over the lazy dog."
        t = time.perf_counter()
        prompt, _ = asyncio.run(backend.create_voice_prompt(str(clip), text))
        figures["encode_cold_s"] = time.perf_counter() - t
        t = time.perf_counter()
        asyncio.run(backend.create_voice_prompt(str(clip), text))
        figures["encode_cached_s"] = time.perf_counter() - t
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            audio, rate = asyncio.run(backend.generate("Please call Stella. Ask her to come.",
                                                       prompt, "en", seed=1))
            runs.append(time.perf_counter() - t)
        figures["generate_mean_s"] = sum(runs) / len(runs)
        figures["generated_audio_s"] = len(audio) / rate
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures


def _dist_name(wheel: Path) -> str:
    return re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()


def venv_figures(venv: Path, dac_wheels: Path | None) -> dict[str, object]:
    site = next(venv.glob("lib/python*/site-packages"))
    out: dict[str, object] = {"site_packages_without_dac_mb": round(_tree_bytes(site) / 2**20, 1)}
    if dac_wheels is None:
        return out
    installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower()
                 for d in importlib.metadata.distributions(path=[str(site)])}
    extra = sorted(w for w in dac_wheels.glob("*.whl") if _dist_name(w) not in installed)
    sdists = sorted(p.name for p in dac_wheels.iterdir() if p.suffix != ".whl")
    target = Path(tempfile.mkdtemp(prefix="tada-dac-tree-"))
    try:
        if extra:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                            "--no-compile", "--target", str(target), *map(str, extra)], check=True)
        added = _tree_bytes(target)
    finally:
        shutil.rmtree(target, ignore_errors=True)
    out.update(
        dac_tree_distributions=[_dist_name(w) for w in extra],
        dac_tree_not_wheels=sdists,
        dac_tree_wheels_mb=round(sum(w.stat().st_size for w in extra) / 2**20, 1),
        dac_tree_installed_mb=round(added / 2**20, 1),
        site_packages_with_dac_mb=round((_tree_bytes(site) + added) / 2**20, 1),
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, help="the tada env, e.g. .tox/tada")
    parser.add_argument("--dac-wheels", type=Path, help="pip download folder of descript-audio-codec")
    parser.add_argument("--skip-model", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {}
    if not args.skip_model:
        result.update({k: round(v, 2) for k, v in model_figures().items()})
    if args.venv:
        result.update(venv_figures(args.venv, args.dac_wheels))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
