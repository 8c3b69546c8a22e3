"""Model bookkeeping every backend repeats: which model a size names, where its weights are,
and one model in memory at a time, loaded once under a lock and dropped with the device cache."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from voicebox_core.config import ModelConfig
from voicebox_core.errors import UnknownModelError
from voicebox_core.runtime.device import empty_device_cache
from voicebox_core.runtime.download import local_override

__all__ = ["ModelSlot", "model_path", "pick_model"]

M = TypeVar("M")


def pick_model(models: Sequence[ModelConfig], model_size: str | None, engine: str,
               default: str | None = None) -> ModelConfig:
    """The model of ``models`` whose ``model_size`` (or ``model_name``) is ``model_size``;
    ``None``, ``""`` and ``"default"`` mean ``default`` (a size), else the first model.
    Anything else raises :class:`~voicebox_core.errors.UnknownModelError` listing the models."""
    wanted = default if model_size in (None, "", "default") else model_size
    if wanted is None:
        return models[0]
    for model in models:
        if wanted in (model.model_size, model.model_name):
            return model
    raise UnknownModelError(f"{engine} {model_size}", [m.model_name for m in models])


def model_path(config: ModelConfig) -> str:
    """``_get_model_path``'s answer: the local override of the model's weights when one is set,
    else its Hugging Face repository id."""
    override = local_override(config)
    return str(override) if override is not None else str(config.hf_repo_id)


class ModelSlot(Generic[M]):
    """One model in memory at a time, with the config it was loaded for.

    :meth:`load` builds a model at most once, even when several threads ask at once, and drops
    the previous one before building another (never two in memory); :meth:`unload` drops it
    and empties the device cache. :attr:`lock` (an ``RLock``) is the one to hold around work
    on the model too, so that an unload never lands in the middle of a generation.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._config: ModelConfig | None = None
        self._model: M | None = None

    @property
    def config(self) -> ModelConfig | None:
        """The config of the model in memory, or None."""
        return self._config

    @property
    def model(self) -> M | None:
        """The model in memory, or None."""
        return self._model

    def is_loaded(self) -> bool:
        return self._model is not None

    def holds(self, config: ModelConfig) -> bool:
        """Whether the model of ``config`` is the one in memory."""
        return self._model is not None and self._config is config

    def load(self, config: ModelConfig, build: Callable[..., M], prepare: Callable[[], Any] | None = None) -> M:
        """The model of ``config``: the one in memory, or a new one (blocking; run it in a thread).

        ``prepare()``, when given, runs first with the old model still in memory (downloads,
        imports: a failure there leaves it loaded) and its result is ``build``'s one argument.
        Then the old model is dropped (its device memory freed) and ``build`` makes the new one;
        a failed build leaves the slot empty.
        """
        with self.lock:
            if self._model is not None and self._config is config:
                return self._model
            prepared = (prepare(),) if prepare is not None else ()
            self._release()
            model = build(*prepared)
            self._model, self._config = model, config
            return model

    async def ensure(self, config: ModelConfig, build: Callable[..., M],
                     prepare: Callable[[], Any] | None = None) -> M:
        """:meth:`load` from async code: no thread hop when the model is already in memory."""
        if self._model is not None and self._config is config:
            return self._model
        return await asyncio.to_thread(self.load, config, build, prepare)

    def unload(self) -> None:
        """Drop the model (after any work holding :attr:`lock`) and free its device memory."""
        with self.lock:
            self._release()

    def _release(self) -> None:
        if self._model is None:
            self._config = None
            return
        self._model = self._config = None
        gc.collect()
        empty_device_cache()
