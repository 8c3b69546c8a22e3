"""The server under load and hostile bodies (a real `voicebox serve`, loopback only).

    python benchmarks/hostile_bench.py [--engine piper] [--concurrent 200]

1. --concurrent simultaneous streamed requests (wav, pcm, /generate/stream): completed,
   503s (with Retry-After), truncated (must be 0), p50/p95 latency, time to the first 503.
2. Peak server RSS while a 200 MB JSON body (declared, then chunked) is refused.
3. Time to the first streamed audio versus the whole result for a 10-sentence text, with the
   first chunk as it is now (the first sentence alone) and as it was (up to 160 characters),
   the engine called directly with each chunking, and /generate/stream's first byte.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_bench import TEN, start  # noqa: E402


def load(base: str, engine: str, concurrent: int) -> None:
    body = {"model": engine, "input": "Hello there, this is a load test.", "response_format": "wav", "seed": 1}
    whole = len(httpx.post(f"{base}/v1/audio/speech", json=body, timeout=120).content)
    began = time.perf_counter()
    first_503: list[float] = []

    async def one(client: httpx.AsyncClient, i: int) -> tuple[int, int, float, bool]:
        t0 = time.perf_counter()
        if i % 3 == 2:
            r = await client.post(f"{base}/generate/stream", json={"text": body["input"], "engine": engine, "seed": 1})
        else:
            r = await client.post(f"{base}/v1/audio/speech", json={**body, "response_format": "pcm" if i % 3 else "wav"})
        if r.status_code == 503 and not first_503:
            first_503.append(time.perf_counter() - began)
        size = len(r.content) + (44 if i % 3 == 1 else 0)
        return r.status_code, size, time.perf_counter() - t0, bool(r.headers.get("retry-after"))

    async def run() -> list[tuple[int, int, float, bool]]:
        async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=concurrent + 10)) as client:
            return await asyncio.gather(*(one(client, i) for i in range(concurrent)))

    results = asyncio.run(run())
    ok = sorted(t for s, n, t, _ in results if s == 200 and n == whole)
    truncated = sum(1 for s, n, _, _ in results if s == 200 and n != whole)
    refused = [r for r in results if r[0] == 503]
    p95 = ok[max(0, int(len(ok) * 0.95) - 1)] if ok else float("nan")
    print(f"[load] {concurrent} concurrent: {len(ok)} complete, {len(refused)} x 503 "
          f"({sum(r[3] for r in refused)} with Retry-After), {truncated} truncated; "
          f"p50 {statistics.median(ok):.2f} s, p95 {p95:.2f} s; first 503 after "
          f"{first_503[0] if first_503 else float('nan'):.3f} s")


def body_attack(base: str, pid: int) -> None:
    server = psutil.Process(pid)
    peak = before = server.memory_info().rss
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    host, port = base.removeprefix("http://").split(":")
    for chunked in (False, True):
        with socket.create_connection((host, int(port))) as sock:
            framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {200 * 2**20}"
            sock.sendall(f"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{framing}\r\n\r\n".encode())
            part = b" " * 2**20
            try:
                for _ in range(200):
                    sock.sendall((b"100000\r\n" + part + b"\r\n") if chunked else part)
            except OSError:
                pass
            answer = sock.recv(200).split(b"\r\n")[0].decode(errors="replace")
        print(f"[body] 200 MB {'chunked' if chunked else 'declared'} JSON body: {answer}")
    stop.set()
    sampler.join()
    print(f"[body] server RSS {before / 2**20:.0f} MB before, peak {peak / 2**20:.0f} MB during")


def first_audio(base: str, engine: str) -> None:
    from voicebox_core import Registry, SynthesisRequest, Synthesizer
    from voicebox_core.runtime.text import split_for_streaming, split_text_into_chunks

    synth = Synthesizer(Registry.discover())

    async def timed(chunks: list[str]) -> tuple[float, float]:
        plan = synth.plan(SynthesisRequest(TEN, engine))
        await synth.load(plan.model.model_name)
        prompt = await synth.voice_prompt(plan)
        backend = synth.registry.backend(plan.engine.name)
        started = time.perf_counter()
        first = None
        for chunk in chunks:
            await backend.generate(chunk, prompt, plan.language, None, None)
            first = first or time.perf_counter() - started
        return float(first or 0), time.perf_counter() - started

    for name, chunks in (("before: up to 160 characters", split_text_into_chunks(TEN, 160)),
                         ("now: the first sentence alone", split_for_streaming(TEN, 160))):
        asyncio.run(timed(chunks))  # warm
        first, whole = asyncio.run(timed(chunks))
        print(f"[stream] {name} ({len(chunks[0])} chars first): first audio {first:.3f} s, whole {whole:.3f} s")
    started = time.perf_counter()
    with httpx.stream("POST", f"{base}/generate/stream", json={"text": TEN, "engine": engine}, timeout=600) as stream:
        first_byte = None
        for piece in stream.iter_bytes():
            if first_byte is None and piece:
                first_byte = time.perf_counter() - started
    print(f"[stream] /generate/stream: first byte {first_byte:.3f} s, done {time.perf_counter() - started:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="piper")
    parser.add_argument("--concurrent", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("VOICEBOX_MAX_QUEUE", "16")
    proc, base = start(tempfile.mkdtemp(prefix="hostile-bench-"))
    try:
        load(base, args.engine, args.concurrent)
        body_attack(base, proc.pid)
        first_audio(base, args.engine)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
