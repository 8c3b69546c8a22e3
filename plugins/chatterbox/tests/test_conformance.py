"""The core's conformance kit, once per engine, on the tiny offline models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from voicebox_core.testing import ConformanceSuite, write_reference_clip
from voicebox_core.testing.clips import REFERENCE_TEXT


class TestMultilingualConformance(ConformanceSuite):
    engine = "chatterbox"
    model_libraries = ("chatterbox", "perth", "s3tokenizer", "transformers", "diffusers")

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, tiny_models: dict[str, Path]) -> Iterator[None]:
        yield


class TestTurboConformance(ConformanceSuite):
    engine = "chatterbox_turbo"
    model_libraries = ("chatterbox", "perth", "s3tokenizer", "transformers", "diffusers")

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls, tiny_models: dict[str, Path]) -> Iterator[None]:
        yield

    @pytest.fixture(scope="class")
    @classmethod
    def voicebox_reference_clip(cls, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
        """Turbo needs more than the kit's 3 s clip."""
        path = tmp_path_factory.mktemp("turbo-ref") / "reference.wav"
        return write_reference_clip(path, seconds=6.0), REFERENCE_TEXT
