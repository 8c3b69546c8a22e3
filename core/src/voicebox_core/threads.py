"""One long-lived thread per in-process engine, where all of that engine's work runs.

Backends hand their blocking work to ``asyncio.to_thread``. In a server, that is the event
loop's default executor: a pool that grows to several threads, and glibc gives each thread its
own malloc arena and keeps what it frees, so a server that ran a few hundred generations holds
several times the memory its engines need. Here each engine gets one thread with an event loop
of its own, whose default executor is a single worker thread: the engine's coroutines run on
that loop and everything they send to ``asyncio.to_thread`` runs on that one worker, so the
same thread (and arena) serves every request, and an engine is never driven from two threads
at once. Callers await as before; cancellation and context variables (download progress)
cross over.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["EngineThread", "ThreadedBackend"]

T = TypeVar("T")


class EngineThread:
    """A daemon thread running an event loop whose default executor has one worker."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"voicebox-{name}-work"))
        self.thread = threading.Thread(target=self._run, name=f"voicebox-{name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """``coroutine`` on this thread's loop, awaited from the caller's (cancelling either side
        cancels the other)."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


class ThreadedBackend:
    """A TTSBackend whose every coroutine runs on its engine's own thread."""

    def __init__(self, backend: Any, thread: EngineThread) -> None:
        self.__dict__["_backend"] = backend
        self.__dict__["_thread"] = thread

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    @property
    def wrapped(self) -> Any:
        return self._backend

    async def load_model(self, model_size: str = "default") -> None:
        await self._thread.run(self._backend.load_model(model_size))

    async def create_voice_prompt(self, audio_path: str, reference_text: str,
                                  use_cache: bool = True) -> tuple[dict[str, Any], bool]:
        result: tuple[dict[str, Any], bool] = await self._thread.run(
            self._backend.create_voice_prompt(audio_path, reference_text, use_cache))
        return result

    async def combine_voice_prompts(self, audio_paths: list[str], ref_texts: list[str]) -> tuple[Any, str]:
        result: tuple[Any, str] = await self._thread.run(self._backend.combine_voice_prompts(audio_paths, ref_texts))
        return result

    async def generate(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                       seed: int | None = None, instruct: str | None = None) -> tuple[Any, int]:
        result: tuple[Any, int] = await self._thread.run(
            self._backend.generate(text, voice_prompt, language, seed, instruct))
        return result

    def generate_stream(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                        seed: int | None = None, instruct: str | None = None) -> AsyncIterator[Any]:
        """The engine's chunks, each step of its iterator taken on the engine's thread."""
        return self._steps(self._backend.generate_stream(text, voice_prompt, language, seed, instruct))

    def generate_timed(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                       seed: int | None = None, instruct: str | None = None) -> AsyncIterator[Any]:
        """The engine's timed chunks, each step of its iterator taken on the engine's thread."""
        return self._steps(self._backend.generate_timed(text, voice_prompt, language, seed, instruct))

    async def _steps(self, chunks: Any) -> AsyncIterator[Any]:
        try:
            while True:
                try:
                    chunk = await self._thread.run(_awaited(chunks.__anext__()))
                except StopAsyncIteration:
                    return
                yield chunk
        finally:
            closing = getattr(chunks, "aclose", None)
            if closing is not None:
                await self._thread.run(_awaited(closing()))

    def unload_model(self) -> None:
        self._backend.unload_model()

    def is_loaded(self) -> bool:
        return bool(self._backend.is_loaded())

    def _get_model_path(self, model_size: str) -> str:
        return str(self._backend._get_model_path(model_size))
