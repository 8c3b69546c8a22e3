"""Discovery against real installed distributions: one good plugin and one per failure kind.

The broken plugins are written as source distributions here, pip-installed into a target
directory, and put on the path, so entry points, metadata and versions are the real thing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from voicebox_core.registry import PluginLoadError, Registry

GOOD_ENGINE = '''
import voicebox_core as vb
VOICEBOX_API_VERSION = vb.API_VERSION

@vb.hookimpl
def voicebox_register_engines(register):
    register(vb.EngineInfo(
        name={engine!r}, display_name="Broken fixture", backend={backend!r}, voice_kinds=("preset",),
        preset_voices=(vb.PresetVoice("v", "V", "en"),), default_voice="v",
        models=(vb.ModelConfig(model_name={model!r}, display_name="M", engine={engine!r},
                hf_repo_id=None, bundled=True, sample_rate=16000, languages=("en",)),)))
'''

BROKEN = {
    # plugin name: (module source, expected stage, text the error must contain)
    "import_error": ("import not_a_real_module_xyz\n", "import", "not_a_real_module_xyz"),
    "hook_raises": (
        "import voicebox_core as vb\nVOICEBOX_API_VERSION = vb.API_VERSION\n"
        "@vb.hookimpl\ndef voicebox_register_engines(register):\n"
        "    raise RuntimeError('boom in hook')\n",
        "register", "boom in hook",
    ),
    "bad_metadata": (
        GOOD_ENGINE.format(engine="Bad-Name", model="bad model", backend="json:loads"),
        "metadata", "field 'name'",
    ),
    "duplicate_engine": (
        GOOD_ENGINE.format(engine="reference", model="dup-model-1", backend="json:loads"),
        "duplicate", "engine name 'reference'",
    ),
    "duplicate_model": (
        GOOD_ENGINE.format(engine="dupmodel", model="reference-16k", backend="json:loads"),
        "duplicate", "model name 'reference-16k'",
    ),
    "backend_typo": (
        GOOD_ENGINE.format(engine="typo", model="typo-model", backend="voicebox_broken_backend_typo.bakend:B"),
        "metadata", "field 'backend' names module 'voicebox_broken_backend_typo.bakend'",
    ),
    "old_contract": (
        GOOD_ENGINE.format(engine="oldapi", model="old-model", backend="json:loads").replace(
            "VOICEBOX_API_VERSION = vb.API_VERSION", "VOICEBOX_API_VERSION = '0.9'"),
        "version", "built for contract 0.9",
    ),
}


def _write_distribution(root: Path, name: str, source: str) -> Path:
    package = f"voicebox_broken_{name}"
    project = root / name
    (project / package).mkdir(parents=True)
    (project / package / "__init__.py").write_text(textwrap.dedent(source))
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "voicebox-broken-{name.replace('_', '-')}"
        version = "0.0.1"
        [project.entry-points."voicebox.engines"]
        {name} = "{package}"
        [tool.hatch.build.targets.wheel]
        packages = ["{package}"]
    """))
    return project


