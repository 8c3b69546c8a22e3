"""`voicebox engines install NAME` with real pip, real wheels and a real environment.

The engines here are tiny distributions written by the test and built into a wheelhouse: two
that need a shared library on either side of 2.0, one whose upstream package (installed
--no-deps, as real upstreams are) fails its deep check, and one that asks for its own
environment. The environment is a real venv whose ``.pth`` file reaches this tox env's
packages (voicebox-core and its dependencies), so pip changes only what the tests install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ENGINE = '''
import voicebox_core as vb
VOICEBOX_API_VERSION = vb.API_VERSION

@vb.hookimpl
def voicebox_register_engines(register):
    register(vb.EngineInfo(
        name={engine!r}, display_name="Installer fixture", backend="{package}.backend:Backend",
        check="{package}.backend:check", voice_kinds=("preset",), preset_voices=(vb.PresetVoice("v", "V", "en"),),
        default_voice="v",
        models=(vb.ModelConfig(model_name={engine!r} + "-m", display_name="M", engine={engine!r},
                hf_repo_id=None, bundled=True, sample_rate=16000, languages=("en",)),)))
'''


def _project(root: Path, name: str, version: str, requires: list[str], files: dict[str, str],
             extras: dict[str, list[str]] | None = None, entry: str | None = None,
             keywords: list[str] | None = None) -> Path:
    package = name.replace("-", "_")
    project = root / f"{name}-{version}"
    (project / package).mkdir(parents=True)
    for relative, text in files.items():
        (project / package / relative).write_text(textwrap.dedent(text))
    extra_lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in (extras or {}).items())
    entry_lines = f'[project.entry-points."voicebox.engines"]\n{entry} = "{package}"\n' if entry else ""
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = {json.dumps(requires)}\n'
        + (f"keywords = {json.dumps(keywords)}\n" if keywords else "")
        + (f"[project.optional-dependencies]\n{extra_lines}" if extra_lines else "")
        + entry_lines + f'[tool.hatch.build.targets.wheel]\npackages = ["{package}"]\n')
    return project


def _engine(root: Path, engine: str, requires: list[str], check: str = "", **kwargs: object) -> Path:
    name = f"voicebox-engine-{engine.replace('_', '-')}"
    package = name.replace("-", "_")
    return _project(root, name, "0.1", ["voicebox-core>=0.1", *requires], {
        "__init__.py": ENGINE.format(engine=engine, package=package),
        "backend.py": "class Backend:\n    pass\n\ndef check():\n" + (check or "    import json\n")}, entry=engine,
        **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("installer-src")
    projects = [
        _project(root, "vbt-lib", "1.0", [], {"__init__.py": "VERSION = 1\n"}),
        _project(root, "vbt-lib", "2.0", [], {"__init__.py": "VERSION = 2\n"}),
        _project(root, "vbt-other", "1.0", [], {"__init__.py": ""}),
        # an upstream whose own pins are wrong (so it goes in --no-deps) and that fails to import
        _project(root, "vbt-bad-upstream", "1.0", ["torch==1.0"],
                 {"__init__.py": "raise ImportError('vbt_bad_upstream is built for another torch')\n"}),
        _engine(root, "vbt_old", ["vbt-lib<2"]),
        _engine(root, "vbt_twin", ["vbt-lib"]),
        _engine(root, "vbt_new", ["vbt-lib>=2"]),
        _engine(root, "vbt_bad", [], "    import vbt_bad_upstream\n", extras={"upstream": ["vbt-bad-upstream==1.0"]}),
        _engine(root, "vbt_loner", [], keywords=["voicebox", "voicebox-isolated"]),
    ]
    out = tmp_path_factory.mktemp("installer-wheels")
    for project in projects:  # one at a time: pip wheel resolves its arguments together
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                        "--no-index", "-w", str(out), str(project)], check=True, timeout=600)
    return out


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A real venv that also sees this env's packages (voicebox-core and its dependencies)."""
    target = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=300)
    site = next(target.glob("lib/python*/site-packages"))
    host = sysconfig.get_paths()["purelib"]
    (site / "zz-host.pth").write_text(f"import site; site.addsitedir({host!r})\n")  # its .pth files too
    return target


def voicebox(venv: Path, *args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBOX_") and k != "PIP_CONSTRAINT"}
    env["VOICEBOX_DATA_DIR"] = str(data)
    return subprocess.run([str(venv / "bin" / "python"), "-m", "voicebox_core", *args], capture_output=True,
                          text=True, timeout=900, env=env)


def freeze(venv: Path) -> str:
    return subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--all", "--local"],
                          capture_output=True, text=True, check=True).stdout


def install(venv: Path, wheels: Path, data: Path, *names: str) -> subprocess.CompletedProcess[str]:
    return voicebox(venv, "engines", "install", *names, "--no-index", "--find-links", str(wheels), "--json",
                    data=data)


