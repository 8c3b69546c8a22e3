"""A user who only ever types `voicebox engines install NAME`, in the every-engine environment.

Runs first in ``tox -e all-engines``: that environment starts with voicebox-core and no
engine, and these tests install the engines into it by name from the wheelhouse
(build/wheelhouse.py, ``VOICEBOX_WHEELHOUSE``), with only the torch constraint, as a user
would from an index: in the order qwen, vibevoice, kokoro (with its English G2P), chatterbox,
piper, then the rest, omnivoice last (transformers 5 and a keyword asking for its own
environment: the second engine that lands isolated by itself). After each, the plain doctor vouches for every engine (the install's
own deep check); an engine that cannot share the environment lands isolated by itself, with
the reason printed. Then the refusals, a rollback and a pip command outside voicebox.

Isolated environments and health records live in this module's own data dir; the in-process
engines stay in this environment for the tests that run after (each engine's whole suite, the
frozen binary).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import importlib_metadata
import pytest

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = Path(os.environ.get("VOICEBOX_WHEELHOUSE", ROOT / "wheelhouse"))
#: The issue's order first, then every other engine whose upstream is on PyPI (LuxTTS's is git-only).
ORDER = ["qwen", "vibevoice", "kokoro[english-g2p]", "chatterbox", "piper", "tada", "voxcpm", "pocket_tts", "omnivoice"]
#: Engines on transformers 5: beside qwen's 4.57 they land isolated without being asked.
ISOLATED = {"vibevoice", "omnivoice"}
TIMINGS: dict[str, Any] = {}

pytestmark = pytest.mark.skipif(not (WHEELHOUSE / "simple").is_dir(),
                                reason="no wheelhouse: python build/wheelhouse.py (tox -e all-engines makes it)")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("install-data")


def voicebox(data: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOICEBOX_DATA_DIR": str(data), "PIP_CONSTRAINT": str(ROOT / "constraints.txt")}
    return subprocess.run([sys.executable, "-m", "voicebox_core", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def freeze() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                          check=True).stdout


def doctor(data: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = voicebox(data, "engines", "doctor", "--json", *args)
    return done.returncode, json.loads(done.stdout)


def test_every_engine_installs_by_name_and_every_engine_stays_ok(data: Path) -> None:
    index = f"file://{WHEELHOUSE / 'simple'}"
    for position, name in enumerate(ORDER):
        # the index as a user gets it; the first install also proves --find-links
        source = ["--find-links", str(WHEELHOUSE)] if position == 0 else ["--index-url", index, "--extra-index-url",
                                                                           _pypi()]
        started = time.perf_counter()
        done = voicebox(data, "engines", "install", name, *source, "--json")
        assert done.returncode == 0, f"{name}: {done.stderr[-4000:]}"
        outcome = json.loads(done.stdout)
        outcome["wall"] = round(time.perf_counter() - started, 1)
        TIMINGS[name] = outcome
        engine = name.split("[")[0]
        if engine in ISOLATED:
            assert outcome["lives"] == "isolated", outcome
            assert "transformers" in outcome["reason"] and "voicebox-engine-qwen requires" in outcome["reason"]
            assert f"isolating voicebox-engine-{engine}: {outcome['reason']}" in done.stderr
        else:
            assert outcome["lives"] == "in-process", outcome
        code, report = doctor(data)
        states = {p["distribution"]: p["state"] for p in report["plugins"]}
        assert code == 0 and set(states.values()) <= {"OK", "SLOW"}, (name, states, report["checks"])
        assert f"voicebox-engine-{engine.replace('_', '-')}" in states
    print("install timings:", json.dumps({k: v["seconds"] | {"wall": v["wall"]} for k, v in TIMINGS.items()}))
    code, report = doctor(data, "--deep")
    assert code == 0, [e for e in report["engines"] if not e["ok"]]
    assert {e["engine"] for e in report["engines"]} >= {"qwen", "vibevoice", "kokoro", "chatterbox", "piper", "omnivoice"}


def _pypi() -> str:
    done = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"], capture_output=True,
                          text=True)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "https://pypi.org/simple"


def test_forcing_an_engine_that_would_break_others_in_process_is_refused(data: Path) -> None:
    before = freeze()
    done = voicebox(data, "engines", "install", "vibevoice", "--in-process", "--find-links", str(WHEELHOUSE))
    assert done.returncode == 2, done.stderr[-3000:]
    line = done.stderr.strip().splitlines()[-1]
    assert "transformers" in line and "voicebox-engine-qwen requires transformers" in line, line
    assert "nothing changed" in line and "Traceback" not in done.stderr
    assert freeze() == before


UPSTREAM = "raise ImportError('vbt_sour_upstream was built for another torch')\n"
ENGINE = '''
import voicebox_core as vb
VOICEBOX_API_VERSION = vb.API_VERSION

@vb.hookimpl
def voicebox_register_engines(register):
    register(vb.EngineInfo(
        name="vbt_sour", display_name="Fails its check", backend="voicebox_engine_vbt_sour.backend:Backend",
        check="voicebox_engine_vbt_sour.backend:check", voice_kinds=("preset",),
        preset_voices=(vb.PresetVoice("v", "V", "en"),), default_voice="v",
        models=(vb.ModelConfig(model_name="vbt-sour", display_name="M", engine="vbt_sour", hf_repo_id=None,
                bundled=True, sample_rate=16000, languages=("en",)),)))
'''


def _project(root: Path, name: str, files: dict[str, str], extra: str = "") -> Path:
    package = name.replace("-", "_")
    (root / name / package).mkdir(parents=True)
    for relative, text in files.items():
        (root / name / package / relative).write_text(textwrap.dedent(text))
    (root / name / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "1.0"\ndependencies = ["voicebox-core>=0.1"]\n{extra}'
        f'[tool.hatch.build.targets.wheel]\npackages = ["{package}"]\n')
    return root / name


def test_an_engine_whose_upstream_fails_its_check_is_rolled_back(data: Path, tmp_path: Path) -> None:
    upstream = _project(tmp_path, "vbt-sour-upstream", {"__init__.py": UPSTREAM})
    plugin = _project(tmp_path, "voicebox-engine-vbt-sour", {
        "__init__.py": ENGINE, "backend.py": "class Backend:\n    pass\n\ndef check():\n    import vbt_sour_upstream\n"},
        '[project.optional-dependencies]\nupstream = ["vbt-sour-upstream==1.0"]\n'
        '[project.entry-points."voicebox.engines"]\nvbt_sour = "voicebox_engine_vbt_sour"\n')
    wheels = tmp_path / "wheels"
    for project in (upstream, plugin):
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(project)],
                       check=True, timeout=600)
    before = freeze()
    started = time.perf_counter()
    done = voicebox(data, "engines", "install", "vbt_sour", "--find-links", str(wheels), "--find-links",
                    str(WHEELHOUSE), "--json")
    print(f"rollback: install, check and rollback took {time.perf_counter() - started:.1f} s")
    assert done.returncode == 1, done.stderr[-3000:]
    line = done.stderr.strip().splitlines()[-1]
    assert "voicebox-engine-vbt-sour failed" in line and "another torch" in line and "rolled back" in line, line
    assert freeze() == before
    code, report = doctor(data)
    assert code == 0 and all(p["state"] in ("OK", "SLOW") for p in report["plugins"]), report["checks"]


def test_a_pip_command_outside_voicebox_that_breaks_an_engine_is_never_called_ok(data: Path) -> None:
    """PyPI's torchaudio (a CUDA build) put back by hand beside the CPU torch: the engines that
    import it break; the plain commands stop vouching, the deep doctor names the fix, and
    `voicebox engines repair` puts it right."""
    version = importlib_metadata.version("torchaudio").split("+")[0]
    forced = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
                             "--only-binary", ":all:", f"torchaudio=={version}"], capture_output=True, text=True,
                            timeout=900, env={**os.environ, "PIP_CONSTRAINT": ""})
    assert forced.returncode == 0, forced.stderr[-2000:]
    if subprocess.run([sys.executable, "-c", "import torchaudio"], capture_output=True).returncode == 0:
        pytest.skip("PyPI's torchaudio imports beside this torch here (a CUDA torch, or not Linux x86_64)")
    users = [d for d in ("voicebox-engine-qwen", "voicebox-engine-chatterbox", "voicebox-engine-tada",
                         "voicebox-engine-voxcpm")]
    code, report = doctor(data)
    states = {p["distribution"]: p["state"] for p in report["plugins"]}
    assert code == 1 and not any(states[d] == "OK" for d in users), states
    listing = voicebox(data, "engines", "list").stdout
    assert "not checked since the environment changed: `voicebox engines doctor --deep`" in listing
    code, report = doctor(data, "--deep")
    failed = {e["distribution"]: e for e in report["engines"] if not e["ok"]}
    assert code == 1 and set(users) <= set(failed), report["engines"]
    assert all("voicebox engines repair" in failed[d]["fix"] for d in users)
    repaired = voicebox(data, "engines", "repair", "--json")
    assert repaired.returncode == 0, repaired.stderr[-3000:]
    code, report = doctor(data)
    assert code == 0 and all(p["state"] in ("OK", "SLOW") for p in report["plugins"]), report["checks"]
