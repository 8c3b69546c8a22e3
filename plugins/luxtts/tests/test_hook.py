"""The PyInstaller hook: registered, importable, and collecting what the audit says.

Runs everywhere: the hook names upstream modules only as strings, and the PyPI packages whose
files it collects (piper-phonemize, cn2an) are installed by requirements-test.txt.
"""

from __future__ import annotations

import runpy
from importlib import metadata
from pathlib import Path

import pytest
from voicebox_engine_luxtts import __pyinstaller as pyi_pkg

HOOK = "hook-voicebox_engine_luxtts.py"


@pytest.fixture(scope="module")
def hook() -> dict:
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed")
    (hook_dir,) = pyi_pkg.get_hook_dirs()
    return runpy.run_path(str(Path(hook_dir) / HOOK))


def test_the_entry_point_resolves_to_the_hook() -> None:
    eps = {ep.name: ep for ep in metadata.distribution("voicebox-engine-luxtts").entry_points
           if ep.group == "pyinstaller40"}
    (hook_dir,) = eps["hook-dirs"].load()()
    assert (Path(hook_dir) / HOOK).is_file()
    assert "tests" not in eps  # the all-engines frozen binary is the freeze test


def test_hidden_imports_cover_lazy_and_yaml_named_modules(hook: dict) -> None:
    hidden = set(hook["hiddenimports"])
    assert "voicebox_engine_luxtts.backend" in hidden  # named as a string in EngineInfo
    assert {"zipvoice.luxvoice", "zipvoice.modeling_utils", "zipvoice.onnx_modeling"} <= hidden
    # linacodec's Vocos.from_hparams __import__s the class paths of vocoder/config.yaml.
    assert {"vocos.feature_extractors", "vocos.models", "vocos.heads",
            "linacodec.vocoder.upsampler_block"} <= hidden


def test_sources_are_kept_for_torchscript_and_typeguard(hook: dict) -> None:
    modes = hook["module_collection_mode"]
    assert modes["linacodec"] == "pyz+py"  # @torch.jit.script in upsampler_block
    assert modes["inflect"] == "pyz+py"  # typeguard @typechecked reads the source
    assert modes["zipvoice"] == "pyz+py"


def test_espeak_data_and_cn2an_config_are_collected(hook: dict) -> None:
    pytest.importorskip("piper_phonemize", reason="piper-phonemize is not installed")
    pytest.importorskip("cn2an", reason="cn2an is not installed")
    targets = {Path(dest).as_posix() for _src, dest in hook["datas"]}
    sources = [Path(src).as_posix() for src, _dest in hook["datas"]]
    assert any(t.startswith("piper_phonemize/espeak-ng-data") for t in targets)
    assert any(s.endswith("espeak-ng-data/phontab") for s in sources)
    assert any(s.endswith("cn2an/config.yaml") for s in sources)
    assert any(".dist-info" in t and "voicebox_engine_luxtts" in t for t in targets)
