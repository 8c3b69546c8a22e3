"""pytest plugin of the conformance kit (registered through the ``pytest11`` entry point)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicebox_core.testing.clips import REFERENCE_TEXT, write_reference_clip


@pytest.fixture(scope="session")
def voicebox_reference_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A 3 s voiced 24 kHz WAV and its transcript, for cloning engines."""
    path = write_reference_clip(tmp_path_factory.mktemp("voicebox-ref") / "reference.wav")
    return path, REFERENCE_TEXT
