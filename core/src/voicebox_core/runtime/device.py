"""Device choice and seeding. torch is imported only when these are called."""

from __future__ import annotations

import importlib
import importlib.util
import os
import platform
import random
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = ["accelerator", "choose_device", "empty_device_cache", "seed_everything"]


def choose_device(allowed: Iterable[str] = ("cpu", "cuda", "mps")) -> str:
    """CUDA, then MPS, then CPU, among the devices the model allows.

    ``VOICEBOX_DEVICE`` (``cpu``, ``cuda``, ``mps``) forces one when it is allowed and present.
    Engines that break on MPS leave ``"mps"`` out of ``ModelConfig.devices``.
    """
    # Imported by name so that freezing an engine without torch does not bundle torch.
    torch = importlib.import_module("torch")
    allowed = tuple(allowed)
    available = {"cpu": True, "cuda": torch.cuda.is_available()}
    mps = getattr(torch.backends, "mps", None)
    available["mps"] = bool(mps and mps.is_available())
    forced = os.environ.get("VOICEBOX_DEVICE", "").strip().lower()
    if forced:
        if forced in allowed and available.get(forced):
            return forced
        print(f"voicebox: VOICEBOX_DEVICE={forced} is not usable here; choosing automatically",
              file=sys.stderr)
    for device in ("cuda", "mps", "cpu"):
        if device in allowed and available[device]:
            return device
    return "cpu"


def accelerator() -> tuple[bool, str | None]:
    """Whether a GPU is usable and what it is, e.g. ``(True, "CUDA (NVIDIA H200)")``.

    Exact once torch is imported (an engine is loaded); before that, a cheap guess that never
    imports torch: Apple Silicon, or an NVIDIA driver with a CUDA build of torch installed.
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                kind = "ROCm" if getattr(torch.version, "hip", None) else "CUDA"
                return True, f"{kind} ({torch.cuda.get_device_name(0)})"
            mps = getattr(torch.backends, "mps", None)
            if mps is not None and mps.is_available():
                return True, "MPS (Apple Silicon)"
        except Exception:  # noqa: BLE001 - a broken driver means no GPU, not a failed health check
            return False, None
        return False, None
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return True, "MPS (Apple Silicon)"
    gpus = Path("/proc/driver/nvidia/gpus")
    if gpus.is_dir() and any(gpus.iterdir()) and importlib.util.find_spec("nvidia") is not None:
        return True, "CUDA"  # a driver, and torch's CUDA wheels (they ship the nvidia.* packages)
    return False, None


def empty_device_cache() -> None:
    """Release cached accelerator memory, if torch was ever imported."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def seed_everything(seed: int | None) -> None:
    """Seed Python, numpy and (if imported) torch; ``None`` leaves them alone."""
    if seed is None:
        return
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
