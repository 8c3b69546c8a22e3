"""Download progress per model, fanned out to Server-Sent-Event listeners."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from voicebox_core.runtime.download import DownloadProgress

__all__ = ["ProgressManager"]


class ProgressManager:
    """Thread-safe: download threads publish, the event loop's SSE listeners read."""

    def __init__(self) -> None:
        self._state: dict[str, dict[str, Any]] = {}
        self._listeners: dict[str, list[asyncio.Queue[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def state(self, model_name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._state.get(model_name)

    def downloading(self, model_name: str) -> bool:
        state = self.state(model_name)
        return state is not None and state["status"] == "downloading"

    def publish(self, model_name: str, status: str, current: int = 0, total: int = 0,
                filename: str = "", error: str | None = None) -> None:
        event = {"model_name": model_name, "current": current, "total": total,
                 "progress": round(100 * current / total, 2) if total else (100.0 if status == "complete" else 0.0),
                 "filename": filename, "status": status, "timestamp": time.time()}
        if error:
            event["error"] = error
        with self._lock:
            self._state[model_name] = event
            queues = list(self._listeners.get(model_name, ()))
        if self._loop is not None:
            for queue in queues:
                self._loop.call_soon_threadsafe(queue.put_nowait, event)

    def callback(self, model_name: str):  # type: ignore[no-untyped-def]
        def report(p: DownloadProgress) -> None:
            self.publish(model_name, "downloading", p.downloaded, p.total, p.filename)

        return report

    async def events(self, model_name: str) -> AsyncIterator[str]:
        """SSE lines: the current state first, then every update until complete or error."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        with self._lock:
            self._listeners.setdefault(model_name, []).append(queue)
            current = self._state.get(model_name)
        try:
            if current is not None:
                yield f"data: {json.dumps(current)}\n\n"
                if current["status"] in ("complete", "error"):
                    return
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"data: {json.dumps(event)}\n\n"
                if event["status"] in ("complete", "error"):
                    return
        finally:
            with self._lock:
                self._listeners[model_name].remove(queue)
