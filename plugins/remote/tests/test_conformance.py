"""A remote engine passes voicebox-core's conformance kit, speaking through a real `voicebox serve`."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from voicebox_core.testing import ConformanceSuite


class TestRemoteConformance(ConformanceSuite):
    engine = "gpu"
    # Discovery reads the configuration only: no HTTP client, no audio library.
    model_libraries = ("httpx", "httpcore", "numpy")

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, configured: Path) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("VOICEBOX_DATA_DIR", str(configured))
            yield
