"""Isolated engines against the same engines in-process, in the same run.

    python benchmarks/isolation_bench.py --data DIR [--runs 15] [--memory piper,kokoro,qwen_custom_voice]
                                         [--install plugins/piper ...] [-c constraints.txt]

The running Python is the host; it must have the engines installed in-process too (the
peer). ``DIR`` is a Voicebox data dir whose ``engines/`` holds their isolated environments;
``--install`` makes (or refreshes) them first and times it. Figures:

- per-request overhead: one sentence on piper, isolated vs in-process, medians of ``--runs``
  alternating requests on loaded models, as a ratio (goal <= 1.05);
- worker cold start: spawn to hello (the engine's backend module imported), median of 3;
- memory: the host's RSS with the ``--memory`` engines loaded in-process, vs isolated (the
  host alone, and the host plus its workers), each in a fresh process;
- environment creation per engine, from each environment's record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TEXT = "The quick brown fox jumps over the lazy dog."

MEMORY = r"""
import asyncio, json, sys, psutil
from voicebox_core.registry import Registry
from voicebox_core.synthesis import Synthesizer, SynthesisRequest
isolated = sys.argv[1] == "isolated"
registry = Registry.discover(isolated=isolated)  # isolated: the isolated ones win the names
synth = Synthesizer(registry, max_loaded=10)
engines = sys.argv[2].split(",")
async def run():
    for engine in engines:
        if isolated != registry.plugin_of(engine).isolated:
            raise SystemExit(f"{engine} is not {'isolated' if isolated else 'in-process'} here")
        await synth.synthesize(SynthesisRequest(text="Hello there.", model=engine, seed=1))
asyncio.run(run())
me = psutil.Process()
workers = sum(c.memory_info().rss for c in me.children(recursive=True))
print(json.dumps({"host": me.memory_info().rss, "workers": workers}))
registry.close()
"""


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def _voice(registry, engine: str, ref_audio: str | None):  # type: ignore[no-untyped-def]
    """The engine's default voice, else the reference clip given (--ref-audio)."""
    from voicebox_core.synthesis import Voice

    if registry.engine(engine).default_voice:
        return None
    if not ref_audio:
        raise SystemExit(f"{engine} has no default voice: pass --ref-audio CLIP")
    return Voice.clone([(ref_audio, "")])


def overhead(runs: int, engine: str, ref_audio: str | None = None) -> None:
    from voicebox_core.registry import Registry
    from voicebox_core.synthesis import SynthesisRequest, Synthesizer

    inproc = Synthesizer(Registry.discover(isolated=False))
    isolated_registry = Registry.discover()
    if not isolated_registry.plugin_of(engine).isolated:
        raise SystemExit(f"{engine} is not isolated in this data dir; pass --install plugins/{engine}")
    isolated = Synthesizer(isolated_registry)
    request = SynthesisRequest(text=TEXT, model=engine, seed=1, voice=_voice(isolated_registry, engine, ref_audio))

    async def run() -> tuple[list[float], list[float]]:
        await inproc.synthesize(request)  # warm: models loaded, caches filled
        await isolated.synthesize(request)
        a, b = [], []
        for _ in range(runs):
            for synth, into in ((inproc, a), (isolated, b)):
                started = time.perf_counter()
                await synth.synthesize(request)
                into.append(time.perf_counter() - started)
        return a, b

    a, b = asyncio.run(run())
    print(f"one sentence on {engine}, median of {runs}: in-process {median_ms(a):.1f} ms, isolated "
          f"{median_ms(b):.1f} ms, ratio {statistics.median(b) / statistics.median(a):.3f} (goal <= 1.05)")

    backend = isolated_registry.backend(engine)
    starts = []
    for _ in range(3):
        backend.unload_model()
        asyncio.run(backend.load_model("default"))
        starts.append(backend.worker.started_at)
    print(f"worker cold start ({engine}): median {statistics.median(starts):.2f} s "
          f"(runs: {', '.join(f'{s:.2f}' for s in starts)})")
    isolated_registry.close()


def memory(engines: str) -> None:
    figures = {}
    for mode in ("in-process", "isolated"):
        out = subprocess.run([sys.executable, "-c", MEMORY, mode, engines], capture_output=True, text=True,
                             env=os.environ)
        if out.returncode != 0:
            print(f"memory ({mode}) failed: {out.stderr.strip().splitlines()[-1:]}")
            return
        figures[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    mib = 2**20
    a, b = figures["in-process"], figures["isolated"]
    print(f"memory with {engines} loaded: in-process host {a['host'] / mib:.0f} MiB; isolated host "
          f"{b['host'] / mib:.0f} MiB ({b['host'] / a['host']:.2f}x), host + workers "
          f"{(b['host'] + b['workers']) / mib:.0f} MiB ({(b['host'] + b['workers']) / a['host']:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="the data dir whose engines/ holds the isolated envs")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--engine", default="piper", help="the engine of the overhead figure")
    parser.add_argument("--memory", default="piper", help="engines loaded for the memory figure ('' skips it)")
    parser.add_argument("--install", action="append", default=[], help="install this isolated first")
    parser.add_argument("-c", "--constraint", action="append", default=[])
    parser.add_argument("--ref-audio", help="reference clip for an engine without a default voice")
    args = parser.parse_args()
    os.environ["VOICEBOX_DATA_DIR"] = str(Path(args.data).resolve())
    from voicebox_core import installer
    from voicebox_core.isolation import envs

    for requirement in args.install:
        installer.install(requirement, mode="isolated", constraints=tuple(args.constraint), say=lambda line: None)
    overhead(args.runs, args.engine, args.ref_audio)
    if args.memory:
        memory(args.memory)
    for env in envs.environments():
        print(f"environment creation: {env.distribution} {env.install_seconds:.0f} s")


if __name__ == "__main__":
    main()
