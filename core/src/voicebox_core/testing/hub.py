"""A private, offline Hugging Face cache for one test process.

Libraries read ``HF_HOME`` once, when ``huggingface_hub`` is imported, so a plugin's test
session must point it somewhere private before anything imports it: the top of
``conftest.py``. :func:`offline_hub` does that in one call, the same way for every plugin.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["offline_hub"]

#: Where a developer's own models or choices would leak into a test run.
_LEAKS = ("VOICEBOX_MODELS_DIR", "VOICEBOX_DEVICE")


def offline_hub(prefix: str = "voicebox-tests-", *, unset: Iterable[str] = (),
                keep_data_dir: bool = False) -> Path:
    """Make a temporary root (removed when the process exits) and set the environment up in it.

    - ``HF_HOME`` is ``<root>/hf_home`` and ``HF_HUB_CACHE`` its ``hub``: write tiny snapshots
      there with :func:`~voicebox_core.testing.write_tiny_snapshot`;
    - every hub download is off: ``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``,
      ``HF_HUB_DISABLE_TELEMETRY``;
    - ``VOICEBOX_DATA_DIR`` is a fresh ``<root>/voicebox``, so no prompt cache or setting of an
      earlier run fakes a result (``keep_data_dir`` keeps one already set, such as tox's);
    - ``VOICEBOX_MODEL_PATH_*``, ``VOICEBOX_MODELS_DIR``, ``VOICEBOX_DEVICE`` and ``unset``
      are removed.

    Returns the root, for anything else the session builds.
    """
    root = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    os.environ.update({
        "HF_HOME": str(root / "hf_home"),
        "HF_HUB_CACHE": str(root / "hf_home" / "hub"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    })
    if not (keep_data_dir and os.environ.get("VOICEBOX_DATA_DIR")):
        os.environ["VOICEBOX_DATA_DIR"] = str(root / "voicebox")
    model_paths = [name for name in os.environ if name.startswith("VOICEBOX_MODEL_PATH_")]
    for name in [*model_paths, *_LEAKS, *unset]:
        os.environ.pop(name, None)
    return root
