"""The TADA engine passes voicebox-core's conformance kit, for each size, on the tiny model."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from voicebox_core.testing import ConformanceSuite


class TestTadaConformance(ConformanceSuite):
    engine = "tada"
    model_libraries = ("tada", "dac", "transformers")

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, tiny_tada: Path) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HF_HUB_OFFLINE", "1")
            yield


class TestTada3BConformance(TestTadaConformance):
    model = "tada-3b-ml"
    language = "en"
