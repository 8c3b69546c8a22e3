"""Kokoro's voice packs: one file per voice in the model's repository, fetched on first use.

Every pack is resolved through :func:`voicebox_core.runtime.ensure_model` (the model's own
repository, local override and snapshot, so an offline cache or a model folder serves it) and
read here rather than by ``KPipeline.load_single_voice``, which calls ``torch.load`` without
``map_location``: a pack saved from CUDA would break a CPU-only machine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from voicebox_core import ModelNotDownloadedError
from voicebox_core.runtime import DownloadProgress, ensure_model

from voicebox_engine_kokoro.plugin import MODEL

if TYPE_CHECKING:
    import torch

__all__ = ["find_voice_pack", "load_voice_pack"]

_PACK_SHAPE = (510, 1, 256)


def find_voice_pack(directory: Path, voice_id: str,
                    progress: Callable[[DownloadProgress], None] | None = None) -> Path:
    """``voices/<voice_id>.pt`` beside the loaded model, else from its repository."""
    name = f"voices/{voice_id}.pt"
    path = directory / name
    if not path.is_file():
        try:
            # the model's config narrowed to one pack: same repo, override and snapshot
            path = ensure_model(dataclasses.replace(MODEL, files=(name,)), progress) / name
        except ModelNotDownloadedError as exc:
            raise ModelNotDownloadedError(
                f"voice {voice_id!r} ({name}, 0.5 MB) is fetched on first use and could not be: {exc}"
            ) from exc
    if not path.is_file():
        raise ModelNotDownloadedError(
            f"voice {voice_id!r}: {str(path.parent.parent)!r} has no {name}; "
            "add it there or unset the local model override to download it"
        )
    return path


def load_voice_pack(path: Path) -> torch.Tensor:
    """A voice pack as a CPU float32 ``[510, 1, 256]`` tensor, whatever device saved it."""
    import torch

    try:
        pack = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelNotDownloadedError(
            f"voice pack {str(path)!r} could not be read ({type(exc).__name__}); delete it and "
            "download it again"
        ) from exc
    if not isinstance(pack, torch.Tensor) or tuple(pack.shape) != _PACK_SHAPE:
        raise ModelNotDownloadedError(
            f"voice pack {str(path)!r} is not a {list(_PACK_SHAPE)} tensor; delete it and "
            "download it again"
        )
    return pack.float().contiguous()
