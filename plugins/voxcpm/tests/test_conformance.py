"""The VoxCPM engine passes voicebox-core's conformance kit, for each model, on tiny models."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from voicebox_core.testing import ConformanceSuite


class TestVoxCPMConformance(ConformanceSuite):
    engine = "voxcpm"
    model_libraries = ("voxcpm", "transformers", "librosa")

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, tiny_voxcpm: Path) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HF_HUB_OFFLINE", "1")
            yield


class TestVoxCPM15Conformance(TestVoxCPMConformance):
    model = "voxcpm-1.5"


class TestVoxCPM2Conformance(TestVoxCPMConformance):
    model = "voxcpm2"
    language = "en"
