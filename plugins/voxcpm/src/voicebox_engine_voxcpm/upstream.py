"""voxcpm 2.0.3 as the backend uses it: its classes, imported lazily, and one import-time gap.

- :func:`import_voxcpm` imports the pipeline and both model generations only when a model is
  loaded (or the deep doctor runs :func:`check_install`), never at metadata import.
- voxcpm's 0.5B/1.5 code (``voxcpm.model.voxcpm``) reads prompt clips with
  ``torchaudio.load``, which since torchaudio 2.9 needs torchcodec (not installed, and not
  buildable beside a CPU torch here). :func:`soundfile_torchaudio` swaps the ``torchaudio``
  name inside that module for one whose ``load`` reads with soundfile (float32), for one block
  only; torchaudio itself is not patched.

Kept apart from ``backend.py`` so that the backend reads as the TTSBackend flow and this
module as what voxcpm needs around it.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
from voicebox_core.runtime import upstream_import_error

__all__ = ["check_install", "import_voxcpm", "soundfile_torchaudio"]


def import_voxcpm() -> SimpleNamespace:
    """voxcpm's pipeline and model classes (never imported at metadata import)."""
    core = importlib.import_module("voxcpm.core")
    v1 = importlib.import_module("voxcpm.model.voxcpm")
    v2 = importlib.import_module("voxcpm.model.voxcpm2")
    return SimpleNamespace(VoxCPM=core.VoxCPM, VoxCPMModel=v1.VoxCPMModel, VoxCPM2Model=v2.VoxCPM2Model,
                           v1_module=v1)


def check_install() -> None:
    """The deep doctor's check: voxcpm imports (torchaudio too: its 0.5B/1.5 code needs it)."""
    try:
        import_voxcpm()
    except (ImportError, OSError) as exc:
        raise upstream_import_error(exc, "voxcpm", "pip install --no-deps voxcpm==2.0.3") from exc


@contextlib.contextmanager
def soundfile_torchaudio(module: Any) -> Iterator[None]:
    """``torchaudio.load`` inside ``module`` reads with soundfile for the block's duration."""
    real = module.torchaudio

    def load(path: Any, *args: Any, **kwargs: Any) -> tuple[Any, int]:
        import soundfile as sf
        import torch

        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        return torch.from_numpy(np.ascontiguousarray(data.T)), int(rate)

    module.torchaudio = SimpleNamespace(load=load, functional=real.functional)
    try:
        yield
    finally:
        module.torchaudio = real
