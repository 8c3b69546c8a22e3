"""Startup cost of discovery and of the core itself.

    python benchmarks/core_bench.py [--runs 9] [--plugins ALLOW_LIST]

Each figure is the median wall time of fresh processes, all measured in the same run:

- `voicebox engines list --json` (every installed plugin's metadata, no backend imported)
  against a bare entry-point scan of the same group, as a ratio (goal <= 1.5x);
- `voicebox --help` against `python -c pass`;
- `import voicebox_core` alone, and which heavy modules (numpy, soundfile, huggingface_hub,
  torch) it pulled in: none is the goal.

Then each plugin's own load time and what its import pulled in, as the registry records it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SCAN = "import importlib_metadata as m; list(m.entry_points(group='voicebox.engines'))"
HEAVY = "import sys, voicebox_core; print(sorted(m for m in ('numpy', 'soundfile', 'huggingface_hub', 'torch') if m in sys.modules))"


def wall(cmd: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--plugins", default=None, help="VOICEBOX_PLUGINS allow list")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.plugins is not None:
        env["VOICEBOX_PLUGINS"] = args.plugins
    py = [sys.executable]
    cli = [*py, "-m", "voicebox_core"]
    try:
        import importlib_metadata  # noqa: F401 - the peer below imports it
        scan_cmd = [*py, "-c", SCAN]
    except ImportError:
        scan_cmd = [*py, "-c", SCAN.replace("importlib_metadata", "importlib.metadata")]

    # Interleave the peers so a load spike on a shared machine hits both.
    figures: dict[str, list[float]] = {k: [] for k in ("pass", "scan", "list", "help", "import")}
    commands = {"pass": [*py, "-c", "pass"], "scan": scan_cmd, "list": [*cli, "engines", "list", "--json"],
                "help": [*cli, "--help"], "import": [*py, "-c", "import voicebox_core"]}
    for _ in range(args.runs):
        for key, cmd in commands.items():
            figures[key].append(wall(cmd, env, 1))
    med = {k: statistics.median(v) for k, v in figures.items()}

    out = subprocess.run([*cli, "engines", "list", "--json"], env=env, check=True,
                         capture_output=True, text=True).stdout
    engines = json.loads(out)["engines"]
    heavy = subprocess.run([*py, "-c", HEAVY], env=env, check=True, capture_output=True, text=True).stdout.strip()

    print(f"runs: {args.runs} (median), engines listed: {len(engines)}")
    print(f"python -c pass                      {med['pass'] * 1000:7.1f} ms")
    print(f"entry-point scan (peer)             {med['scan'] * 1000:7.1f} ms")
    print(f"voicebox engines list --json        {med['list'] * 1000:7.1f} ms   "
          f"ratio to the scan {med['list'] / med['scan']:.2f}x (goal <= 1.5x)")
    print(f"voicebox --help                     {med['help'] * 1000:7.1f} ms   "
          f"ratio to python -c pass {med['help'] / med['pass']:.2f}x")
    print(f"import voicebox_core                {med['import'] * 1000:7.1f} ms   heavy modules: {heavy}")
    for engine in engines:
        extra = f" SLOW: {engine['slow_reason']}" if engine.get("slow") else ""
        print(f"plugin load time  {engine['engine']:<20} {engine['load_ms']:6.1f} ms "
              f"({engine['distribution']} {engine['version']}){extra}")


if __name__ == "__main__":
    main()
