"""Resident memory of a served engine after a fixed request mix, against the engine alone.

    python benchmarks/memory_bench.py [--engine piper] [--requests 30] [--format mp3]

Three processes, each measured idle (model loaded, one warm-up request) and after the same
mix (``--requests`` requests of a fixed paragraph, a third of them two at a time):

- alone: the engine's backend driven in one asyncio loop, no server (the library and our
  thin backend: what the engine itself holds);
- served: `voicebox serve`, the mix through `/v1/audio/speech` (engine threads: one
  long-lived thread per engine, the default);
- served, shared pool: the same with `VOICEBOX_ENGINE_THREADS=0` (the loop's default
  executor, as before).

The figure is each server's growth over its idle state against the engine alone's growth
(goal: within 1.2x), and the resident sizes themselves. Loopback only; bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

PARAGRAPH = ("The old lighthouse keeper climbed the stairs every evening. From the top he could see the "
             "whole bay, the fishing boats coming home, and the storms gathering far out at sea. He wrote "
             "everything down in a small notebook.")

ALONE = r"""
import asyncio, json, sys, psutil
from voicebox_core import SynthesisRequest, Synthesizer
from voicebox_core.registry import Registry
from voicebox_core.runtime.audio import encode_audio
engine, count, fmt, text = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
synthesizer = Synthesizer(Registry.discover(isolated=False))
async def one():
    result = await synthesizer.synthesize(SynthesisRequest(text=text, model=engine))
    encode_audio(result.audio, result.sample_rate, fmt)
async def mix():
    await one()
    idle = psutil.Process().memory_info().rss
    for index in range(count):
        if index % 3 == 2:
            await asyncio.gather(one(), one())
        else:
            await one()
    return idle, psutil.Process().memory_info().rss
idle, after = asyncio.run(mix())
print(json.dumps({"idle": idle, "after": after}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def served(engine: str, count: int, fmt: str, threads: bool) -> dict[str, int]:
    port = free_port()
    env = {**os.environ, "VOICEBOX_ENGINE_THREADS": "1" if threads else "0"}
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen([sys.executable, "-m", "voicebox_core", "serve", "--port", str(port), "--data-dir", data],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            body = {"model": engine, "input": PARAGRAPH, "response_format": fmt}

            def one() -> None:
                response = httpx.post(f"{base}/v1/audio/speech", json=body, timeout=600)
                response.raise_for_status()

            one()
            rss = psutil.Process(proc.pid)
            idle = rss.memory_info().rss
            with ThreadPoolExecutor(2) as pool:
                for index in range(count):
                    if index % 3 == 2:
                        list(pool.map(lambda _: one(), range(2)))
                    else:
                        one()
            return {"idle": idle, "after": rss.memory_info().rss, "threads": rss.num_threads()}
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="piper")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--format", default="mp3")
    args = parser.parse_args()
    done = subprocess.run([sys.executable, "-c", ALONE, args.engine, str(args.requests), args.format, PARAGRAPH],
                          capture_output=True, text=True, check=True)
    alone = json.loads(done.stdout.strip().splitlines()[-1])
    mb = 1 / 2**20
    print(f"engine {args.engine}, {args.requests} requests ({args.format}), a third of them two at a time")
    print(f"{'':<26}{'idle MB':>9}{'after MB':>10}{'growth MB':>11}{'vs alone':>10}")
    grow_alone = max(alone["after"] - alone["idle"], 1)
    print(f"{'engine alone':<26}{alone['idle'] * mb:9.0f}{alone['after'] * mb:10.0f}{grow_alone * mb:11.0f}{'1.00x':>10}")
    for label, threads in (("served, engine threads", True), ("served, shared pool", False)):
        figures = served(args.engine, args.requests, args.format, threads)
        growth = figures["after"] - figures["idle"]
        print(f"{label:<26}{figures['idle'] * mb:9.0f}{figures['after'] * mb:10.0f}{growth * mb:11.0f}"
              f"{growth / grow_alone:9.2f}x  ({figures['threads']} threads)")
    print(f"(growth within 1.2x of the engine alone is the goal; {Path(sys.executable).parent.parent.name})")


if __name__ == "__main__":
    main()
