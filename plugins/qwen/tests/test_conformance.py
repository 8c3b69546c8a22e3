"""Each of the three Qwen engines passes voicebox-core's conformance kit on tiny checkpoints."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from voicebox_core.testing import ConformanceSuite

LIBRARIES = ("qwen_tts", "transformers", "torchaudio", "onnxruntime", "sox", "librosa")


class _Offline(ConformanceSuite):
    model_libraries = LIBRARIES

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, qwen_hf_cache: dict[str, Path]) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HF_HUB_OFFLINE", "1")
            yield


class TestQwenCloneConformance(_Offline):
    """Base 1.7B (the default model), cloning the kit's reference clip."""

    engine = "qwen"


class TestQwenClone06Conformance(_Offline):
    engine = "qwen"
    model = "qwen-tts-0.6B"


class TestQwenCustomVoiceConformance(_Offline):
    """CustomVoice 1.7B with the default preset speaker (Ryan)."""

    engine = "qwen_custom_voice"


class TestQwenVoiceDesignConformance(_Offline):
    """VoiceDesign 1.7B with the kit's description."""

    engine = "qwen_voice_design"
