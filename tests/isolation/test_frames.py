"""Frames across the process boundary: an isolated engine that streams is streamed as its
worker yields, and closing the stream on the host stops the engine in its worker."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import voicebox_core as vb
from conftest import CONSTRAINTS, ROOT, voicebox
from voicebox_core.registry import Registry

PLUGIN = ROOT / "core" / "tests" / "frames_plugin.py"


@pytest.fixture(scope="module")
def frames_data(tmp_path_factory: pytest.TempPathFactory, core_wheel: Path) -> Path:
    source = tmp_path_factory.mktemp("frames-src")
    (source / "frames_plugin.py").write_text(PLUGIN.read_text())
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "voicebox-test-frames"\nversion = "0.1"\ndependencies = ["voicebox-core", "numpy"]\n'
        '[project.entry-points."voicebox.engines"]\nframes = "frames_plugin"\n'
        '[tool.hatch.build.targets.wheel]\ninclude = ["frames_plugin.py"]\n')
    data = tmp_path_factory.mktemp("frames-data")
    done = voicebox("engines", "install", str(source), "--isolated", "-c", str(CONSTRAINTS), "--core", str(core_wheel),
                    env={"VOICEBOX_DATA_DIR": str(data)})
    assert done.returncode == 0, done.stderr[-3000:]
    return data


def _synthesizer(data: Path, monkeypatch: pytest.MonkeyPatch, log: Path) -> vb.Synthesizer:
    monkeypatch.setenv("VOICEBOX_DATA_DIR", str(data))
    monkeypatch.setenv("VOICEBOX_FRAMES_LOG", str(log))  # the worker inherits it
    registry = Registry.discover(environments=data / "engines")
    assert registry.lives("frames")["mode"] == "isolated"
    return vb.Synthesizer(registry)


def test_an_isolated_engine_streams_frames_as_they_come(frames_data: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    synthesizer = _synthesizer(frames_data, monkeypatch, tmp_path / "log.json")
    request = vb.SynthesisRequest(text="One sentence.", model="frames", normalize=False)

    async def run() -> tuple[float, float, list[np.ndarray]]:
        await synthesizer.load("frames")  # the worker's cold start is not the stream's
        started, first, frames = time.perf_counter(), 0.0, []
        async for audio, rate in synthesizer.stream(request):
            assert rate == 16000 and audio.dtype == np.float32
            first = first or time.perf_counter() - started
            frames.append(audio)
        return first, time.perf_counter() - started, frames

    try:
        first, total, frames = asyncio.run(run())
    finally:
        synthesizer.registry.close()
    assert len(frames) == 10 and first < total / 2, (first, total)
    assert np.array_equal(np.concatenate(frames), _direct())  # what the engine's own stream makes


def _direct() -> np.ndarray:
    import importlib.util

    spec = importlib.util.spec_from_file_location("frames_direct", PLUGIN)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return np.concatenate([module.frame(i) for i in range(module.FRAMES)])


def test_closing_the_stream_on_the_host_stops_the_engine_in_its_worker(
        frames_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "log.json"
    synthesizer = _synthesizer(frames_data, monkeypatch, log)
    request = vb.SynthesisRequest(text="One sentence.", model="frames", normalize=False)

    async def run() -> None:
        stream = synthesizer.stream(request)
        await stream.__anext__()
        await stream.aclose()
        deadline = time.monotonic() + 10
        while not log.is_file() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    try:
        asyncio.run(run())
    finally:
        synthesizer.registry.close()
    made = json.loads(log.read_text())
    assert made["closed"] and not made["finished"] and made["made"] <= 3, made
    assert os.environ.get("VOICEBOX_FRAMES_LOG") == str(log)


def test_an_isolated_engine_s_word_times_cross_the_boundary(frames_data: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Each timed chunk comes with its words, shifted onto the utterance as in-process."""
    synthesizer = _synthesizer(frames_data, monkeypatch, tmp_path / "log.json")
    text = "One short sentence. Then another one!"
    request = vb.SynthesisRequest(text=text, model="frames_words", normalize=False)

    async def run() -> tuple[list[np.ndarray], list[vb.WordTime]]:
        audio, words = [], []
        async for chunk, _rate, chunk_words in synthesizer.stream_timed(request):
            audio.append(chunk)
            words += chunk_words
        return audio, words

    try:
        audio, words = asyncio.run(run())
    finally:
        synthesizer.registry.close()
    assert len(audio) == 2 and [w.word for w in words] == text.split()
    assert words[3].start == pytest.approx((len(audio[0])) / 16000 + 0.0, abs=1e-6)  # shifted by the first chunk
    assert all(a.end <= b.start for a, b in zip(words, words[1:]))
