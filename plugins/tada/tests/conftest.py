"""Offline fixtures for the TADA plugin's tests.

The cache environment is set here, before anything imports huggingface_hub (it reads HF_HOME
at import). The tiny model (tiny_tada.py) is built once per session into that cache.
"""

from __future__ import annotations

import os
from pathlib import Path

from voicebox_core.testing import offline_hub

offline_hub("voicebox-tada-tests-", unset=("VOICEBOX_TADA_TOKENIZER_PATH",))
# The steered tiny head needs a noiseless ODE (see tiny_tada.py); a real model does not.
os.environ["VOICEBOX_TADA_INFERENCE_OPTIONS"] = '{"noise_temperature": 0.0, "num_flow_matching_steps": 4}'

import pytest  # noqa: E402

HUB = Path(os.environ["HF_HUB_CACHE"])


@pytest.fixture(scope="session")
def tiny_tada() -> Path:
    """The hub cache holding tiny HumeAI/tada-1b, tada-3b-ml, tada-codec and the tokenizer mirror."""
    from tiny_tada import build

    HUB.mkdir(parents=True, exist_ok=True)
    build(HUB)
    return HUB


@pytest.fixture(scope="session")
def backend(tiny_tada: Path):  # type: ignore[no-untyped-def]
    """One backend for the session's direct tests (loading is the slow part)."""
    from voicebox_engine_tada.backend import TadaBackend

    return TadaBackend()
