"""Install orders in the all-engines environment: a working set, a resolver error, or a
doctor that names the broken engine; never a silently broken engine.

Runs last in ``tox -e all-engines``: the final test changes the environment (and puts it
back). Nothing here names an engine: the plugins are whatever is installed, the packages
their pins bound are read from their metadata.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import importlib_metadata
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support.engines import plugin_sources  # noqa: E402

#: The model-library stack whose ranges interact across engines.
STACK = ("transformers", "huggingface-hub", "diffusers")
PINNED = {canonicalize_name(line.split("==")[0]): line.split("==")[1].strip()
          for line in (ROOT / "constraints-all-engines.txt").read_text().splitlines()
          if "==" in line and not line.startswith("#")}


def _installed_plugins() -> dict[str, Path]:
    found = {}
    for distribution, source in plugin_sources().items():
        try:
            importlib_metadata.distribution(distribution)
        except importlib_metadata.PackageNotFoundError:
            continue
        found[distribution] = source
    return found


def _stack_requirements(distribution: str) -> list[Requirement]:
    requirements = []
    for line in importlib_metadata.distribution(distribution).requires or ():
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) in STACK and (
                requirement.marker is None or requirement.marker.evaluate({"extra": ""})):
            requirements.append(requirement)
    return requirements


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    """pip as a user runs it: only the torch constraint (the CPU build), not the CI set."""
    env = {**os.environ, "PIP_CONSTRAINT": str(ROOT / "constraints.txt")}
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                          timeout=900, env=env)


PLUGINS = _installed_plugins()


@pytest.mark.parametrize("distribution", sorted(PLUGINS))
def test_every_stack_range_of_a_plugin_is_bounded(distribution: str) -> None:
    """An open range is what let pip lift a shared library past what another engine runs on."""
    for requirement in _stack_requirements(distribution):
        uppers = [s for s in requirement.specifier if s.operator in ("<", "<=", "==", "~=")]
        assert uppers, f"{distribution}: {requirement} has no upper bound"


@pytest.mark.parametrize("distribution", sorted(PLUGINS))
def test_adding_an_engine_again_keeps_the_set(distribution: str, tmp_path: Path) -> None:
    """Installing any engine into this environment (in any order) changes nothing else."""
    report = tmp_path / "report.json"
    done = _pip("install", "--dry-run", "--quiet", "--report", str(report), str(PLUGINS[distribution]))
    assert done.returncode == 0, done.stderr[-3000:]
    changes = [(i["metadata"]["name"], i["metadata"]["version"]) for i in json.loads(report.read_text())["install"]]
    assert [n for n, _ in changes if canonicalize_name(n) != canonicalize_name(distribution)] == [], changes


def _above(requirement: Requirement) -> str | None:
    """A release spec just past the requirement's upper bound."""
    for spec in requirement.specifier:
        if spec.operator in ("<", "<="):
            bound = Version(spec.version)
            return f">{bound}" if spec.operator == "<=" else f">={bound}"
    return None


@pytest.mark.parametrize("distribution", sorted(PLUGINS))
def test_the_resolver_refuses_a_stack_past_a_plugin_s_bound(distribution: str) -> None:
    requirement = next((r for r in _stack_requirements(distribution) if _above(r)), None)
    if requirement is None:
        pytest.skip(f"{distribution} bounds no stack package")
    wanted = f"{requirement.name}{_above(requirement)}"
    done = _pip("install", "--dry-run", "--quiet", str(PLUGINS[distribution]), wanted)
    assert done.returncode != 0, f"pip accepted {wanted} beside {distribution}:\n{done.stdout[-2000:]}"
    # (no release past the bound exists yet: pip refuses for that reason, and the bound holds)
    assert re.search(r"ResolutionImpossible|conflict|No matching distribution", done.stderr + done.stdout), \
        done.stderr[-2000:]


def _doctor(*args: str) -> tuple[int, dict]:
    done = subprocess.run([sys.executable, "-m", "voicebox_core", "engines", "doctor", "--json", *args],
                          capture_output=True, text=True, timeout=1800)
    return done.returncode, json.loads(done.stdout)


def test_a_stack_package_forced_past_the_pins_is_reported_by_the_doctor() -> None:
    """What `pip install` of another package can do silently (it only warns): the doctor says
    which engines it broke, why, and what to run. The environment is put back after."""
    target = "transformers"
    restore = PINNED[target]
    release = "5.2.0"
    broken = {d for d in PLUGINS for r in _stack_requirements(d)
              if canonicalize_name(r.name) == target and not r.specifier.contains(release)}
    assert broken, "no plugin bounds transformers below 5.2.0"
    forced = _pip("install", "--no-deps", "--quiet", f"{target}=={release}")
    assert forced.returncode == 0, forced.stderr[-2000:]
    try:
        code, plain = _doctor()
        assert code == 1
        flagged = {p["distribution"]: p["requirement_problems"] for p in plain["plugins"]
                   if p["requirement_problems"]}
        for distribution in broken:  # named with its own requirement (others may break too)
            assert any(problem.startswith(f"{distribution} requires {target}")
                       for problem in flagged.get(distribution, [])), plain["plugins"]
        code, deep = _doctor("--deep")
        assert code == 1
        for engine in deep["engines"]:
            if engine["distribution"] in broken:
                assert not engine["ok"] and target in engine["fix"], engine
    finally:
        back = _pip("install", "--no-deps", "--quiet", f"{target}=={restore}")
        assert back.returncode == 0, back.stderr[-2000:]
    # put back by hand to the very set the last deep check saw: its results hold again
    code, again = _doctor()
    assert code == 0 and all(p["state"] in ("OK", "SLOW") for p in again["plugins"]), again
    code, again = _doctor("--deep")
    assert code == 0, again
