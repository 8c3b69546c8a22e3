"""The Pocket TTS engine passes voicebox-core's conformance kit on the tiny offline checkpoints."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from voicebox_core import Voice
from voicebox_core.testing import ConformanceSuite

HEAVY = ("pocket_tts", "sentencepiece", "tokenizers", "safetensors", "scipy")


class TestPocketTTSConformance(ConformanceSuite):
    """The default model (English, open weights) and the default voice, alba."""

    engine = "pocket_tts"
    model_libraries = HEAVY

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, tiny_pocket: Path) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HF_HUB_OFFLINE", "1")
            yield


class TestPocketTTSCloneConformance(TestPocketTTSConformance):
    """The gated cloning model, speaking with the kit's reference clip."""

    model = "pocket-tts-clone"

    @pytest.fixture(scope="class")
    @classmethod
    def voice(cls, voicebox_reference_clip: tuple[Path, str]) -> Voice:  # type: ignore[override]
        path, text = voicebox_reference_clip
        return Voice.clone([(str(path), text)])


class TestPocketTTSFrenchConformance(TestPocketTTSConformance):
    """Another language: the French model with its own default voice."""

    model = "pocket-tts-fr"
    text = "Bonjour tout le monde. Ceci est un essai."
    language = "fr"

    @pytest.fixture(scope="class")
    @classmethod
    def voice(cls) -> Voice:  # type: ignore[override]
        return Voice.preset("estelle")
