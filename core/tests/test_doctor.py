"""`voicebox engines doctor` against real installed distributions whose requirements break.

Each fixture is a real distribution (written here, pip-installed into a target directory):
a library at the wrong version, an upstream package installed --no-deps with its own bad
requirements, and engines whose model-library check fails in the ways users meet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

ENGINE = '''
import voicebox_core as vb
VOICEBOX_API_VERSION = vb.API_VERSION

@vb.hookimpl
def voicebox_register_engines(register):
    register(vb.EngineInfo(
        name={engine!r}, display_name="Doctor fixture", backend="{package}.backend:Backend",
        check={check!r}, voice_kinds=("preset",), preset_voices=(vb.PresetVoice("v", "V", "en"),),
        default_voice="v",
        models=(vb.ModelConfig(model_name={engine!r} + "-m", display_name="M", engine={engine!r},
                hf_repo_id=None, bundled=True, sample_rate=16000, languages=("en",)),)))
'''

CHECKS = {
    "fine": "def check():\n    import json\n",
    "stale_api": "def check():\n    from doctor_lib import new_function\n",
    "torchaudio_build": (
        "def check():\n"
        "    raise OSError('Could not load this library: /venv/site-packages/torchaudio/lib/_torchaudio.so')\n"),
}


def _project(root: Path, name: str, version: str, requires: list[str], files: dict[str, str],
             extras: dict[str, list[str]] | None = None, entry: str | None = None) -> Path:
    package = name.replace("-", "_")
    project = root / name
    (project / package).mkdir(parents=True)
    for relative, text in files.items():
        (project / package / relative).write_text(textwrap.dedent(text))
    extra_lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in (extras or {}).items())
    entry_lines = f'[project.entry-points."voicebox.engines"]\n{entry} = "{package}"\n' if entry else ""
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = {json.dumps(requires)}\n'
        + (f"[project.optional-dependencies]\n{extra_lines}" if extra_lines else "")
        + entry_lines + f'[tool.hatch.build.targets.wheel]\npackages = ["{package}"]\n')
    return project


@pytest.fixture(scope="session")
def doctor_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("doctor-src")
    projects = [
        # a shared library, installed at 2.0 where one engine needs <2
        _project(root, "doctor-lib", "2.0", [], {"__init__.py": "VERSION = '2.0'\n"}),
        # an upstream with wrong pins of its own, installed --no-deps at the version pinned
        _project(root, "doctor-upstream", "1.0", ["torch==1.0", "gradio"], {"__init__.py": ""}),
    ]
    for engine, check in CHECKS.items():
        package = f"doctor_engine_{engine}"
        requires = ["doctor-lib<2"] if engine == "stale_api" else []
        extras = {"upstream": ["doctor-upstream==1.0"]} if engine == "fine" else None
        projects.append(_project(root, f"doctor-engine-{engine.replace('_', '-')}", "0.1", requires, {
            "__init__.py": ENGINE.format(engine=engine, package=package, check=f"{package}.checks:check"),
            "backend.py": "class Backend:\n    pass\n", "checks.py": check}, extras, entry=engine))
    target = tmp_path_factory.mktemp("doctor-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), *map(str, projects)], check=True)
    return target


def _doctor(site: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBOX_")}
    env["VOICEBOX_DATA_DIR"] = tempfile.mkdtemp(prefix="doctor-data-")  # no earlier deep check
    env["PYTHONPATH"] = str(site)
    done = subprocess.run([sys.executable, "-m", "voicebox_core", "engines", "doctor", *args],
                          capture_output=True, text=True, env=env, timeout=300)
    return done.returncode, done.stdout + done.stderr


def test_plain_doctor_names_the_broken_requirement_and_the_fix(doctor_site: Path) -> None:
    code, out = _doctor(doctor_site)
    assert code == 1
    assert "BROKEN stale_api" in out
    assert "doctor-engine-stale-api requires doctor-lib<2, but doctor-lib 2.0 is installed" in out
    assert "pip install 'doctor-lib<2'" in out
    # the upstream is checked against the plugin's pin but its own pins are not walked
    assert "gradio" not in out and "torch==1.0" not in out
    # never deep-checked here: the plain doctor does not vouch for it, and says what to run
    assert "UNCHECKED fine" in out and "never checked in this environment" in out
    assert "OK    fine" not in out


def test_plain_doctor_json(doctor_site: Path) -> None:
    code, out = _doctor(doctor_site, "--json")
    report = json.loads(out)
    problems = {p["plugin"]: p["requirement_problems"] for p in report["plugins"]}
    assert problems["fine"] == [] and problems["torchaudio_build"] == []
    assert len(problems["stale_api"]) == 1 and report["engines"] is None and code == 1


def test_deep_doctor_explains_each_failure(doctor_site: Path) -> None:
    code, out = _doctor(doctor_site, "--deep", "--json")
    engines = {e["engine"]: e for e in json.loads(out)["engines"]}
    assert code == 1
    assert engines["fine"]["ok"] and engines["fine"]["stage"] == ""
    stale = engines["stale_api"]
    assert not stale["ok"] and stale["stage"] == "check"
    assert "cannot import name 'new_function'" in stale["error"]
    assert "pip install 'doctor-lib<2'" in stale["fix"]
    torchaudio = engines["torchaudio_build"]
    assert not torchaudio["ok"] and "torchaudio" in torchaudio["error"]
    assert "voicebox engines repair" in torchaudio["fix"] and "torchaudio" in torchaudio["fix"]


def test_an_upstream_at_the_wrong_version_is_fixed_without_its_dependencies(
        doctor_site: Path, tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    source = _project(tmp_path / "src", "doctor-upstream", "1.1", [], {"__init__.py": ""})
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(shadow), str(source)], check=True)
    code, out = _doctor(Path(f"{shadow}{os.pathsep}{doctor_site}"))
    assert code == 1
    assert "requires doctor-upstream==1.0, but doctor-upstream 1.1 is installed" in out
    assert "pip install --no-deps 'doctor-upstream==1.0'" in out
