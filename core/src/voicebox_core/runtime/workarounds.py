"""The seed's Phase 6 upstream workarounds, as opt-in helpers. None is applied on import."""

from __future__ import annotations

import contextlib
import functools
import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["float32_inputs", "float32_outputs", "redirect_config_repo", "torch_load_on_cpu"]

_torch_load_lock = threading.Lock()


@contextlib.contextmanager
def torch_load_on_cpu() -> Iterator[None]:
    """Within the block, ``torch.load`` defaults to ``map_location="cpu"``.

    For upstream code that loads CUDA-saved checkpoints without ``map_location``. Held under
    a lock so two engines loading at once do not restore each other's patch.
    """
    torch = importlib.import_module("torch")  # by name: freezing must not follow it
    with _torch_load_lock:
        original = torch.load

        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("map_location", "cpu")
            return original(*args, **kwargs)

        torch.load = patched
        try:
            yield
        finally:
            torch.load = original


def float32_outputs(owner: type, method: str) -> None:
    """Wrap ``owner.method`` so tensor/array results come back as float32 (float64 leaks)."""
    original: Callable[..., Any] = getattr(owner, method)
    if getattr(original, "__voicebox_float32__", False):
        return

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _as_float32(original(*args, **kwargs))

    wrapper.__voicebox_float32__ = True  # type: ignore[attr-defined]
    setattr(owner, method, wrapper)


def _as_float32(value: Any) -> Any:
    if hasattr(value, "dtype") and "float64" in str(value.dtype):
        return value.float() if hasattr(value, "float") else value.astype("float32")
    return value


def float32_inputs(owner: Any, method: str) -> None:
    """Wrap ``owner.method`` (a class or an instance) so float64 tensor/array arguments
    arrive as float32: for upstream code that fails *inside* on float64 input (librosa
    returns float64; LSTMs and convolutions then refuse it)."""
    original: Callable[..., Any] = getattr(owner, method)
    if getattr(original, "__voicebox_float32_inputs__", False):
        return

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        args = tuple(_as_float32(a) for a in args)
        kwargs = {k: _as_float32(v) for k, v in kwargs.items()}
        return original(*args, **kwargs)

    wrapper.__voicebox_float32_inputs__ = True  # type: ignore[attr-defined]
    setattr(owner, method, wrapper)


def redirect_config_repo(config: Any, attribute: str, local_path: str, *, create: bool = False) -> Any:
    """Point a config's hard-coded (often gated) repo field at a local path.

    Patch the config object, never ``AutoTokenizer.from_pretrained``: replacing that
    classmethod breaks every other engine in the process. ``create=True`` sets a field the
    config reads with a default but does not have yet.
    """
    if not create and not hasattr(config, attribute):
        raise AttributeError(f"{type(config).__name__} has no field {attribute!r} to redirect")
    setattr(config, attribute, local_path)
    return config
