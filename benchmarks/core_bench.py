"""Startup cost of discovery: `voicebox engines list` versus `import voicebox_core`.

    python benchmarks/core_bench.py [--runs 9] [--plugins reference]

Prints the median wall time of each command (fresh processes) and each plugin's own
load time as the registry records it. Set --plugins to the allow list to measure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


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
    python = [sys.executable]
    base = wall([*python, "-c", "pass"], env, args.runs)
    imp = wall([*python, "-c", "import voicebox_core"], env, args.runs)
    listing = wall([*python, "-m", "voicebox_core", "engines", "list"], env, args.runs)
    print(f"python -c pass                 median {base * 1000:7.1f} ms")
    print(f"python -c 'import voicebox_core' median {imp * 1000:7.1f} ms")
    print(f"voicebox engines list          median {listing * 1000:7.1f} ms "
          f"(+{(listing - imp) * 1000:.1f} ms over the import)")
    out = subprocess.run([*python, "-m", "voicebox_core", "engines", "list", "--json"], env=env,
                         check=True, capture_output=True, text=True).stdout
    for engine in json.loads(out)["engines"]:
        print(f"plugin load time  {engine['engine']:<20} {engine['load_ms']:6.1f} ms "
              f"({engine['distribution']} {engine['version']})")


if __name__ == "__main__":
    main()
