"""Offline fixtures for the OmniVoice plugin's tests.

The cache environment is set here, before anything imports huggingface_hub (it reads HF_HOME
at import). The tiny model (tiny_omnivoice.py) is built once per session into that cache.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_ROOT = Path(tempfile.mkdtemp(prefix="voicebox-omnivoice-tests-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
os.environ["HF_HOME"] = str(_ROOT / "hf_home")
os.environ["HF_HUB_CACHE"] = str(_ROOT / "hf_home" / "hub")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["VOICEBOX_DATA_DIR"] = str(_ROOT / "voicebox")
for _var in [v for v in os.environ if v.startswith("VOICEBOX_MODEL_PATH_")] + ["VOICEBOX_MODELS_DIR", "VOICEBOX_DEVICE"]:
    os.environ.pop(_var, None)

import pytest  # noqa: E402
from tiny_hub import ENV  # noqa: E402

os.environ.update(ENV)
HUB = Path(os.environ["HF_HUB_CACHE"])


@pytest.fixture(scope="session")
def tiny_omnivoice() -> Path:
    """The hub cache holding tiny k2-fsa/OmniVoice."""
    from tiny_hub import build

    build(HUB)
    return HUB


@pytest.fixture(scope="session")
def backend(tiny_omnivoice: Path):  # type: ignore[no-untyped-def]
    from voicebox_engine_omnivoice.backend import OmniVoiceBackend

    return OmniVoiceBackend()
