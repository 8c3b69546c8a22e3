"""Offline test setup: tiny random-weight Chatterbox snapshots under the real repo ids.

huggingface_hub reads HF_HOME / HF_HUB_OFFLINE when it is imported, so the environment is
set here, before anything imports it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from voicebox_core.testing import offline_hub

_CACHE = offline_hub("voicebox-chatterbox-", keep_data_dir=True)
os.environ["PKUSEG_HOME"] = str(_CACHE / "pkuseg")  # never the user's ~/.pkuseg
for _name in [n for n in os.environ if n.startswith("VOICEBOX_MODEL_PATH_")]:
    del os.environ[_name]

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import tiny_chatterbox  # noqa: E402

MTL_REPO, TURBO_REPO = "ResembleAI/chatterbox", "ResembleAI/chatterbox-turbo"
MTL_COMMIT, TURBO_COMMIT = "1" * 40, "2" * 40


@pytest.fixture(scope="session")
def tiny_models() -> Iterator[dict[str, Path]]:
    """Shrink upstream's sizes for the whole session and build both snapshots once."""
    mp = pytest.MonkeyPatch()
    tiny_chatterbox.shrink(mp)
    hub = Path(os.environ["HF_HUB_CACHE"])
    snapshots = {
        "chatterbox": tiny_chatterbox.as_hf_snapshot(
            hub, MTL_REPO, tiny_chatterbox.build_multilingual, MTL_COMMIT),
        "chatterbox_turbo": tiny_chatterbox.as_hf_snapshot(
            hub, TURBO_REPO, tiny_chatterbox.build_turbo, TURBO_COMMIT),
    }
    yield snapshots
    mp.undo()


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        "6s": tiny_chatterbox.reference_wav(folder / "six.wav", 6.0),
        "5s": tiny_chatterbox.reference_wav(folder / "five.wav", 5.0),
        "3s": tiny_chatterbox.reference_wav(folder / "three.wav", 3.0),
    }


@pytest.fixture(scope="session")
def mtl(tiny_models: dict[str, Path]):
    """The multilingual backend, loaded once through the plugin."""
    from voicebox_engine_chatterbox.backend import ChatterboxBackend

    backend = ChatterboxBackend()
    asyncio.run(backend.load_model("default"))
    yield backend
    backend.unload_model()


@pytest.fixture(scope="session")
def turbo(tiny_models: dict[str, Path]):
    from voicebox_engine_chatterbox.backend import ChatterboxTurboBackend

    backend = ChatterboxTurboBackend()
    asyncio.run(backend.load_model("default"))
    yield backend
    backend.unload_model()
