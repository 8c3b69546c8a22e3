"""Server figures against a real `voicebox serve` on loopback.

    python benchmarks/server_bench.py [--engine piper] [--runs 5] [--concurrent 50]

1. Overhead: POST /v1/audio/speech end to end versus the direct backend call (load done,
   same text, same voice), median of --runs; ratio.
2. Streaming: time to the first audio byte of /generate/stream versus time to the whole
   /generate result (its status stream's ``completed``), for a 10-sentence text.
3. Load: --concurrent simultaneous /v1/audio/speech requests (a short sentence each):
   completed, errors (by status), p50 / p95 latency. Requests go to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

SENTENCE = "The quick brown fox jumps over the lazy dog."
TEN = " ".join(f"This is sentence number {n}, spoken for the streaming test." for n in range(1, 11))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(data: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "voicebox_core", "serve", "--port", str(port),
                             "--data-dir", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def direct_call(engine: str, runs: int) -> float:
    """Median seconds of backend.generate for SENTENCE, the model already loaded."""
    from voicebox_core import Registry, SynthesisRequest, Synthesizer

    synth = Synthesizer(Registry.discover())

    async def once() -> float:
        plan = synth.plan(SynthesisRequest(SENTENCE, engine))
        await synth.load(plan.model.model_name)
        prompt = await synth.voice_prompt(plan)
        backend = synth.registry.backend(plan.engine.name)
        started = time.perf_counter()
        await backend.generate(plan.chunks[0], prompt, plan.language, None, None)
        return time.perf_counter() - started

    asyncio.run(once())  # warm-up
    return statistics.median(asyncio.run(once()) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="piper")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=50)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="server-bench-")
    os.environ.setdefault("VOICEBOX_MAX_QUEUE", str(args.concurrent + 10))
    proc, base = start(data)
    try:
        body = {"model": args.engine, "input": SENTENCE, "response_format": "wav"}
        httpx.post(f"{base}/v1/audio/speech", json=body, timeout=300).raise_for_status()  # load
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            httpx.post(f"{base}/v1/audio/speech", json=body, timeout=300).raise_for_status()
            times.append(time.perf_counter() - started)
        served = statistics.median(times)
        direct = direct_call(args.engine, args.runs)
        print(f"[{args.engine}] /v1/audio/speech median {served * 1000:.1f} ms; direct backend call "
              f"median {direct * 1000:.1f} ms; ratio {served / direct:.2f}")

        started = time.perf_counter()
        first = None
        with httpx.stream("POST", f"{base}/generate/stream", json={"text": TEN, "engine": args.engine},
                          timeout=600) as stream:
            for piece in stream.iter_bytes():
                if first is None and len(piece) > 44:
                    first = time.perf_counter() - started
        streamed = time.perf_counter() - started
        started = time.perf_counter()
        made = httpx.post(f"{base}/generate", json={"text": TEN, "engine": args.engine}, timeout=600)
        made.raise_for_status()
        with httpx.stream("GET", f"{base}/generate/{made.json()['id']}/status", timeout=600) as events:
            for line in events.iter_lines():
                if '"completed"' in line or '"failed"' in line:
                    break
        whole = time.perf_counter() - started
        print(f"[{args.engine}] 10 sentences: first audio byte after {first:.2f} s (stream done "
              f"{streamed:.2f} s); whole /generate result after {whole:.2f} s")

        async def burst() -> list[tuple[int, float]]:
            async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=args.concurrent)) as client:
                async def one(i: int) -> tuple[int, float]:
                    t0 = time.perf_counter()
                    r = await client.post(f"{base}/v1/audio/speech", json={**body, "input": f"Request {i}."})
                    return r.status_code, time.perf_counter() - t0
                return await asyncio.gather(*(one(i) for i in range(args.concurrent)))

        results = asyncio.run(burst())
        ok = sorted(t for s, t in results if s == 200)
        errors: dict[int, int] = {}
        for status, _ in results:
            if status != 200:
                errors[status] = errors.get(status, 0) + 1
        p95 = ok[max(0, int(len(ok) * 0.95) - 1)] if ok else float("nan")
        print(f"[{args.engine}] {args.concurrent} concurrent: {len(ok)} completed, errors {errors or 0}, "
              f"p50 {statistics.median(ok):.2f} s, p95 {p95:.2f} s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
