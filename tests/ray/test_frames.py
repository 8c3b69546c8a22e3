"""A streaming engine's frames through its Ray deployment: they leave the replica as the engine
yields them, arrive as the engine made them, and closing the stream here stops the engine there.

The engine is core's streaming test engine (``core/tests/frames_plugin.py``, installed in this
environment as ``tests/ray/plugins/frames`` so that replicas find it): ten 50 ms frames of a
tone, one every 20 ms, and a log its replica writes when a stream ends (made, finished, closed).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import voicebox_core as vb
from voicebox_core.ray_serve.backend import RayBackend
from voicebox_core.ray_serve.config import DeploymentConfig, RayConfig
from voicebox_core.ray_serve.deploy import attach
from voicebox_core.registry import Registry

REQUEST = vb.SynthesisRequest(text="One sentence.", model="frames", normalize=False)


@pytest.fixture(scope="module")
def frames(ray_address: str, ray_driver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, Path]]:
    """The frames engine deployed on the cluster (one replica), and where its replica logs."""
    log = tmp_path_factory.mktemp("ray-frames") / "log.json"
    settings = DeploymentConfig(num_cpus=0.25, runtime_env={"env_vars": {"VOICEBOX_FRAMES_LOG": str(log)}})
    config = RayConfig(address=ray_address, prefix="fr", engines=("frames",), defaults=settings)
    registry = Registry.discover()
    assert attach(registry, config, say=lambda line: None) == ["frames"], registry.failures
    assert isinstance(registry.backend("frames"), RayBackend)
    try:
        yield registry, log
    finally:
        ray_driver.delete("fr-frames")


def _direct() -> np.ndarray:
    """What the engine's own stream makes, in this process."""
    import frames_plugin

    async def run() -> list[np.ndarray]:
        return [frame async for frame in frames_plugin.FramesBackend().generate_stream("One sentence.", {})]

    return np.concatenate(asyncio.run(run()))


def test_frames_leave_the_replica_as_the_engine_makes_them(frames: tuple[Registry, Path]) -> None:
    registry, log = frames
    synthesizer = vb.Synthesizer(registry)
    assert synthesizer.streams("frames")  # the deployment proxy streams: no sentence chunking

    async def run() -> tuple[float, float, list[np.ndarray]]:
        await synthesizer.load("frames")  # a replica's first load is not the stream's
        started, first, received = time.perf_counter(), 0.0, []
        async for audio, rate in synthesizer.stream(REQUEST):
            assert rate == 16000 and audio.dtype == np.float32
            first = first or time.perf_counter() - started
            received.append(audio)
        return first, time.perf_counter() - started, received

    first, total, received = asyncio.run(run())
    assert len(received) == 10 and first < total / 2, (first, total)  # not one block at the end
    assert np.array_equal(np.concatenate(received), _direct())
    made = json.loads(log.read_text())
    assert made == {"made": 10, "finished": True, "closed": True}, made


def test_closing_the_stream_after_its_first_frame_stops_the_engine_in_its_replica(
        frames: tuple[Registry, Path]) -> None:
    registry, log = frames
    synthesizer = vb.Synthesizer(registry)

    async def run() -> float:
        await synthesizer.load("frames")
        log.unlink(missing_ok=True)
        stream = synthesizer.stream(REQUEST)
        await stream.__anext__()
        await stream.aclose()
        closed = time.perf_counter()
        deadline = time.monotonic() + 10
        while not log.is_file() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return time.perf_counter() - closed

    stopped_after = asyncio.run(run())
    assert log.is_file(), "the engine's generator in the replica was never closed"
    made = json.loads(log.read_text())
    # 20 ms a frame: a replica that went on would have finished within 0.2 s. How many frames it
    # made before the cancel reached it depends on the machine's load (Ray's hops share the CPUs).
    assert made["closed"] and not made["finished"] and made["made"] < 10, made
    assert stopped_after < 2.0, f"the engine stopped {stopped_after:.2f} s after the stream was closed"
