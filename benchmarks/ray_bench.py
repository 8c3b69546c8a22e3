"""piper as a Ray Serve deployment against piper in-process, in the same run.

    python benchmarks/ray_bench.py [--address HOST:PORT] [--engine piper] [--runs 15]
                                   [--requests 40] [--concurrency 8] [--cpus 2]

Needs voicebox-core[ray] and the engine installed in the running Python (replicas inherit
this environment). Without ``--address`` it starts a local Ray instance (``ray start --head``,
loopback, ``--cpus`` CPUs) and stops it at the end. Figures:

- per-request overhead: one sentence, the median of ``--runs`` requests one at a time on a
  loaded model, through Ray (1 replica) vs in-process, as a ratio;
- requests per second: ``--requests`` one-sentence requests, ``--concurrency`` at once,
  through Ray with 1 and with 2 replicas; the peer is in-process, one at a time (how one
  server runs an engine);
- deployment time: from ``serve.run`` to the deployment answering.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEXT = "The quick brown fox jumps over the lazy dog."


def start_ray(cpus: int) -> tuple[str, str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.fake_hub import free_port

    port = free_port()
    temp = tempfile.mkdtemp(prefix="vbrayb", dir="/tmp")
    ray = str(Path(sys.executable).with_name("ray"))
    subprocess.run([ray, "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1", "--num-cpus",
                    str(cpus), "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp],
                   check=True, capture_output=True, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    return f"127.0.0.1:{port}", temp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", help="an existing Ray cluster (default: start one here)")
    parser.add_argument("--engine", default="piper")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from voicebox_core.ray_serve.config import DeploymentConfig, RayConfig
    from voicebox_core.ray_serve.deploy import attach
    from voicebox_core.registry import Registry
    from voicebox_core.synthesis import SynthesisRequest, Synthesizer

    request = SynthesisRequest(text=TEXT, model=args.engine, seed=1)

    async def latency(synth: Synthesizer) -> float:
        await synth.synthesize(request)  # warm: the model loaded, caches filled
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            await synth.synthesize(request)
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000

    async def throughput(synth: Synthesizer, at_once: int) -> float:
        await synth.synthesize(request)
        gate = asyncio.Semaphore(at_once)

        async def one() -> None:
            async with gate:
                await synth.synthesize(request)

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(args.requests)))
        return args.requests / (time.perf_counter() - started)

    local = Synthesizer(Registry.discover(isolated=False))
    inproc_ms = asyncio.run(latency(local))
    inproc_rps = asyncio.run(throughput(local, 1))
    local.registry.backend(args.engine).unload_model()

    address, temp = (args.address, "") if args.address else start_ray(args.cpus)
    try:
        figures = {}
        for replicas in (1, 2):
            registry = Registry.discover(isolated=False)
            config = RayConfig(address=address, prefix=f"bench{replicas}", engines=(args.engine,),
                               defaults=DeploymentConfig(num_replicas=replicas, num_cpus=min(1.0, args.cpus / 2.5),
                                                         max_ongoing_requests=max(2, args.concurrency // replicas)))
            started = time.perf_counter()
            attach(registry, config, say=lambda line: None)
            deployed = time.perf_counter() - started
            synth = Synthesizer(registry)
            ms = asyncio.run(latency(synth)) if replicas == 1 else 0.0
            figures[replicas] = (asyncio.run(throughput(synth, args.concurrency)), ms, deployed)
            from ray import serve

            serve.delete(config.app(args.engine))
    finally:
        import ray

        ray.shutdown()
        if temp:
            subprocess.run([str(Path(sys.executable).with_name("ray")), "stop", "--force"], capture_output=True)
            shutil.rmtree(temp, ignore_errors=True)

    ray_ms = figures[1][1]
    print(f"{args.engine}, one sentence, median of {args.runs}: in-process {inproc_ms:.0f} ms, "
          f"through Ray {ray_ms:.0f} ms, ratio {ray_ms / inproc_ms:.2f}")
    print(f"{args.engine} requests/s ({args.requests} one-sentence requests, {args.concurrency} at once): "
          f"in-process one at a time {inproc_rps:.1f}; Ray 1 replica {figures[1][0]:.1f}; "
          f"Ray 2 replicas {figures[2][0]:.1f} (2 vs 1: {figures[2][0] / figures[1][0]:.2f}x; "
          f"2 replicas vs in-process: {figures[2][0] / inproc_rps:.2f}x)")
    print(f"deployment time: 1 replica {figures[1][2]:.1f} s, 2 replicas {figures[2][2]:.1f} s")


if __name__ == "__main__":
    main()
