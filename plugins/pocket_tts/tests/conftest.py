"""Offline fixtures for the Pocket TTS plugin's tests.

The cache environment is set here, before anything imports huggingface_hub (it reads HF_HOME
at import). The tiny checkpoints (tiny_pocket.py, laid out by tiny_hub.py) are built once per
session into that cache.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

from voicebox_core.testing import offline_hub

offline_hub("voicebox-pocket-tts-tests-", unset=("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"))

import pytest  # noqa: E402
from tiny_hub import OPTIONS_ENV  # noqa: E402

HUB = Path(os.environ["HF_HUB_CACHE"])
os.environ[OPTIONS_ENV] = f'{{"config": "{HUB / "pocket-tts-tiny.yaml"}"}}'


@pytest.fixture(scope="session")
def tiny_pocket() -> Path:
    """The hub cache holding the tiny open and gated repositories (English and French)."""
    from tiny_hub import build

    build(HUB)
    return HUB


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple]]:
    """Any attempt to open a network connection fails at once (and is recorded)."""
    attempts: list[tuple] = []

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        attempts.append(args[1:] if args and isinstance(args[0], socket.socket) else args)
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts
