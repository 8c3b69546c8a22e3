"""The one piece of descript-audio-codec that hume-tada uses: the Snake activation.

hume-tada imports ``Snake1d`` from ``dac.nn.layers`` (encoder) and ``dac.model.dac``
(decoder). The real package drags descript-audiotools and its tree (tensorboard, librosa,
matplotlib, protobuf<3.20...) and compiles ``snake`` with ``@torch.jit.script``, which needs
the ``.py`` source and so fails in a frozen app. This module provides the same module
(parameter ``alpha`` of shape ``(1, channels, 1)``, so checkpoints load unchanged) in plain
PyTorch, and :func:`dac_modules` exposes it under the ``dac.*`` names only while hume-tada
is being imported.

Snake (Liu Ziyin et al., 2020): ``snake(x) = x + sin²(αx) / α``, with α learned per channel.
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["SHIM_MODULES", "Snake1d", "dac_modules", "snake"]

#: The module names hume-tada 0.1.9 imports Snake1d from, plus their parents.
SHIM_MODULES = ("dac", "dac.nn", "dac.nn.layers", "dac.model", "dac.model.dac")

# Keeps 1/α finite where a channel's α was trained to (or initialised at) zero.
_EPSILON = 1e-9


def snake(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``x + sin²(αx)/α`` for ``x`` of shape (batch, channels, time) and α of (1, channels, 1)."""
    return x + (alpha + _EPSILON).reciprocal() * torch.sin(alpha * x).square()


class Snake1d(nn.Module):
    """Per-channel Snake activation over (batch, channels, time) tensors."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            return snake(x, self.alpha)
        # Any trailing layout: fold everything after the channel axis into one time axis.
        folded = x.reshape(x.shape[0], x.shape[1], -1)
        return snake(folded, self.alpha).reshape(x.shape)


def _shim_modules() -> dict[str, types.ModuleType]:
    modules = {name: types.ModuleType(name, "voicebox-engine-tada stand-in for descript-audio-codec")
               for name in SHIM_MODULES}
    for name in ("dac.nn.layers", "dac.model.dac"):
        modules[name].Snake1d = Snake1d  # type: ignore[attr-defined]
        modules[name].snake = snake  # type: ignore[attr-defined]
    for name in ("dac", "dac.nn", "dac.model"):
        modules[name].__path__ = []  # packages, so submodule imports resolve through sys.modules
    for name in SHIM_MODULES:
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(modules[parent], child, modules[name])
    return modules


@contextlib.contextmanager
def dac_modules() -> Iterator[bool]:
    """Within the block, ``import dac.nn.layers`` / ``dac.model.dac`` give this shim.

    Yields True when the shim was installed. A real ``dac`` already imported by someone else
    is left alone (and used). On exit the shim's names are removed again, so another engine
    in the process that imports the real descript-audio-codec later still gets it; hume-tada
    keeps its reference to :class:`Snake1d` from its own import.
    """
    if "dac" in sys.modules:
        yield False
        return
    modules = _shim_modules()
    sys.modules.update(modules)
    try:
        yield True
    finally:
        for name, module in modules.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
