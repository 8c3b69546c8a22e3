"""Every installed engine, frozen and in Python, on its tiny checkpoint (offline).

    python benchmarks/all_engines_bench.py --dist DIR [--runs 3]

Run in the all-engines environment with a onedir build of it (``build/freeze.py``; DIR holds
the ``voicebox`` folder). Prints, per engine, the first generation through the Voicebox API
(``POST /generate`` to the status stream's ``completed``, the model loaded by that request)
in the frozen server and in a ``python -m voicebox_core`` server, and their ratio; the cold
start to ``/health`` of each (median of --runs); the bundle size; and the wall time of
``voicebox engines doctor --deep`` in both.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.engines import Server, build_tiny_hub, clean_env, describe, first_generation  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_generations(command: list[str], env: dict[str, str], engines: list[dict], work: Path) -> dict[str, float]:
    server = Server(command, work / "data", env, free_port())
    try:
        return {e["name"]: first_generation(server.base, e, work)["seconds"] for e in engines}
    finally:
        server.stop()


def cold_starts(command: list[str], env: dict[str, str], work: Path, runs: int) -> float:
    times = []
    for run in range(runs):
        server = Server(command, work / f"cold{run}", env, free_port())
        times.append(server.cold_start)
        server.stop()
    return statistics.median(times)


def doctor_seconds(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([*command, "engines", "doctor", "--deep"], capture_output=True, env=env, timeout=3600)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dist", type=Path, required=True, help="folder holding the onedir build")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    frozen = [str(args.dist / "voicebox" / "voicebox")]
    python = [sys.executable, "-m", "voicebox_core"]
    work = Path(tempfile.mkdtemp(prefix="all-engines-bench-"))
    listing = describe()
    env = build_tiny_hub(work / "hub", {e["distribution"] for e in listing["engines"]})
    env.update(describe(work / "hub")["paths"])
    size = sum(p.stat().st_size for p in (args.dist / "voicebox").rglob("*") if p.is_file())
    print(f"bundle: {size / 2**20:.0f} MB, {len(listing['engines'])} engines")
    for name, command in (("frozen", frozen), ("python", python)):
        # a user's start: the tiny checkpoints' test fixtures (startup scripts) not imported
        print(f"[{name}] cold start to /health: median {cold_starts(command, clean_env(work), work / name, args.runs):.2f} s")
        print(f"[{name}] doctor --deep: {doctor_seconds(command, clean_env(work, **env)):.1f} s")
    timings = {name: first_generations(command, clean_env(work, **env), listing["engines"], work / f"gen-{name}")
               for name, command in (("frozen", frozen), ("python", python))}
    for engine in listing["engines"]:
        a, b = timings["frozen"][engine["name"]], timings["python"][engine["name"]]
        print(f"[{engine['name']}] first generation: frozen {a:.2f} s, python {b:.2f} s, ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
