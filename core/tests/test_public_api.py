"""The public surface an engine author sees: complete, sorted, importable without torch."""

import subprocess
import sys
import types

import voicebox_core


def test_all_is_sorted_and_complete() -> None:
    names = voicebox_core.__all__
    assert names == sorted(names)
    assert all(hasattr(voicebox_core, name) for name in names)
    # Every public non-module name is exported (submodules appear as attributes once imported).
    public = {n for n in dir(voicebox_core) if n.isidentifier() and not n.startswith("_")
              and not isinstance(getattr(voicebox_core, n), types.ModuleType)}
    assert public <= set(names), public - set(names)


def test_runtime_all_is_sorted_and_complete() -> None:
    from voicebox_core import runtime

    assert runtime.__all__ == sorted(runtime.__all__)
    assert all(hasattr(runtime, name) for name in runtime.__all__)


def test_importing_the_core_imports_no_torch() -> None:
    code = "import sys, voicebox_core; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
