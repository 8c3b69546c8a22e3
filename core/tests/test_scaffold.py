"""`voicebox engine new`: the generated plugin installs, is discovered and passes the kit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from voicebox_core.scaffold import ScaffoldError, create_plugin, plugin_names

CORE = Path(__file__).resolve().parents[1]
#: voicebox-core's runtime dependencies plus what the generated tests need.
RUNTIME = ["pluggy", "importlib-metadata", "numpy", "soundfile", "huggingface_hub", "pytest",
           "packaging"]


def voicebox(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voicebox_core", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("kind", ["preset", "cloned"])
def test_generated_files(tmp_path: Path, kind: str) -> None:
    root = create_plugin("my_engine", kind, tmp_path)
    assert root == tmp_path / "voicebox-engine-my-engine"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    package = "src/voicebox_engine_my_engine"
    assert files == sorted([
        ".gitignore", "README.md", "docs/audit.md", "freeze.py", "pyproject.toml",
        f"{package}/__init__.py", f"{package}/backend.py", f"{package}/plugin.py",
        f"{package}/__pyinstaller/__init__.py",
        f"{package}/__pyinstaller/hook-voicebox_engine_my_engine.py",
        f"{package}/__pyinstaller/tests/conftest.py",
        f"{package}/__pyinstaller/tests/test_my_engine_frozen.py",
        "tests/test_conformance.py",
    ])
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "{{" not in text, path
            if path.suffix == ".py":
                compile(text, str(path), "exec")
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["name"] == "voicebox-engine-my-engine"
    entry_points = project["project"]["entry-points"]
    assert entry_points["voicebox.engines"] == {"my_engine": "voicebox_engine_my_engine.plugin"}
    assert entry_points["pyinstaller40"] == {
        "hook-dirs": "voicebox_engine_my_engine.__pyinstaller:get_hook_dirs",
        "tests": "voicebox_engine_my_engine.__pyinstaller:get_PyInstaller_tests",
    }
    backend = (root / package / "backend.py").read_text()
    for method in ("async def load_model(self, model_size: str = \"default\")",
                   "async def create_voice_prompt(", "async def combine_voice_prompts(",
                   "async def generate(", "def unload_model(self)", "def is_loaded(self)",
                   "def _get_model_path(self, model_size: str)"):
        assert method in backend
    if kind == "cloned":
        assert "prompt_cache.key(ENGINE" in backend


@pytest.mark.parametrize("name", ["class", "match", "e2", "kokoro_v2"])
def test_names_that_are_accepted(name: str) -> None:
    names = plugin_names(name)
    assert names.package.isidentifier()
    assert names.distribution == "voicebox-engine-" + name.replace("_", "-")


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("MyEngine", "lower-case letters, digits and underscores"),
        ("my-engine", "(e.g. 'my_engine')"),
        ("2fast", "starting with a letter"),
        ("a" * 41, "1-40"),
        ("engine_", "no trailing or doubled underscore"),
        ("my__engine", "no trailing or doubled underscore"),
        ("voicebox_kokoro", "leave out the 'voicebox' prefix"),
    ],
)
def test_invalid_names_are_rejected(name: str, needle: str) -> None:
    with pytest.raises(ScaffoldError, match=None) as info:
        plugin_names(name)
    assert needle in str(info.value)


def test_cli_invalid_name_exit_2_one_line(tmp_path: Path) -> None:
    result = voicebox("engine", "new", "Bad-Name", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "invalid engine name 'Bad-Name'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_to_overwrite(tmp_path: Path) -> None:
    first = voicebox("engine", "new", "twice", "--dir", str(tmp_path))
    assert first.returncode == 0, first.stderr
    backend = tmp_path / "voicebox-engine-twice/src/voicebox_engine_twice/backend.py"
    backend.write_text("# my work\n")
    (tmp_path / "voicebox-engine-twice/README.md").unlink()
    second = voicebox("engine", "new", "twice", "--voice-kind", "cloned", "--dir", str(tmp_path))
    assert second.returncode == 2
    assert second.stderr.strip().count("\n") == 0
    assert "already exists; nothing was written" in second.stderr
    assert backend.read_text() == "# my work\n"
    assert not (tmp_path / "voicebox-engine-twice/README.md").exists()


def test_cli_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = voicebox("engine", "new", "x", "--dir", str(tmp_path / "file"))
    assert result.returncode == 2 and "is a file" in result.stderr


#: Stands in for PyInstaller's ``pyi_builder`` (PyInstaller.utils.conftest, which the generated
#: conftest imports): runs the script it would freeze, unfrozen.
FAKE_PYI_BUILDER = """
import subprocess, sys
import pytest

