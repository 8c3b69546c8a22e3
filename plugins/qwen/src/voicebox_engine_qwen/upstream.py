"""qwen-tts 0.1.1 as the backends use it: whether it imports, and its loader placed on a device.

Upstream has no device logic of its own: the caller passes ``dtype`` and ``device_map``.
:func:`load_qwen` picks them from :func:`~voicebox_core.runtime.choose_device` among
``ModelConfig.devices``:

- CPU loads float32 with no ``device_map``, so ``accelerate`` is not needed;
- CUDA loads bfloat16, through ``device_map`` when ``accelerate`` is installed (upstream's
  recipe), else on the CPU and then moved, speech tokenizer included.

A checkpoint transformers cannot read becomes a typed
:class:`~voicebox_core.ModelNotDownloadedError` that says how to fetch it again.

Kept apart from ``backend.py`` so that the backend reads as the TTSBackend flow and this
module as what it takes to get a ``Qwen3TTSModel`` out of a local directory.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from voicebox_core import ModelConfig, ModelNotDownloadedError
from voicebox_core.runtime import choose_device, upstream_import_error

__all__ = ["INSTALL", "check_install", "load_qwen"]

INSTALL = "pip install --no-deps qwen-tts==0.1.1"


def check_install() -> None:
    """The deep doctor's check: qwen_tts imports the classes the backends use."""
    try:
        from qwen_tts import Qwen3TTSModel, VoiceClonePromptItem  # noqa: F401
    except (ImportError, OSError) as exc:
        raise upstream_import_error(exc, "qwen-tts", INSTALL) from exc


def load_qwen(directory: Path, config: ModelConfig) -> tuple[Any, str]:
    """Upstream's loader on a local directory, with the dtype and placement of the device."""
    import torch
    from qwen_tts import Qwen3TTSModel

    device = choose_device(config.devices)
    try:
        if device == "cpu":
            return Qwen3TTSModel.from_pretrained(str(directory), dtype=torch.float32), device
        if importlib.util.find_spec("accelerate") is not None:
            model = Qwen3TTSModel.from_pretrained(str(directory), dtype=torch.bfloat16,
                                                  device_map=device)
            return model, device
        # transformers refuses device_map without accelerate: load, then move both modules
        # (the speech tokenizer is not a submodule) and the wrappers' recorded devices.
        model = Qwen3TTSModel.from_pretrained(str(directory), dtype=torch.bfloat16)
        target = torch.device(device)
        model.model.to(target)
        model.model.speech_tokenizer.model.to(target)
        model.device = model.model.speech_tokenizer.device = target
        return model, device
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelNotDownloadedError(
            f"the Qwen3-TTS files in {str(directory)!r} could not be loaded "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); delete "
            f"the model and run `voicebox models download {config.model_name}` again"
        ) from exc
