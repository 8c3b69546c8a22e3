"""Frozen build figures: build time, binary size, cold start to /health.

    python benchmarks/frozen_bench.py [--dist DIR] [--runs 5]

Freezes with build/freeze.py in the current environment (whatever engines are installed),
unless --dist names an existing onedir build. Cold start is process start to the first
200 from /health of `voicebox serve`, median of --runs fresh starts, with an empty model
cache and HF_HUB_OFFLINE=1. Also times `voicebox engines list` and a first `say`.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cold_start(binary: Path, env: dict[str, str], data: Path) -> float:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([str(binary), "serve", "--port", str(port), "--data-dir", str(data)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < 120:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.05)
        raise SystemExit("server did not answer /health within 120 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dist", type=Path, help="an existing onedir build (skip freezing)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--say", default="piper", help="engine for the first-say timing")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="frozen-bench-"))
    dist = args.dist
    if dist is None:
        started = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "build" / "freeze.py"), "--out", str(tmp / "dist"),
                        "--work", str(tmp / "work")], check=True)
        print(f"build time          {time.perf_counter() - started:8.1f} s")
        dist = tmp / "dist" / "voicebox"
    binary = dist / "voicebox"
    print(f"binary folder size  {size_mb(dist):8.1f} MB ({dist})")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICEBOX_", "PYTHON"))}
    env.update(HF_HOME=str(tmp / "empty-hf"), HF_HUB_OFFLINE="1", VOICEBOX_DATA_DIR=str(tmp / "data"))
    starts = [cold_start(binary, env, tmp / f"srv{i}") for i in range(args.runs)]
    print(f"cold start -> /health median {statistics.median(starts):6.2f} s "
          f"(min {min(starts):.2f}, max {max(starts):.2f}, {args.runs} runs)")
    started = time.perf_counter()
    subprocess.run([str(binary), "engines", "list"], env=env, check=True, capture_output=True)
    print(f"engines list        {time.perf_counter() - started:8.2f} s")
    started = time.perf_counter()
    subprocess.run([str(binary), "say", "Hello from a frozen binary.", "--engine", args.say,
                    "-o", str(tmp / "say.wav")], env=env, check=True, capture_output=True)
    print(f"first say ({args.say})    {time.perf_counter() - started:8.2f} s")


if __name__ == "__main__":
    main()
