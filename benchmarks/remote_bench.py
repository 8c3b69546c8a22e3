"""A remote engine's overhead: our server speaking through a remote `voicebox serve` vs that
remote called directly, in the same run.

    python benchmarks/remote_bench.py [--engine piper] [--requests 20] [--text "..."]

Needs voicebox-core[server], voicebox-engine-remote and the engine (default piper, whose
voice is offline) installed in the running Python. Starts two servers on loopback, each with
its own data dir: the remote (the engine only) and ours, whose remote engine ``bench`` was
added with ``voicebox engines add-remote``. Then ``--requests`` requests each way, interleaved
(direct, chain, direct, ...: both see the same machine load), after two warm-up requests each:

- ``pcm``: OpenAI's ``/v1/audio/speech`` with ``response_format: pcm`` (24 kHz), streamed; the
  chain asks the remote for just that and relays it. Total time and time to the first byte.
- ``wav``: the whole file (the chain's own WAV of the remote's PCM).

Prints median and mean per way and the chain/direct ratio of the medians (goal: <= 1.05).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.fake_hub import free_port

TEXT = "The quick brown fox jumps over the lazy dog. It was a bright cold day in April."


def serve(data_dir: Path, log: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "voicebox_core", "serve", "--port", str(port),
                                 "--data-dir", str(data_dir)], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "VOICEBOX_DATA_DIR": str(data_dir), **env})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"voicebox serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("voicebox serve did not start in 120 s")


def timed(client: httpx.Client, url: str, body: dict[str, object]) -> tuple[float, float]:
    """(seconds to the first byte, seconds to the last) of one request."""
    started = time.perf_counter()
    first = 0.0
    with client.stream("POST", f"{url}/v1/audio/speech", json=body) as response:
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.read()[:300]!r}")
        for piece in response.iter_bytes():
            if piece and not first:
                first = time.perf_counter() - started
    return first, time.perf_counter() - started


def row(name: str, values: list[float]) -> str:
    return f"{name:<22} median {statistics.median(values) * 1000:7.1f} ms   mean {statistics.mean(values) * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="piper")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--text", default=TEXT)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = Path(tempfile.mkdtemp(prefix="voicebox-remote-bench-"))
    processes = []
    try:
        remote, remote_url = serve(root / "remote", root / "remote.log", VOICEBOX_PLUGINS=args.engine)
        processes.append(remote)
        added = subprocess.run([sys.executable, "-m", "voicebox_core", "engines", "add-remote", "bench", remote_url],
                               capture_output=True, text=True, env={**os.environ, "VOICEBOX_DATA_DIR": str(root / "ours")})
        if added.returncode:
            raise SystemExit(added.stderr)
        ours, ours_url = serve(root / "ours", root / "ours.log", VOICEBOX_PLUGINS="remote")
        processes.append(ours)
        model = httpx.get(f"{remote_url}/v1/models").json()["data"][0]["id"]
        voice = httpx.get(f"{remote_url}/v1/audio/voices").json()["voices"][0]["id"]
        print(f"remote {remote_url} ({args.engine}, model {model}, voice {voice}); ours {ours_url} "
              f"(engine bench); {args.requests} requests each way, interleaved; text: {len(args.text)} characters")
        with httpx.Client(timeout=300) as client:
            for fmt in ("pcm", "wav"):
                direct = {"model": model, "input": args.text, "voice": voice, "response_format": fmt}
                chain = {**direct, "model": f"bench-{model}"}
                for _ in range(2):  # warm: models loaded, connections open
                    timed(client, remote_url, direct)
                    timed(client, ours_url, chain)
                results: dict[str, list[tuple[float, float]]] = {"direct": [], "chain": []}
                for index in range(args.requests):
                    ways = [("direct", remote_url, direct), ("chain", ours_url, chain)]
                    for name, url, body in ways if index % 2 == 0 else ways[::-1]:
                        results[name].append(timed(client, url, body))
                print(f"\n{fmt}:")
                for name in ("direct", "chain"):
                    print(row(f"  {name} total", [t for _, t in results[name]]))
                    if fmt == "pcm":
                        print(row(f"  {name} first byte", [f for f, _ in results[name]]))
                ratio = (statistics.median(t for _, t in results["chain"])
                         / statistics.median(t for _, t in results["direct"]))
                print(f"  chain / direct (median total): {ratio:.3f}x (goal <= 1.05)")
    finally:
        for proc in processes:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