@pytest.fixture(scope="session")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with every broken plugin pip-installed into it."""
    root = tmp_path_factory.mktemp("broken-src")
    projects = [str(_write_distribution(root, name, src)) for name, (src, _, _) in BROKEN.items()]
    target = tmp_path_factory.mktemp("broken-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), *projects],
        check=True,
    )
    return target


@pytest.fixture
def with_broken(broken_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(broken_site))
    for var in ("VOICEBOX_PLUGINS", "VOICEBOX_DISABLE_PLUGINS", "VOICEBOX_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    return broken_site


def _cli(*args: str, site: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBOX_") or k == "VOICEBOX_DATA_DIR"}
    if site is not None:
        environ["PYTHONPATH"] = str(site)
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "voicebox_core", *args], capture_output=True,
                          text=True, env=environ, timeout=120)


def test_each_broken_plugin_is_set_aside_with_its_reason(with_broken: Path) -> None:
    registry = Registry.discover()
    failures = {f.name: f for f in registry.failures}
    assert set(failures) == set(BROKEN)
    for name, (_, stage, needle) in BROKEN.items():
        failure = failures[name]
        assert failure.stage == stage, (name, failure)
        assert needle in failure.error, (name, failure.error)
        assert failure.distribution == f"voicebox-broken-{name.replace('_', '-')}"
        assert failure.version == "0.0.1"
        assert failure.hint
    assert "boom in hook" in failures["hook_raises"].traceback
    # The good plugin still works, and nothing of a failed plugin leaked into the registry.
    assert [e.name for e in registry.engines] == ["reference"]
    assert registry.plugin_of("reference").distribution == "voicebox-test-reference"
    assert "dup-model-1" not in {m.model_name for m in registry.models}


def test_a_set_aside_engine_is_named_with_its_plugin_and_reason(with_broken: Path) -> None:
    """Not "unknown engine; none are available": the plugin that failed, why, and doctor."""
    from voicebox_core import UnknownEngineError, UnknownModelError

    registry = Registry.discover()
    with pytest.raises(UnknownEngineError) as registered_then_rejected:
        registry.engine("typo")
    message = str(registered_then_rejected.value)
    assert "plugin 'backend_typo' (voicebox-broken-backend-typo 0.0.1), which provides it" in message
    assert "metadata failed: engine 'typo': field 'backend' names module" in message
    assert "voicebox engines doctor" in message and "\n" not in message
    with pytest.raises(UnknownModelError, match="plugin 'backend_typo'"):
        registry.model("typo-model")
    with pytest.raises(UnknownModelError, match=r"plugin 'duplicate_model'.*duplicate failed"):
        registry.model("dupmodel")
    # Failed before registering: matched by its plugin (entry point) or distribution name.
    for name in ("import_error", "import-error", "voicebox-broken-import-error"):
        with pytest.raises(UnknownEngineError, match="set aside before it registered its engines "
                           r"\(import failed: ModuleNotFoundError"):
            registry.engine(name)
    with pytest.raises(UnknownEngineError) as unrelated:
        registry.engine("nothing_like_it")
    assert "set aside" not in str(unrelated.value) and "installed engines: reference" in str(unrelated.value)


def test_strict_mode_turns_failures_into_an_error(with_broken: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOX_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError) as caught:
        Registry.discover()
    assert len(caught.value.failures) == len(BROKEN)


def test_allow_list_loads_only_named_plugins(with_broken: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOX_PLUGINS", "voicebox-broken-hook-raises")  # a distribution name
    registry = Registry.discover()
    assert registry.engines == []
    assert [f.name for f in registry.failures] == ["hook_raises"]


def test_empty_allow_list_loads_nothing(with_broken: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOX_PLUGINS", "")
    registry = Registry.discover()
    assert registry.engines == [] and registry.failures == []


def test_deny_list_skips_named_plugins(with_broken: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOX_DISABLE_PLUGINS", ",".join(BROKEN))
    registry = Registry.discover()
    assert registry.failures == []
    assert [e.name for e in registry.engines] == ["reference"]


def test_per_plugin_load_time_is_recorded() -> None:
    plugin = Registry.discover().plugin_of("reference")
    assert 0 < plugin.load_seconds < 5


def test_discovery_imports_no_heavy_module() -> None:
    code = ("import sys; from voicebox_core.registry import Registry; r = Registry.discover(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'voicebox_test_reference.backend', 'fastapi', 'huggingface_hub')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_backend_is_built_once_lazily() -> None:
    registry = Registry.discover()
    assert registry.loaded_backends() == {}
    first = registry.backend("reference")
    assert registry.backend("reference") is first


# -- the CLI with zero, one good and several broken plugins --------------------------------


def test_cli_list_with_no_plugins() -> None:
    result = _cli("engines", "list", VOICEBOX_PLUGINS="")
    assert result.returncode == 0
    assert "No engines installed" in result.stdout


def test_cli_list_with_good_and_broken_plugins(broken_site: Path) -> None:
    result = _cli("engines", "list", site=broken_site)
    assert result.returncode == 0, result.stderr
    assert "reference  Reference formant synthesiser" in result.stdout
    assert f"{len(BROKEN)} plugin(s) failed to load" in result.stdout
    assert "hook_raises (voicebox-broken-hook-raises 0.0.1): register failed" in result.stdout
    listing = json.loads(_cli("engines", "list", "--json", site=broken_site).stdout)
    assert [e["engine"] for e in listing["engines"]] == ["reference"]
    assert listing["engines"][0]["load_ms"] >= 0
    assert {f["plugin"] for f in listing["failed"]} == set(BROKEN)


def test_cli_list_with_only_a_broken_plugin_does_not_say_none_is_installed(broken_site: Path) -> None:
    name = next(iter(BROKEN))
    result = _cli("engines", "list", site=broken_site, VOICEBOX_PLUGINS=name)
    assert result.returncode == 0, result.stderr
    assert "No engines installed" not in result.stdout
    assert "No engine loaded: 1 installed plugin(s) failed to load" in result.stdout
    assert f"{name} (" in result.stdout


def test_cli_doctor_explains_and_fails(broken_site: Path) -> None:
    result = _cli("engines", "doctor", site=broken_site)
    assert result.returncode == 1
    assert "FAIL  import_error" in result.stdout
    assert "VOICEBOX_DISABLE_PLUGINS=import_error" in result.stdout
    assert "Traceback" in result.stdout  # the full error is doctor's job
    assert _cli("engines", "doctor").returncode == 0


def test_cli_say_with_a_set_aside_engine_names_the_plugin(broken_site: Path, tmp_path: Path) -> None:
    result = _cli("say", "hello", "--engine", "typo", "-o", str(tmp_path / "out.wav"), site=broken_site)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "plugin 'backend_typo' (voicebox-broken-backend-typo 0.0.1), which provides it" in result.stderr
    assert "voicebox engines doctor" in result.stderr


def test_cli_strict_mode_is_one_line(broken_site: Path) -> None:
    result = _cli("engines", "list", site=broken_site, VOICEBOX_STRICT_PLUGINS="1")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "strict mode" in result.stderr
    assert "Traceback" not in result.stderr
