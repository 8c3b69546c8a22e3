"""An upstream model's blocking generator, driven from async code one item per thread hop.

Every streaming backend has the same loop: start the upstream generator off the event loop,
take each item with ``asyncio.to_thread`` (so the first audio leaves while the rest is still
being made, and the loop never blocks), and close the generator in ``finally`` when the
listener is gone, so the model stops within an item. :func:`iterate_in_thread` is that loop.

Inside an in-process engine, ``asyncio.to_thread`` runs on the engine's own worker thread
(:mod:`voicebox_core.threads`), so every step of the generator, its start and its close run
on that one thread, one after the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from voicebox_core.errors import VoiceboxError

__all__ = ["iterate_in_thread"]

T = TypeVar("T")
_DONE: Any = object()


async def iterate_in_thread(
    make_generator: Callable[[], Iterator[T]],
    *,
    lock: contextlib.AbstractContextManager[Any] | None = None,
    on_error: Callable[[Exception], BaseException | None] | None = None,
    stop: threading.Event | None = None,
) -> AsyncIterator[T]:
    """Yield what ``make_generator()`` yields, taking each item in a worker thread.

    - ``make_generator`` is called in a worker thread (seeding and prompt work there happen off
      the loop); a generator *function*'s body then starts at the first step, also in a thread.
    - Each step is one ``asyncio.to_thread`` hop; ``lock`` (a ``threading.Lock``/``RLock``)
      is held around the start, each step and the close (without one, a lock of its own is),
      so a model that is not thread-safe is never driven from two threads at once, and a step
      still running when the caller is cancelled ends before the close.
    - The generator is closed in ``finally`` (its own ``finally`` blocks run) whether the
      iteration ends, fails, is closed by the caller or is cancelled; ``stop`` is set first,
      so an upstream that watches an event stops promptly even while a step is running.
    - An exception of a step other than a :class:`~voicebox_core.errors.VoiceboxError` is passed
      to ``on_error``; what it returns is raised from it (None: the exception is raised as is).
    """
    # Without a lock of the caller's, one of our own: a cancelled step may still be running
    # when the close starts, and a generator cannot be closed while it executes.
    guard: contextlib.AbstractContextManager[Any] = lock if lock is not None else threading.Lock()
    generator: Iterator[T] | None = None

    def start() -> Iterator[T]:
        with guard:
            return make_generator()

    def step() -> T:
        assert generator is not None
        with guard:
            try:
                return next(generator)
            except StopIteration:
                return _DONE  # type: ignore[no-any-return]
            except VoiceboxError:
                raise
            except Exception as exc:
                replacement = on_error(exc) if on_error is not None else None
                if replacement is None:
                    raise
                raise replacement from exc

    def close() -> None:
        closing = getattr(generator, "close", None)
        if closing is not None:
            with guard:
                closing()

    try:
        generator = await asyncio.to_thread(start)
        while (item := await asyncio.to_thread(step)) is not _DONE:
            yield item
    finally:
        if stop is not None:
            stop.set()
        if generator is not None:
            await asyncio.to_thread(close)
