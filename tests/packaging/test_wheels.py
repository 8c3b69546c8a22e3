"""Packaging as users meet it: every distribution builds a wheel into a local wheelhouse,
and an engine installs by name from it into a fresh virtual environment."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = [ROOT / "core", *sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())]
CONSTRAINTS = ROOT / "constraints.txt"


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    house = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(house),
                    *map(str, DISTRIBUTIONS)], check=True)
    return house


def _metadata(wheel: Path) -> tuple[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        eps = next((n for n in names if n.endswith(".dist-info/entry_points.txt")), None)
        return archive.read(meta).decode(), archive.read(eps).decode() if eps else ""


def test_every_distribution_builds_a_wheel(wheelhouse: Path) -> None:
    names = sorted(w.name.split("-")[0] for w in wheelhouse.glob("*.whl"))
    expected = sorted(("voicebox_engine_" + p.name) if p.parent.name == "plugins" else "voicebox_core"
                      for p in DISTRIBUTIONS)
    assert names == expected


@pytest.mark.parametrize("plugin", [p.name for p in DISTRIBUTIONS if p.parent.name == "plugins"])
def test_plugin_wheels_declare_both_entry_points(wheelhouse: Path, plugin: str) -> None:
    wheel = next(wheelhouse.glob(f"voicebox_engine_{plugin}-*.whl"))
    metadata, entry_points = _metadata(wheel)
    assert "[voicebox.engines]" in entry_points
    assert "[pyinstaller40]" in entry_points and "hook-dirs" in entry_points
    assert "Requires-Dist: voicebox-core" in metadata
    assert "License" in metadata
    with zipfile.ZipFile(wheel) as archive:
        assert any("/__pyinstaller/hook-" in n for n in archive.namelist())


def test_core_wheel_declares_cli_kit_and_hook(wheelhouse: Path) -> None:
    metadata, entry_points = _metadata(next(wheelhouse.glob("voicebox_core-*.whl")))
    assert "voicebox = voicebox_core.cli:main" in entry_points
    assert "[pytest11]" in entry_points and "[pyinstaller40]" in entry_points
    assert "torch" not in metadata  # the core never pulls torch


def test_engine_installs_by_name_from_the_wheelhouse(wheelhouse: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-c", str(CONSTRAINTS),
                    "--find-links", str(wheelhouse), "voicebox-engine-piper"], check=True)
    listing = subprocess.run([str(env_dir / "bin" / "voicebox"), "engines", "list", "--json"],
                             capture_output=True, text=True, check=True)
    engines = json.loads(listing.stdout)
    assert [e["engine"] for e in engines["engines"]] == ["piper"]
    assert engines["failed"] == []
    assert engines["engines"][0]["distribution"] == "voicebox-engine-piper"


@pytest.mark.parametrize("plugin", [p.name for p in DISTRIBUTIONS if p.parent.name == "plugins"])
def test_no_deps_upstreams_are_declared_in_the_metadata(wheelhouse: Path, plugin: str) -> None:
    """What requirements-nodeps.txt installs --no-deps is the plugin's ``upstream`` extra, so
    tools (the doctor, installers) read it from installed metadata; the two never drift."""
    nodeps = ROOT / "plugins" / plugin / "requirements-nodeps.txt"
    listed = sorted(line.split("#")[0].strip() for line in nodeps.read_text().splitlines()
                    if line.split("#")[0].strip()) if nodeps.is_file() else []
    metadata, _ = _metadata(next(wheelhouse.glob(f"voicebox_engine_{plugin}-*.whl")))
    declared = sorted(line.split(":", 1)[1].split(";")[0].strip().replace(" ", "")
                      for line in metadata.splitlines()
                      if line.startswith("Requires-Dist:") and re.search(r"extra == ['\"]upstream['\"]", line))
    assert declared == [x.replace(" ", "") for x in listed]


def _names(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        text = line.split("#")[0].split(";")[0].strip()
        if text and not text.startswith("-"):
            name = re.split(r"[\[<>=!~ ]", text, maxsplit=1)[0]
            found[re.sub(r"[-_.]+", "-", name).lower()] = text
    return found


@pytest.mark.parametrize("plugin", [p.name for p in DISTRIBUTIONS if p.parent.name == "plugins"])
def test_test_requirements_pin_nothing_the_runtime_chooses(wheelhouse: Path, plugin: str) -> None:
    """requirements-test.txt holds test tools: a runtime package pinned there would move what
    the plugin's own ranges (or the every-engine set) choose, and break a shared environment.
    (LuxTTS's git-only upstream keeps its PyPI part there, at the very pins of its ranges.)"""
    tests = _names((ROOT / "plugins" / plugin / "requirements-test.txt").read_text().splitlines())
    metadata, _ = _metadata(next(wheelhouse.glob(f"voicebox_engine_{plugin}-*.whl")))
    runtime = _names([line.split(":", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist:")])
    everyone = {name: text.split("==")[1] for name, text in
                _names((ROOT / "constraints-all-engines.txt").read_text().splitlines()).items() if "==" in text}
    for name, text in tests.items():
        if plugin == "luxtts" and name in runtime:
            from packaging.requirements import Requirement

            assert Requirement(text).specifier == Requirement(runtime[name]).specifier, (name, text, runtime[name])
            continue
        assert name not in runtime and name not in everyone, f"{plugin}: {text} pins a runtime package"
