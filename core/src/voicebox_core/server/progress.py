"""Download progress per model, fanned out to Server-Sent-Event listeners.

Events have Voicebox's shape (``model_name``, ``current``, ``total``, ``progress``,
``filename``, ``status``, ISO ``timestamp``, ``error``). A listener that subscribes while a
download runs gets its current state, then every update until ``complete`` or ``error``.
A finished download's last event is replayed only while it is fresh (``FRESH_SECONDS``), so a
client that subscribes for a new download never mistakes an old result for it. A model that
is not downloading gets ``GRACE_SECONDS`` (1 s) for one to start (clients often subscribe just
before asking for the download), then one ``idle`` event, and the stream ends.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from voicebox_core.errors import GenerationCancelledError
from voicebox_core.runtime.download import DownloadProgress

__all__ = ["DownloadCancelledError", "ProgressManager"]

ACTIVE = ("downloading", "extracting")
TERMINAL = ("complete", "error")


class DownloadCancelledError(GenerationCancelledError):
    """``POST /models/download/cancel`` stopped the download."""


class ProgressManager:
    """Thread-safe: download threads publish, the event loop's SSE listeners read."""

    FRESH_SECONDS = 10.0
    GRACE_SECONDS = 1.0
    KEEPALIVE_SECONDS = 15.0

    def __init__(self) -> None:
        self._state: dict[str, dict[str, Any]] = {}
        self._when: dict[str, float] = {}
        self._started: dict[str, str] = {}
        self._cancelled: set[str] = set()
        self._listeners: dict[str, list[asyncio.Queue[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def state(self, model_name: str) -> dict[str, Any] | None:
        with self._lock:
            current = self._state.get(model_name)
            return dict(current) if current else None

    def downloading(self, model_name: str) -> bool:
        state = self.state(model_name)
        return state is not None and state["status"] in ACTIVE

    def active(self) -> list[dict[str, Any]]:
        """Every download in progress, with when it started (``/tasks/active``)."""
        with self._lock:
            return [{**event, "started_at": self._started.get(name, event["timestamp"])}
                    for name, event in self._state.items() if event["status"] in ACTIVE]

    def clear_finished(self) -> int:
        """Forget every finished or failed download; running ones stay. Returns how many."""
        with self._lock:
            done = [name for name, event in self._state.items() if event["status"] not in ACTIVE]
            for name in done:
                del self._state[name]
                self._when.pop(name, None)
                self._started.pop(name, None)
            return len(done)

    def publish(self, model_name: str, status: str, current: int = 0, total: int = 0,
                filename: str = "", error: str | None = None) -> None:
        if total:
            percent = round(min(100.0, 100 * current / total), 2)
        else:
            percent = 100.0 if status == "complete" else 0.0
        event: dict[str, Any] = {
            "model_name": model_name, "current": current, "total": total, "progress": percent,
            "filename": filename, "status": status, "timestamp": datetime.now(UTC).isoformat(),
        }
        if error:
            event["error"] = error
        with self._lock:
            previous = self._state.get(model_name)
            if status in ACTIVE and (previous is None or previous["status"] not in ACTIVE):
                self._started[model_name] = event["timestamp"]
                self._cancelled.discard(model_name)
            self._state[model_name] = event
            self._when[model_name] = time.monotonic()
            queues = list(self._listeners.get(model_name, ()))
        if self._loop is not None and not self._loop.is_closed():
            for queue in queues:
                self._loop.call_soon_threadsafe(queue.put_nowait, event)

    def cancel(self, model_name: str) -> bool:
        """Stop a running download at its next chunk, or dismiss a finished one's state.
        True if there was anything to cancel or dismiss."""
        with self._lock:
            current = self._state.get(model_name)
            if current is None:
                return False
            if current["status"] in ACTIVE:
                self._cancelled.add(model_name)
                return True
            del self._state[model_name]
            return True

    def callback(self, model_name: str) -> Callable[[DownloadProgress], None]:
        def report(p: DownloadProgress) -> None:
            with self._lock:
                cancelled = model_name in self._cancelled
            if cancelled:
                raise DownloadCancelledError(f"the download of {model_name!r} was cancelled")
            self.publish(model_name, "downloading", p.downloaded, p.total, p.filename)

        return report

    def _fresh(self, model_name: str) -> bool:
        return time.monotonic() - self._when.get(model_name, 0.0) < self.FRESH_SECONDS

    async def events(self, model_name: str, idle: Callable[[], dict[str, Any]]) -> AsyncIterator[str]:
        """SSE lines for one model; ``idle()`` describes a model that is not downloading."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        with self._lock:
            self._listeners.setdefault(model_name, []).append(queue)
            current = self._state.get(model_name)
            replay = current is not None and (current["status"] in ACTIVE or self._fresh(model_name))
        try:
            if replay and current is not None:
                yield f"data: {json.dumps(current)}\n\n"
                if current["status"] in TERMINAL:
                    return
            waiting_for_start = not replay
            deadline = time.monotonic() + self.GRACE_SECONDS
            while True:
                timeout = (max(0.0, deadline - time.monotonic()) if waiting_for_start
                           else self.KEEPALIVE_SECONDS)
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=timeout)
                except TimeoutError:
                    if waiting_for_start:
                        yield "retry: 3000\n"
                        yield f"data: {json.dumps(idle())}\n\n"
                        return
                    yield ": keep-alive\n\n"
                    continue
                waiting_for_start = False
                yield f"data: {json.dumps(event)}\n\n"
                if event["status"] in TERMINAL:
                    return
        finally:
            with self._lock:
                listeners = self._listeners.get(model_name, [])
                if queue in listeners:
                    listeners.remove(queue)
                if not listeners:
                    self._listeners.pop(model_name, None)
