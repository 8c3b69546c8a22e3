"""A load stream that Ray loses is asked for again, and a slow load is not mistaken for one.

Ray once delivered nothing of a replica's load stream to the server (the replica had loaded in
half a second; the server waited out VOICEBOX_WORKER_TIMEOUT). That loss cannot be provoked on
demand, so the stream here comes from a stand-in for the deployment handle: the same calls
RayBackend makes, and the events a replica sends (``EngineReplica.load`` itself is driven for
its heartbeat).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from voicebox_core.errors import EngineWorkerError
from voicebox_core.ray_serve import backend as ray_backend
from voicebox_core.ray_serve import replica as ray_replica
from voicebox_core.ray_serve.backend import RayBackend
from voicebox_core.ray_serve.config import DeploymentConfig
from voicebox_core.runtime.download import DownloadProgress, download_progress


class _Stream:
    def __init__(self, events: list[dict[str, Any]], then_hang: bool, gap: float = 0.01) -> None:
        self.events, self.then_hang, self.gap, self.cancelled = events, then_hang, gap, False

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        for event in self.events:
            await asyncio.sleep(self.gap)
            yield event
        if self.then_hang:
            await asyncio.Event().wait()

    def cancel(self) -> None:
        self.cancelled = True


class _Handle:
    """``handle.options(stream=True).load.remote(size)``, answering with the streams given."""

    def __init__(self, *streams: _Stream) -> None:
        self.streams, self.calls = list(streams), 0
        self.load = self

    def options(self, **_: Any) -> _Handle:
        return self

    def remote(self, model_size: str) -> _Stream:
        self.calls += 1
        return self.streams.pop(0)


ANSWER = {"result": None, "replica": "r1", "pid": 1, "served": 1, "cancelled": 0}


def _load(handle: _Handle) -> list[DownloadProgress]:
    seen: list[DownloadProgress] = []

    async def run() -> None:
        with download_progress(seen.append):
            await RayBackend("e", handle, DeploymentConfig(), "app-e").load_model("default")

    asyncio.run(run())
    return seen


def test_a_silent_load_stream_is_asked_for_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray_backend, "LOAD_SILENCE_S", 0.3)
    lost, answered = _Stream([], then_hang=True), _Stream([ANSWER], then_hang=False)
    handle = _Handle(lost, answered)
    _load(handle)
    assert handle.calls == 2 and lost.cancelled


def test_heartbeats_and_progress_keep_a_slow_load_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray_backend, "LOAD_SILENCE_S", 0.3)
    progress = {"progress": {"model_name": "m", "filename": "f", "downloaded": 5, "total": 10}}
    events = [{"alive": True}] * 3 + [progress] + [{"alive": True}] * 3 + [ANSWER]
    handle = _Handle(_Stream(events, then_hang=False, gap=0.2))  # 1.6 s in all, no gap over 0.3 s
    seen = _load(handle)
    assert handle.calls == 1 and [p.downloaded for p in seen] == [5]


def test_a_load_lost_twice_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray_backend, "LOAD_SILENCE_S", 0.2)
    monkeypatch.setenv("VOICEBOX_WORKER_TIMEOUT", "0.4")
    handle = _Handle(_Stream([], then_hang=True), _Stream([], then_hang=True))
    with pytest.raises(EngineWorkerError, match="did not finish loading within VOICEBOX_WORKER_TIMEOUT"):
        _load(handle)
    assert handle.calls == 2


def test_a_replica_load_says_it_is_alive_while_it_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray_replica, "LOAD_HEARTBEAT_S", 0.05)
    replica = ray_replica.EngineReplica.__new__(ray_replica.EngineReplica)
    replica.served = 0

    async def slow_ensure(model_size: str) -> None:
        await asyncio.sleep(0.3)

    replica._ensure = slow_ensure  # type: ignore[method-assign]
    replica._identity = lambda: {"replica": "r1"}  # type: ignore[method-assign]

    async def run() -> list[dict[str, Any]]:
        return [event async for event in replica.load("default")]

    events = asyncio.run(run())
    assert events[-1] == {"result": None, "replica": "r1"}
    assert len([e for e in events if e == {"alive": True}]) >= 3
