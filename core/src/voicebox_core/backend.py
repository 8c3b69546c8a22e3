"""The TTSBackend protocol: the seed's method signatures, unchanged.

An existing Voicebox backend moves into a plugin with its method bodies as they are. An
engine whose model yields audio while it decodes also implements :class:`StreamingBackend`
(one more method) and says so with ``Capabilities(streaming=True)``; one whose model aligns
its output with the text implements :class:`TimedBackend` and says
``Capabilities(word_timestamps=True)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # the annotations only: discovery must not import numpy
    import numpy as np

    from voicebox_core.timing import TimedChunk

__all__ = ["StreamingBackend", "TTSBackend", "TimedBackend"]


@runtime_checkable
class TTSBackend(Protocol):
    """What the core calls on an engine. All blocking work belongs in ``asyncio.to_thread``."""

    async def load_model(self, model_size: str = "default") -> None:
        """Load (downloading if needed and allowed) the model of this size; idempotent."""

    async def create_voice_prompt(
        self, audio_path: str, reference_text: str, use_cache: bool = True
    ) -> tuple[dict[str, Any], bool]:
        """Turn a reference clip into the engine's voice prompt; return it and whether it was cached."""

    async def combine_voice_prompts(
        self, audio_paths: list[str], ref_texts: list[str]
    ) -> tuple[np.ndarray, str]:
        """Merge several reference clips into one clip (mono float32) and one transcript."""

    async def generate(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> tuple[np.ndarray, int]:
        """Speak ``text``; return mono float32 audio in [-1, 1] and its sample rate."""

    def unload_model(self) -> None:
        """Free the model and any device memory it holds."""

    def is_loaded(self) -> bool:
        """Whether a model is in memory now."""

    def _get_model_path(self, model_size: str) -> str:
        """The Hugging Face repo id (or local directory) of the model of this size."""


@runtime_checkable
class StreamingBackend(TTSBackend, Protocol):
    """A backend that yields audio as its model makes it (``Capabilities(streaming=True)``)."""

    def generate_stream(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> AsyncIterator[np.ndarray]:
        """Speak ``text`` as an async iterator of mono float32 chunks in [-1, 1] at the model's
        sample rate, each yielded as soon as the model has it (frames, segments, sentences).

        Same arguments as ``generate``; the chunks joined are the utterance. The core may stop
        iterating (``aclose``) between chunks when the listener is gone: release the model's
        work there (a ``finally`` that closes the upstream generator). Blocking work belongs in
        ``asyncio.to_thread``, one chunk at a time, so the event loop stays free in between.
        """
        ...


@runtime_checkable
class TimedBackend(TTSBackend, Protocol):
    """A backend whose model says when each word is spoken (``Capabilities(word_timestamps=True)``)."""

    def generate_timed(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> AsyncIterator[TimedChunk]:
        """Speak ``text`` as an async iterator of :class:`~voicebox_core.timing.TimedChunk`:
        audio as in ``generate_stream`` (or one chunk for the whole text), each with the words
        it speaks and their start/end in seconds from the start of *that chunk's* audio.

        The times come from the model's own alignment (predicted durations, attention);
        a chunk without one has ``words=None``, never times estimated from the text. A word is
        written as in ``text`` (punctuation attached), in order. Same closing rules as
        ``generate_stream``.
        """
        ...
