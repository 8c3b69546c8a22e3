"""Figures of the Voicebox drop-in flows against a real `voicebox serve` on loopback.

    python benchmarks/voicebox_bench.py [--engine piper] [--runs 7] [--rows 10000]

1. Generation as the Voicebox app runs it: POST /generate, then its status stream read to
   ``completed``, versus a direct ``Synthesizer.synthesize`` of the same text in this
   process (model loaded in both), median of --runs; ratio.
2. History: GET /history?limit=50 (and with ``search``) with --rows generations stored,
   median of 20 requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_bench import start  # noqa: E402

TEXT = "The quick brown fox jumps over the lazy dog. It was a bright cold day in April."


def seed_history(data: Path, rows: int, engine: str) -> None:
    from voicebox_core.server.db import Generation, dispose, open_database

    sessions = open_database(data / "voicebox.db")
    base = datetime.now(UTC) - timedelta(days=30)
    with sessions() as session:
        session.add_all(Generation(
            id=uuid.uuid4().hex, text=f"Stored generation number {i}: {TEXT}", language="en",
            engine=engine, model_name=engine, model_size="default", voice="default",
            voice_label="bench", audio_path="", status="completed", duration=1.0, sample_rate=22050,
            created_at=base + timedelta(seconds=i)) for i in range(rows))
        session.commit()
    dispose(sessions)


def served_generation(base: str, engine: str) -> float:
    started = time.perf_counter()
    made = httpx.post(f"{base}/generate", json={"text": TEXT, "engine": engine}, timeout=300)
    made.raise_for_status()
    with httpx.stream("GET", f"{base}/generate/{made.json()['id']}/status", timeout=300) as events:
        for line in events.iter_lines():
            if line.startswith("data: ") and json.loads(line[6:])["status"] in ("completed", "failed"):
                break
    return time.perf_counter() - started


def direct_synthesis(engine: str, runs: int) -> float:
    from voicebox_core import Registry, SynthesisRequest, Synthesizer

    synth = Synthesizer(Registry.discover())

    async def once() -> float:
        started = time.perf_counter()
        await synth.synthesize(SynthesisRequest(TEXT, engine))
        return time.perf_counter() - started

    async def all_runs() -> list[float]:
        await once()  # load
        return [await once() for _ in range(runs)]

    return statistics.median(asyncio.run(all_runs()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="piper")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="voicebox-bench-"))
    seed_history(data, args.rows, args.engine)
    proc, base = start(str(data))
    try:
        served_generation(base, args.engine)  # load the model
        served = statistics.median(served_generation(base, args.engine) for _ in range(args.runs))
        direct = direct_synthesis(args.engine, args.runs)
        print(f"[{args.engine}] POST /generate -> status stream 'completed': median {served * 1000:.0f} ms; "
              f"direct Synthesizer.synthesize median {direct * 1000:.0f} ms; ratio {served / direct:.2f}")
        for query in ("limit=50", "limit=50&search=number%201234", "limit=50&offset=5000"):
            times = []
            for _ in range(20):
                started = time.perf_counter()
                answer = httpx.get(f"{base}/history?{query}", timeout=60)
                times.append(time.perf_counter() - started)
                answer.raise_for_status()
            total = answer.json()["total"]
            print(f"[history] GET /history?{query} with {args.rows + args.runs + 1} rows "
                  f"(total {total}): median {statistics.median(times) * 1000:.1f} ms, "
                  f"max {max(times) * 1000:.1f} ms")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
