"""Constants and small helpers shared by the LuxTTS tests."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"
UPSTREAM_MISSING = (
    "upstream LuxTTS (`zipvoice`, `linacodec`) is not installed: it is git-only and this "
    "machine cannot reach GitHub; integration tests need it (see plugins/luxtts/README.md)"
)
#: Frames of LuxTTS's 24 kHz features (hop 256) become 512 samples of 48 kHz audio.
SAMPLES_PER_FRAME = 512
PROMPT_FRAME_RATE = 24000 / 256


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)