class _Builder:
    def test_source(self, source):
        run = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        print(run.stdout)

@pytest.fixture
def pyi_builder():
    return _Builder()
"""


def test_frozen_test_follows_the_plugin_metadata_and_names_the_model_variable(tmp_path: Path) -> None:
    """The author renames the model and gives it a hub repo: the generated freeze test speaks
    that model (not the scaffold's), and offline without its files it fails naming the
    variable that hands the frozen app a folder."""
    root = create_plugin("my_engine", "preset", tmp_path)
    metadata = root / "src/voicebox_engine_my_engine/plugin.py"
    edited = metadata.read_text().replace('model_name="my-engine"', 'model_name="my-engine-base"').replace(
        "hf_repo_id=None,\n    bundled=True,", 'hf_repo_id="someone/my-engine-base",')
    assert edited.count("my-engine-base") == 2
    metadata.write_text(edited)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(root)], check=True, timeout=180)
    fake = tmp_path / "fake" / "PyInstaller" / "utils"
    fake.mkdir(parents=True)
    for package in (fake.parent, fake):
        (package / "__init__.py").write_text("")
    (fake / "conftest.py").write_text(FAKE_PYI_BUILDER)
    frozen_test = site / "voicebox_engine_my_engine/__pyinstaller/tests/test_my_engine_frozen.py"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(tmp_path / "fake")]),
           "HF_HUB_CACHE": str(tmp_path / "empty-hub")}
    env.pop("VOICEBOX_MODEL_PATH_MY_ENGINE_BASE", None)

    def freeze_test() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                               "--rootdir", str(tmp_path), str(frozen_test)],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)

    missing = freeze_test()
    assert missing.returncode == 1, missing.stdout[-3000:]
    assert "the frozen app runs offline" in missing.stdout
    assert "set VOICEBOX_MODEL_PATH_MY_ENGINE_BASE to a folder" in missing.stdout
    (tmp_path / "model-folder").mkdir()
    env["VOICEBOX_MODEL_PATH_MY_ENGINE_BASE"] = str(tmp_path / "model-folder")
    spoken = freeze_test()
    assert spoken.returncode == 0, spoken.stdout[-3000:]
    assert "frozen my_engine ok 24000" in spoken.stdout and "1 passed" in spoken.stdout


@pytest.mark.slow
def test_generated_plugins_pass_the_kit_in_a_fresh_venv(tmp_path: Path) -> None:
    """Core and two generated plugins as wheels in a new venv: listed, conformant, audited."""
    started = time.perf_counter()
    for kind, name in (("preset", "fresh_preset"), ("cloned", "fresh_clone")):
        result = voicebox("engine", "new", name, "--voice-kind", kind, "--dir", str(tmp_path))
        assert result.returncode == 0, result.stderr
    plugins = [tmp_path / "voicebox-engine-fresh-preset", tmp_path / "voicebox-engine-fresh-clone"]
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                    str(wheels), str(CORE), *map(str, plugins)], check=True, timeout=180,
                   capture_output=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    install = subprocess.run([*pip, "--python", str(python), "install", "--quiet",
                              *map(str, sorted(wheels.glob("*.whl"))), *RUNTIME],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VOICEBOX_DATA_DIR")}
    listing = subprocess.run([str(venv / "bin" / "voicebox"), "engines", "list", "--json"],
                             capture_output=True, text=True, env=env, check=True, timeout=120)
    engines = {row["engine"]: row for row in json.loads(listing.stdout)["engines"]}
    assert set(engines) == {"fresh_preset", "fresh_clone"}
    assert engines["fresh_preset"]["distribution"] == "voicebox-engine-fresh-preset"
    for plugin in plugins:
        run = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                             cwd=plugin, capture_output=True, text=True, env=env, timeout=180)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert " failed" not in run.stdout and " passed" in run.stdout
    audit = subprocess.run([str(venv / "bin" / "voicebox"), "audit", "voicebox-engine-fresh-clone",
                            "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert audit.returncode == 0, audit.stderr
    report = json.loads(audit.stdout)
    assert report["packages"][0]["findings"] == []
    assert report["conflicts"] == []
    hook_dirs = subprocess.run(
        [str(python), "-c", "from importlib.metadata import entry_points as e; "
         "print([p.load()() for p in e(group='pyinstaller40')])"],
        capture_output=True, text=True, env=env, check=True)
    assert "voicebox_engine_fresh_clone/__pyinstaller" in hook_dirs.stdout
    print(f"fresh venv round trip: {time.perf_counter() - started:.1f} s")
