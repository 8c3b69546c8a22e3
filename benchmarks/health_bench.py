"""/health latency, quiet and while a burst of speech requests is served (loopback only).

    python benchmarks/health_bench.py [--engine reference] [--concurrent 200]
                                      [--formats mp3,wav] [--probes 200] [--interval 0.05]

A real `voicebox serve` on 127.0.0.1. First --probes GET /health one after another (quiet);
then, for each format, --concurrent simultaneous POST /v1/audio/speech (a short sentence
each; mp3 is answered whole, wav streamed) while a second process GETs /health every
--interval seconds until the burst is over. Prints p50 / p95 / p99 / worst of /health in
each phase, the burst's completions and wall time, and what else the machine was doing
(load average, the CPU share of processes other than the server and this benchmark): on a
shared machine the worst figures say as much about the neighbours as about the server.

The reference engine (core/tests/plugins/reference) is the default: cheap enough that the
server's own work, not the model, is what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_bench import start  # noqa: E402


def figures(seconds: list[float]) -> str:
    if not seconds:
        return "no answer"
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return (f"n={len(ordered)} p50 {at(0.5):.1f} ms, p95 {at(0.95):.1f} ms, p99 {at(0.99):.1f} ms, "
            f"worst {ordered[-1] * 1000:.1f} ms")


def probe(base: str, interval: float, stop: multiprocessing.synchronize.Event,
          out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """GET /health every ``interval`` s until ``stop``; its own process, so that the burst's
    client work never delays a probe."""
    times: list[float] = []
    failures = 0
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                client.get(f"{base}/health").raise_for_status()
                times.append(time.perf_counter() - started)
            except httpx.HTTPError:
                failures += 1
            time.sleep(max(0.0, interval - (time.perf_counter() - started)))
    out.put((times, failures))


def others_cpu(mine: set[int], seconds: float) -> float:
    """CPU cores' worth used by processes other than ``mine`` over ``seconds`` (sampled)."""
    procs = [p for p in psutil.process_iter() if p.pid not in mine]
    before = {}
    for p in procs:
        try:
            before[p.pid] = sum(p.cpu_times()[:2])
        except psutil.Error:
            continue
    time.sleep(seconds)
    used = 0.0
    for p in procs:
        try:
            used += sum(p.cpu_times()[:2]) - before.get(p.pid, 0.0)
        except psutil.Error:
            continue
    return used / seconds


def burst(base: str, engine: str, fmt: str, concurrent: int) -> tuple[int, dict[int, int], float]:
    async def run() -> list[int]:
        limits = httpx.Limits(max_connections=concurrent)
        async with httpx.AsyncClient(timeout=600, limits=limits) as client:
            async def one(i: int) -> int:
                body = {"model": engine, "input": f"Request number {i}, spoken under load.",
                        "response_format": fmt}
                return (await client.post(f"{base}/v1/audio/speech", json=body)).status_code
            return await asyncio.gather(*(one(i) for i in range(concurrent)))

    started = time.perf_counter()
    statuses = asyncio.run(run())
    errors: dict[int, int] = {}
    for status in statuses:
        if status != 200:
            errors[status] = errors.get(status, 0) + 1
    return statuses.count(200), errors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="reference")
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--formats", default="mp3,wav")
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--url", help="a server already running on loopback (its VOICEBOX_MAX_QUEUE "
                        "must admit --concurrent requests), instead of starting one")
    args = parser.parse_args()
    os.environ.setdefault("VOICEBOX_MAX_QUEUE", str(args.concurrent + 10))
    if args.url and not args.url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise SystemExit("--url must be a loopback address")
    proc, base = (None, args.url.rstrip("/")) if args.url else start(tempfile.mkdtemp(prefix="health-bench-"))
    mine = {os.getpid(), *([proc.pid] if proc else [])}
    print(f"{os.cpu_count()} CPU cores; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"other processes use {others_cpu(mine, 2.0):.2f} cores (2 s sample)")
    try:
        for fmt in args.formats.split(","):  # loads the model, and warms each encoder
            httpx.post(f"{base}/v1/audio/speech", json={"model": args.engine, "input": "Warm up.",
                                                        "response_format": fmt}, timeout=300).raise_for_status()
        quiet = []
        with httpx.Client(timeout=60) as client:
            for _ in range(args.probes):
                started = time.perf_counter()
                client.get(f"{base}/health").raise_for_status()
                quiet.append(time.perf_counter() - started)
                time.sleep(0.01)
        print(f"/health quiet: {figures(quiet)}")
        context = multiprocessing.get_context("spawn")
        for fmt in args.formats.split(","):
            stop, out = context.Event(), context.Queue()
            prober = context.Process(target=probe, args=(base, args.interval, stop, out))
            prober.start()
            time.sleep(1.0)  # the prober's interpreter is up and probing
            cpu_before = psutil.cpu_times()
            ok, errors, wall = burst(base, args.engine, fmt, args.concurrent)
            cpu_after = psutil.cpu_times()
            stop.set()
            times, failures = out.get(timeout=120)
            prober.join(timeout=30)
            busy = ((cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)) / wall
            print(f"/health during {args.concurrent} concurrent {fmt} speech requests: {figures(times)}"
                  f"{f', {failures} failed' if failures else ''}")
            print(f"  burst: {ok} completed, errors {errors or 0}, {wall:.1f} s; machine busy "
                  f"{busy:.2f} of {os.cpu_count()} cores; load average "
                  f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
