"""The OmniVoice engine passes voicebox-core's conformance kit on the tiny checkpoint."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from voicebox_core.testing import ConformanceSuite


class TestOmniVoiceConformance(ConformanceSuite):
    engine = "omnivoice"
    model_libraries = ("transformers", "omnivoice", "torchaudio", "accelerate")

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, tiny_omnivoice: Path) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HF_HUB_OFFLINE", "1")
            yield
