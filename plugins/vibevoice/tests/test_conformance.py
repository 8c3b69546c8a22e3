"""The VibeVoice engine passes voicebox-core's conformance kit, for each model, on tiny models."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from voicebox_core.testing import ConformanceSuite


class TestVibeVoiceConformance(ConformanceSuite):
    engine = "vibevoice"
    model_libraries = ("transformers", "diffusers")

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, tiny_vibevoice: Path) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HF_HUB_OFFLINE", "1")
            yield


class TestVibeVoice7BConformance(TestVibeVoiceConformance):
    model = "vibevoice-7b"
