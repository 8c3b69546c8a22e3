"""What one safe command costs: `voicebox engines install NAME` against a bare `pip install`.

    python benchmarks/install_bench.py [--engines qwen,vibevoice,kokoro,chatterbox,piper] [--out DIR]

Two fresh virtual environments with voicebox-core only, both fed from the same wheelhouse
(build/wheelhouse.py) with the torch constraint. For each engine in order:

- A: `voicebox engines install NAME --json`: its plan, install, repair and check times, and
  where the engine landed;
- B: the bare route of the same distributions: `pip install voicebox-engine-NAME`, then its
  upstream packages `--no-deps` (what the plugin README's manual route does, minus torchaudio).

A runs first, so B always meets a warmer pip cache: the ratio is, if anything, unkind to the
installer. Then a rollback's wall time (an engine whose upstream fails its deep check, in A),
and the plain `engines list` with every engine of A against a bare entry-point scan
(benchmarks/core_bench.py's figure).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"


def venv(path: Path, wheels: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-c", str(CONSTRAINTS), "--find-links", str(wheels),
                    "voicebox-core"], check=True)
    return python


def upstream_of(wheels: Path, distribution: str) -> list[str]:
    wheel = next(wheels.glob(f"{distribution.replace('-', '_')}-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    return [line.split(":", 1)[1].split(";")[0].strip() for line in metadata.splitlines()
            if line.startswith("Requires-Dist:") and re.search(r"extra == ['\"]upstream['\"]", line)]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", default="qwen,vibevoice,kokoro,chatterbox,piper")
    parser.add_argument("--out", type=Path, help="keep the environments here (default: a temporary folder)")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="install-bench-"))
    wheels = work / "wheelhouse"
    subprocess.run([sys.executable, str(ROOT / "build" / "wheelhouse.py"), "--out", str(wheels)], check=True)
    env = {**os.environ, "VOICEBOX_DATA_DIR": str(work / "data"), "PIP_CONSTRAINT": str(CONSTRAINTS)}
    a, b = venv(work / "a", wheels), venv(work / "b", wheels)
    print(f"{'engine':<22}{'lives':<12}{'plan':>7}{'install':>9}{'repair':>8}{'check':>8}{'total':>8}"
          f"{'bare pip':>10}{'ratio':>8}")
    for name in args.engines.split(","):
        wall, done = timed([str(a), "-m", "voicebox_core", "engines", "install", name, "--find-links", str(wheels),
                            "--json"], env)
        if done.returncode != 0:
            print(f"{name}: install failed: {done.stderr.strip().splitlines()[-1]}")
            continue
        outcome = json.loads(done.stdout)
        distribution = outcome["distribution"]
        bare, pip = timed([str(b), "-m", "pip", "install", "--quiet", "--find-links", str(wheels), distribution], env)
        upstream = upstream_of(wheels, distribution)
        if upstream:
            extra, pip = timed([str(b), "-m", "pip", "install", "--quiet", "--no-deps", *upstream], env)
            bare += extra
        s = outcome["seconds"]
        print(f"{name:<22}{outcome['lives']:<12}{s.get('plan', 0):7.1f}{s.get('install', 0):9.1f}"
              f"{s.get('repair', 0):8.1f}{s.get('check', 0):8.1f}{wall:8.1f}{bare:10.1f}{wall / bare:8.2f}x"
              + ("" if pip.returncode == 0 else "  (bare pip failed)"))
    rollback(a, wheels, work, env)
    print("\nplain `engines list` against a bare entry-point scan, every engine above installed:")
    subprocess.run([str(a), str(ROOT / "benchmarks" / "core_bench.py"), "--runs", "9"], env=env, check=True)


def rollback(python: Path, wheels: Path, work: Path, env: dict[str, str]) -> None:
    """An engine whose upstream fails its deep check: installed, checked, rolled back."""
    src = work / "sour"
    for name, files, extra in (
            ("bench-sour-upstream", {"__init__.py": "raise ImportError('built for another torch')\n"}, ""),
            ("voicebox-engine-bench-sour", {
                "__init__.py": (
                    "import voicebox_core as vb\nVOICEBOX_API_VERSION = vb.API_VERSION\n@vb.hookimpl\n"
                    "def voicebox_register_engines(register):\n    register(vb.EngineInfo(name='bench_sour', "
                    "display_name='S', backend='voicebox_engine_bench_sour:Backend', "
                    "check='voicebox_engine_bench_sour:check', voice_kinds=('preset',), "
                    "preset_voices=(vb.PresetVoice('v', 'V', 'en'),), default_voice='v', models=(vb.ModelConfig("
                    "model_name='bench-sour', display_name='M', engine='bench_sour', hf_repo_id=None, bundled=True, "
                    "sample_rate=16000, languages=('en',)),)))\nclass Backend:\n    pass\n"
                    "def check():\n    import bench_sour_upstream\n")},
             '[project.optional-dependencies]\nupstream = ["bench-sour-upstream==1.0"]\n'
             '[project.entry-points."voicebox.engines"]\nbench_sour = "voicebox_engine_bench_sour"\n')):
        package = name.replace("-", "_")
        (src / name / package).mkdir(parents=True, exist_ok=True)
        for file, text in files.items():
            (src / name / package / file).write_text(text)
        (src / name / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
            f'[project]\nname = "{name}"\nversion = "1.0"\ndependencies = []\n{extra}'
            f'[tool.hatch.build.targets.wheel]\npackages = ["{package}"]\n')
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(src / "wheels"),
                        str(src / name)], check=True)
    wall, done = timed([str(python), "-m", "voicebox_core", "engines", "install", "bench_sour", "--find-links",
                        str(src / "wheels"), "--find-links", str(wheels)], env)
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    seconds = re.search(r"rolled back in ([0-9.]+) s", last)
    print(f"\nrollback: exit {done.returncode}, install + check + rollback {wall:.1f} s, the rollback itself "
          f"{seconds.group(1) if seconds else '?'} s")


if __name__ == "__main__":
    main()
