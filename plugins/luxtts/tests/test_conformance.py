"""LuxTTS passes voicebox-core's conformance kit on the tiny offline model.

Skipped, with the reason, where upstream LuxTTS (git-only) is not installed.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from lux_helpers import UPSTREAM_MISSING
from voicebox_core.testing import ConformanceSuite

pytest.importorskip("zipvoice.luxvoice", reason=UPSTREAM_MISSING)


class TestLuxTTSConformance(ConformanceSuite):
    engine = "luxtts"
    model_libraries = ("zipvoice", "linacodec", "onnxruntime", "transformers")

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, luxtts_snapshot: Path) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HF_HUB_OFFLINE", "1")
            yield
