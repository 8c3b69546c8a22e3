"""The Kokoro engine passes voicebox-core's conformance kit on the tiny offline checkpoint."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from voicebox_core import Voice
from voicebox_core.testing import ConformanceSuite

HEAVY = ("kokoro", "misaki", "phonemizer", "espeakng_loader", "spacy", "transformers")


class TestKokoroConformance(ConformanceSuite):
    """Default voice af_heart: American English through misaki + spaCy."""

    engine = "kokoro"
    model_libraries = HEAVY

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, kokoro_hub: Path) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HF_HUB_OFFLINE", "1")
            yield


class TestKokoroSpanishConformance(ConformanceSuite):
    """A non-English voice: ef_dora, Spanish through espeak-ng."""

    engine = "kokoro"
    model_libraries = HEAVY
    text = "Hola mundo. Esto es una prueba."
    language = "es"

    @pytest.fixture(scope="class")
    @classmethod
    def voice(cls) -> Voice:  # type: ignore[override]
        return Voice.preset("ef_dora")

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, kokoro_hub: Path) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HF_HUB_OFFLINE", "1")
            yield
