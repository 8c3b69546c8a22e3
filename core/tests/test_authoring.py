"""What a third-party author hit, each checked: validation that names the field, discovery
that guards its own speed, a kit that says what is wrong, audit proposals without false
positives, and the small things (a broken pipe, the scaffold's message)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import voicebox_core as vb
from voicebox_core.audit.report import lazy_submodules, stale_metadata
from voicebox_core.audit.scans import scan_text
from voicebox_core.config import validate_engine
from voicebox_core.testing import write_tiny_snapshot
from voicebox_core.testing.suite import audio_problems

MODEL = vb.ModelConfig(model_name="a-m", display_name="M", engine="a", hf_repo_id=None, bundled=True,
                       sample_rate=16000, languages=("en",))
ENGINE = vb.EngineInfo(name="a", display_name="A", models=(MODEL,), voice_kinds=("preset",),
                       backend="json:loads", preset_voices=(vb.PresetVoice("v", "V", "en"),),
                       default_voice="v")


# -- validation names the field --------------------------------------------------------


def test_a_preset_voice_language_must_be_a_code() -> None:
    bad = replace(ENGINE, preset_voices=(vb.PresetVoice("v", "V", "english"),))
    assert validate_engine(bad) == ["engine 'a': preset voice 'v': field 'language' is 'english', not an "
                                    "ISO 639 code such as 'en'"]


def test_wrong_types_are_named_not_a_type_error() -> None:
    problems = validate_engine(replace(ENGINE, models=(replace(MODEL, sample_rate="24000"),)))  # type: ignore[arg-type]
    assert problems == ["model 'a-m': field 'sample_rate' must be an integer, not str '24000'"]
    problems = validate_engine(replace(ENGINE, models=(replace(MODEL, languages="en"),)))  # type: ignore[arg-type]
    assert problems == ["model 'a-m': field 'languages' must be a tuple of language codes such as ('en', 'de'), "
                        "not str 'en'"]


def test_the_kit_says_what_is_wrong_with_audio_and_which_helper_fixes_it() -> None:
    problems = audio_problems(np.zeros((2, 10), dtype=np.float64) + 2, 22050, 24000)
    assert any("float64" in p and "as_mono_float32" in p for p in problems)
    assert any("2 dimensions" in p and "as_mono_float32" in p for p in problems)
    assert any("22050 Hz" in p for p in problems)
    assert len(problems) >= 3  # every problem at once
    assert audio_problems(np.zeros(10, dtype=np.float32), 24000, 24000) == []


# -- discovery guards its own speed ------------------------------------------------------

HEAVY_PLUGIN = '''
import numpy  # a heavy import at discovery: the mistake under test
import voicebox_core as vb
VOICEBOX_API_VERSION = vb.API_VERSION

@vb.hookimpl
def voicebox_register_engines(register):
    register(vb.EngineInfo(
        name="heavy", display_name="Heavy", backend="json:loads", voice_kinds=("preset",),
        preset_voices=(vb.PresetVoice("v", "V", "en"),), default_voice="v",
        models=(vb.ModelConfig(model_name="heavy-m", display_name="M", engine="heavy",
                hf_repo_id=None, bundled=True, sample_rate=16000, languages=("en",)),)))
'''


@pytest.fixture(scope="module")
def heavy_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("heavy-src")
    (root / "voicebox_heavy").mkdir()
    (root / "voicebox_heavy" / "__init__.py").write_text(textwrap.dedent(HEAVY_PLUGIN))
    (root / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "voicebox-heavy"
        version = "0.0.1"
        [project.entry-points."voicebox.engines"]
        heavy = "voicebox_heavy"
        [tool.hatch.build.targets.wheel]
        packages = ["voicebox_heavy"]
    '''))
    target = tmp_path_factory.mktemp("heavy-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(root)], check=True)
    return target


def _cli(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBOX_")}
    environ.update(PYTHONPATH=str(site), **env)
    return subprocess.run([sys.executable, "-m", "voicebox_core", *args], capture_output=True, text=True,
                          env=environ, timeout=120)


def test_a_plugin_that_imports_a_heavy_library_is_shown_explained_and_fails_strict(heavy_site: Path) -> None:
    listing = json.loads(_cli(heavy_site, "engines", "list", "--json").stdout)
    heavy = next(e for e in listing["engines"] if e["engine"] == "heavy")
    assert heavy["slow"] and heavy["heavy_imports"] == ["numpy"]
    clean = next(e for e in listing["engines"] if e["engine"] == "reference")
    assert not clean["slow"] and clean["heavy_imports"] == []
    text = _cli(heavy_site, "engines", "list").stdout
    assert "SLOW: its metadata module imported numpy" in text
    doctor = _cli(heavy_site, "engines", "doctor").stdout
    assert "SLOW  heavy" in doctor and "import the model library inside the backend module" in doctor
    strict = _cli(heavy_site, "engines", "list", VOICEBOX_STRICT_PLUGINS="1")
    assert strict.returncode == 1 and "heavy (voicebox-heavy 0.0.1)" in strict.stderr


def test_the_core_imports_in_milliseconds_and_discovery_imports_no_numpy() -> None:
    code = ("import sys, voicebox_core; from voicebox_core.registry import Registry; Registry.discover(); "
            "import voicebox_core.cli; print(sorted(m for m in ('numpy', 'soundfile', 'huggingface_hub', "
            "'torch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert vb.runtime.as_mono_float32 is not None and vb.Synthesizer is not None  # still there, lazily


# -- small things --------------------------------------------------------------------


def test_a_closed_pipe_is_not_an_error() -> None:
    done = subprocess.run(f"{sys.executable} -m voicebox_core engines list | head -1", shell=True,
                          capture_output=True, text=True, timeout=60)
    assert done.stderr == "" and done.stdout.strip()


def test_write_tiny_snapshot_lays_out_a_cache_hub_reads_offline(tmp_path: Path) -> None:
    snapshot = write_tiny_snapshot(tmp_path, "org/tiny", {"config.json": "{}", "w/weights.bin": b"\0" * 8})
    repo = tmp_path / "models--org--tiny"
    assert (repo / "refs" / "main").read_text() == snapshot.name
    assert (snapshot / "w" / "weights.bin").is_symlink() and (snapshot / "w" / "weights.bin").read_bytes() == b"\0" * 8
    model = vb.ModelConfig(model_name="tiny", display_name="T", engine="t", hf_repo_id="org/tiny",
                           sample_rate=16000, languages=("en",), files=("config.json", "w/*.bin"))
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    code = ("import voicebox_core as vb; from voicebox_core.runtime import ensure_model; "
            "m = vb.ModelConfig(model_name='tiny', display_name='T', engine='t', hf_repo_id='org/tiny', "
            "sample_rate=16000, languages=('en',), files=('config.json', 'w/*.bin')); print(ensure_model(m))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == str(snapshot) and model.files



def test_offline_hub_gives_a_session_a_private_offline_cache_and_removes_it_at_exit(tmp_path: Path) -> None:
    """In a fresh process, as a conftest calls it: the hub's own constants point inside the
    root, nothing of the developer's leaks in, a set data dir is kept only when asked, and the
    root is gone after exit."""
    code = textwrap.dedent("""
        import json, os
        from voicebox_core.testing import offline_hub, write_tiny_snapshot
        kept = offline_hub("vb-hub-test-", unset=("MY_ENGINE_PATH",), keep_data_dir=True)
        data_kept = os.environ["VOICEBOX_DATA_DIR"]
        root = offline_hub("vb-hub-test-")
        import huggingface_hub.constants as c
        snapshot = write_tiny_snapshot(os.environ["HF_HUB_CACHE"], "org/tiny", {"config.json": "{}"})
        print(json.dumps({"roots": [str(kept), str(root)], "cache": c.HF_HUB_CACHE, "offline": c.HF_HUB_OFFLINE,
                          "snapshot": str(snapshot), "data": [data_kept, os.environ["VOICEBOX_DATA_DIR"]],
                          "gone": [v for v in ("VOICEBOX_MODEL_PATH_X", "VOICEBOX_MODELS_DIR", "VOICEBOX_DEVICE",
                                               "MY_ENGINE_PATH") if v not in os.environ]}))
    """)
    env = {**os.environ, "VOICEBOX_MODEL_PATH_X": "/mine", "VOICEBOX_MODELS_DIR": "/mine", "VOICEBOX_DEVICE": "cuda",
           "MY_ENGINE_PATH": "/mine", "VOICEBOX_DATA_DIR": str(tmp_path / "tox-data"), "HF_HUB_OFFLINE": "0"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    report = json.loads(done.stdout)
    kept, root = map(Path, report["roots"])
    assert report["cache"] == str(root / "hf_home" / "hub") and report["offline"] is True
    assert Path(report["snapshot"]).is_relative_to(root / "hf_home" / "hub")
    assert report["data"] == [str(tmp_path / "tox-data"), str(root / "voicebox")]
    assert report["gone"] == ["VOICEBOX_MODEL_PATH_X", "VOICEBOX_MODELS_DIR", "VOICEBOX_DEVICE", "MY_ENGINE_PATH"]
    assert not kept.exists() and not root.exists()

# -- audit ---------------------------------------------------------------------------


def test_audit_false_positives_are_gone() -> None:
    text = textwrap.dedent('''
        tokenizer = Tok(add_bos_token=True)
        KEYWORDS = ("float64", "float32")
        if is_phonemizer_available():
            pass
        hub.download(token=True)
        audio = audio.astype(np.float64)
    ''')
    hits = {(h.scan, h.line) for h in scan_text(text)}
    assert hits == {("hf_token", 6), ("float64", 7)}


def test_audit_names_lazily_imported_submodules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = types.ModuleType("lazypkg")
    lazy._class_to_module = {"VitsModel": "models.vits", "VitsTokenizer": "models.vits"}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lazypkg", lazy)
    found = lazy_submodules(["def load():\n    from lazypkg import VitsModel, VitsTokenizer as T\n"])
    assert found == {"VitsModel": "lazypkg.models.vits", "VitsTokenizer": "lazypkg.models.vits"}


def test_audit_warns_when_an_editable_install_s_metadata_is_stale(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "stale_pkg").mkdir(parents=True)
    (project / "stale_pkg" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "stale-pkg"
        version = "0.0.1"
        dependencies = []
        [tool.hatch.build.targets.wheel]
        packages = ["stale_pkg"]
    '''))
    # What pip writes for `pip install -e proj` while dependencies was still empty.
    info = tmp_path / "site" / "stale_pkg-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: stale-pkg\nVersion: 0.0.1\n")
    (info / "direct_url.json").write_text(json.dumps({"url": project.as_uri(), "dir_info": {"editable": True}}))
    text = (project / "pyproject.toml").read_text().replace("dependencies = []", 'dependencies = ["torch", "transformers"]')
    (project / "pyproject.toml").write_text(text)
    import importlib.metadata

    dist = importlib.metadata.PathDistribution(info)
    (warning,) = stale_metadata(dist)
    assert "lacks torch, transformers" in warning and "pip install -e" in warning