def test_an_engine_installs_by_name_is_checked_and_vouched_for(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    done = install(venv, wheelhouse, tmp_path / "data", "vbt_old")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["distribution"] == "voicebox-engine-vbt-old" and outcome["lives"] == "in-process"
    assert outcome["engines"] == ["vbt_old"]
    assert "+vbt-lib 1.0" in outcome["changes"]
    assert {"plan", "install", "repair", "check", "total"} <= set(outcome["seconds"])
    doctor = voicebox(venv, "engines", "doctor", data=tmp_path / "data")
    assert doctor.returncode == 0 and "OK    vbt_old" in doctor.stdout, doctor.stdout
    listing = voicebox(venv, "engines", "list", data=tmp_path / "data").stdout
    assert "deep check ok" in listing


def test_a_conflicting_engine_in_process_is_refused_and_nothing_changes(
        venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert install(venv, wheelhouse, data, "vbt_old").returncode == 0
    before = freeze(venv)
    done = voicebox(venv, "engines", "install", "vbt_new", "--in-process", "--no-index", "--find-links",
                    str(wheelhouse), data=data)
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    assert "vbt-lib 1.0 → 2.0" in line and "voicebox-engine-vbt-old requires vbt-lib<2" in line, line
    assert "--isolated" in line
    assert freeze(venv) == before


def test_an_engine_that_fails_its_check_is_rolled_back_exactly(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert install(venv, wheelhouse, data, "vbt_old").returncode == 0
    before = freeze(venv)
    done = install(venv, wheelhouse, data, "vbt_bad")
    assert done.returncode != 0
    message = done.stderr.strip().splitlines()[-1]
    assert "rolled back" in message and "vbt_bad" in message and "another torch" in message, message
    assert freeze(venv) == before
    # the rollback also put back what the failed install replaced: the earlier engine still works
    doctor = voicebox(venv, "engines", "doctor", "--deep", data=data)
    assert doctor.returncode == 0, doctor.stdout


def test_a_pip_command_outside_voicebox_takes_the_ok_away(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert install(venv, wheelhouse, data, "vbt_old").returncode == 0
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index", "--find-links",
           str(wheelhouse)]
    subprocess.run([*pip, "vbt-other"], check=True)  # changes the set, breaks nothing known
    doctor = voicebox(venv, "engines", "doctor", data=data)
    assert doctor.returncode == 1 and "OK    vbt_old" not in doctor.stdout
    assert "not checked since the environment changed" in doctor.stdout
    listing = voicebox(venv, "engines", "list", data=data).stdout
    assert "not checked since the environment changed: `voicebox engines doctor --deep`" in listing
    assert voicebox(venv, "engines", "doctor", "--deep", data=data).returncode == 0
    assert voicebox(venv, "engines", "doctor", data=data).returncode == 0
    subprocess.run([*pip, "--no-deps", "vbt-lib==2.0"], check=True)  # breaks vbt_old's requirement
    doctor = voicebox(venv, "engines", "doctor", data=data)
    assert doctor.returncode == 1 and "BROKEN vbt_old" in doctor.stdout, doctor.stdout


def test_uninstall_keeps_what_another_engine_requires(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert install(venv, wheelhouse, data, "vbt_old", "vbt_twin").returncode == 0
    done = voicebox(venv, "engines", "uninstall", "vbt_old", "--json", data=data)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["changes"] == ["-voicebox-engine-vbt-old 0.1"]
    left = freeze(venv)
    assert "vbt-lib==1.0" in left and "voicebox-engine-vbt-twin" in left
    done = voicebox(venv, "engines", "uninstall", "vbt_twin", "--json", data=data)
    assert done.returncode == 0, done.stderr
    assert "voicebox-engine-vbt-twin" not in freeze(venv)


def test_uninstall_takes_back_the_upstream_and_what_only_the_plugin_added(
        venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    before = freeze(venv)
    assert install(venv, wheelhouse, data, "vbt_old").returncode == 0
    done = voicebox(venv, "engines", "uninstall", "voicebox-engine-vbt-old", data=data)
    assert done.returncode == 0, done.stderr
    assert freeze(venv) == before


def test_unknown_names_are_one_readable_line(venv: Path, wheelhouse: Path, tmp_path: Path) -> None:
    done = install(venv, wheelhouse, tmp_path / "data", "no_such_engine")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "voicebox-engine-no-such-engine" in done.stderr.strip().splitlines()[-1]
    done = voicebox(venv, "engines", "uninstall", "no_such_engine", data=tmp_path / "data")
    assert done.returncode == 2 and "neither isolated nor installed" in done.stderr


def test_the_plan_names_a_plugin_that_asks_for_its_own_environment(venv: Path, wheelhouse: Path) -> None:
    code = ("import json, sys; from voicebox_core.installer.plan import make_plan; "
            "from voicebox_core.installer.target import Target; "
            "t = Target.here(sources=('--no-index', '--find-links', sys.argv[1])); "
            "p = make_plan(t, 'voicebox-engine-vbt-loner', 'voicebox-engine-vbt-loner'); "
            "print(json.dumps([p.wants_isolation, p.reason(), [str(c) for c in p.changes]]))")
    done = subprocess.run([str(venv / "bin" / "python"), "-c", code, str(wheelhouse)], capture_output=True, text=True)
    wants, reason, changes = json.loads(done.stdout)
    assert wants and reason == "it asks for its own environment"
    assert changes == ["+voicebox-engine-vbt-loner 0.1"]
