"""ElevenLabs' WebSocket ``stream-input`` against OpenAI's streamed ``/v1/audio/speech``: the
same sentence, the same server, the same engine, one run.

    python benchmarks/elevenlabs_bench.py [--runs 7] [--model piper-en_US-joe-medium] [--voice en_US-joe-medium]

One ``voicebox serve`` on loopback (the bundled piper voice by default). The socket gets the
sentence a few words at a time, as agent frameworks send an LLM's text; what is measured is
the time from its last piece (the one that ends the sentence) to its first audio message. The
same sentence through ``/v1/audio/speech`` (``pcm``, streamed): time from the request to the
first audio bytes. Both pcm at 16 kHz, median of --runs after a warm-up, and the ratio
socket/REST (goal <= 1.1: the socket adds no latency of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
import websockets

SENTENCE = "The quick brown fox jumps over the lazy dog."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(base: str) -> None:
    for _ in range(600):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{base} does not answer")


async def socket_once(url: str) -> tuple[float, float]:
    """(last piece -> first audio, last piece -> isFinal) in seconds."""
    words = SENTENCE.split(" ")
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"text": " "}))
        for at in range(0, len(words), 3):
            await ws.send(json.dumps({"text": " ".join(words[at:at + 3]) + " "}))
            await asyncio.sleep(0.02)  # an LLM's tokens arrive over time
        last = time.perf_counter()  # the sentence's end mark has just gone
        first = None
        await ws.send(json.dumps({"text": ""}))
        async for raw in ws:
            message = json.loads(raw)
            if "error" in message:
                raise SystemExit(message)
            if message.get("audio") and first is None:
                first = time.perf_counter() - last
            if message.get("isFinal"):
                return float(first or 0), time.perf_counter() - last
    raise SystemExit("the socket closed before isFinal")


def rest_once(base: str, model: str, voice: str) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    body = {"model": model, "voice": voice, "input": SENTENCE, "response_format": "pcm", "sample_rate": 16000}
    with httpx.stream("POST", f"{base}/v1/audio/speech", json=body, timeout=60) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            if chunk and first is None:
                first = time.perf_counter() - started
    return float(first or 0), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--model", default="piper-en_US-joe-medium")
    parser.add_argument("--voice", default="en_US-joe-medium")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "voicebox_core", "serve", "--port", str(port),
                             "--data-dir", tempfile.mkdtemp(prefix="elevenlabs-bench-")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(base)
        url = (f"ws://127.0.0.1:{port}/elevenlabs/v1/text-to-speech/{args.voice}/stream-input"
               f"?model_id={args.model}&output_format=pcm_16000")
        asyncio.run(socket_once(url))  # warm-up: the voice loads
        rest_once(base, args.model, args.voice)
        sockets, rests = [], []
        for _ in range(args.runs):  # interleaved: both see the same machine
            sockets.append(asyncio.run(socket_once(url)))
            rests.append(rest_once(base, args.model, args.voice))
        ws_first = statistics.median(r[0] for r in sockets)
        rest_first = statistics.median(r[0] for r in rests)
        print(f"{args.model}, {args.runs} runs, medians, one sentence ({len(SENTENCE)} characters):")
        print(f"  stream-input: last text piece -> first audio {ws_first * 1000:7.1f} ms, "
              f"-> isFinal {statistics.median(r[1] for r in sockets) * 1000:7.1f} ms")
        print(f"  /v1/audio/speech (pcm, streamed): request -> first audio {rest_first * 1000:7.1f} ms, "
              f"-> end {statistics.median(r[1] for r in rests) * 1000:7.1f} ms")
        print(f"  ratio socket/REST, first audio: {ws_first / rest_first:.2f}")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
