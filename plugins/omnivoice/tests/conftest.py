"""Offline fixtures for the OmniVoice plugin's tests.

The cache environment is set here, before anything imports huggingface_hub (it reads HF_HOME
at import). The tiny model (tiny_omnivoice.py) is built once per session into that cache.
"""

from __future__ import annotations

import os
from pathlib import Path

from voicebox_core.testing import offline_hub

offline_hub("voicebox-omnivoice-tests-")

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
