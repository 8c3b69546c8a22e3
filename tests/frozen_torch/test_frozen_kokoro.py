"""Freeze a torch engine (Kokoro, with a tiny random-weight checkpoint) and speak with it.

The slow frozen environment: proves that build/freeze.py, the core's hook and the
kokoro plugin's hooks together make a binary that runs torch, misaki, spaCy and
espeakng_loader outside Python, offline, from an HF cache it has never seen.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prebuilt = os.environ.get("VOICEBOX_FROZEN_DIST")
    if prebuilt:
        return Path(prebuilt)
    out, work = tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("work")
    subprocess.run([sys.executable, str(ROOT / "build" / "freeze.py"), "--out", str(out),
                    "--work", str(work)], check=True, timeout=2400)
    return out / "voicebox"


@pytest.fixture(scope="session")
def tiny_hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kokoro plugin's own tiny-checkpoint builder, run in a child process."""
    hub = tmp_path_factory.mktemp("hub")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
        "import conftest as c; repo = Path(sys.argv[2]) / c.REPO_DIR; "
        "(repo / 'refs').mkdir(parents=True); (repo / 'refs' / 'main').write_text(c.FAKE_COMMIT); "
        "c.build_tiny_snapshot(repo / 'snapshots' / c.FAKE_COMMIT)"
    )
    subprocess.run([sys.executable, "-c", code, str(ROOT / "plugins" / "kokoro" / "tests"), str(hub)],
                   check=True, timeout=600)
    return hub


@pytest.mark.parametrize(("voice", "language", "text"), [
    ("ef_dora", "es", "Hola mundo, esto es una prueba."),
    ("af_heart", "en", "Hello world, this is a frozen test."),
])
def test_frozen_kokoro_speaks_offline(frozen: Path, tiny_hub: Path, tmp_path: Path,
                                      voice: str, language: str, text: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICEBOX_", "HF_", "PYTHON"))}
    env.update(HF_HUB_CACHE=str(tiny_hub), HF_HUB_OFFLINE="1", VOICEBOX_DATA_DIR=str(tmp_path / "d"))
    out = tmp_path / f"{voice}.wav"
    result = subprocess.run([str(frozen / "voicebox"), "say", text, "--engine", "kokoro",
                             "--voice", voice, "--language", language, "--seed", "1", "-o", str(out)],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    info = sf.info(out)
    assert info.samplerate == 24000 and info.frames > 2400
