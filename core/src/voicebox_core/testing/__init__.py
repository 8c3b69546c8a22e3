"""The conformance kit: what every engine distribution runs against itself.

Subclass :class:`ConformanceSuite` in a test module and point it at the engine::

    from voicebox_core.testing import ConformanceSuite

    class TestConformance(ConformanceSuite):
        engine = "myengine"
        model_libraries = ("my_model_lib",)   # must not be imported by discovery

        @pytest.fixture(scope="class", autouse=True)
        @classmethod
        def voicebox_environment(cls, tiny_model_cache):   # your offline tiny model
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("HF_HUB_OFFLINE", "1")
                yield

The kit is also a pytest plugin (entry point ``pytest11``) that provides the
``voicebox_reference_clip`` fixture: a voiced, 3-second, 24 kHz WAV and its transcript.
"""

from voicebox_core.testing.clips import write_reference_clip
from voicebox_core.testing.hub import offline_hub
from voicebox_core.testing.snapshots import FAKE_COMMIT, write_tiny_snapshot
from voicebox_core.testing.suite import ConformanceSuite

__all__ = ["ConformanceSuite", "FAKE_COMMIT", "offline_hub", "write_reference_clip", "write_tiny_snapshot"]
