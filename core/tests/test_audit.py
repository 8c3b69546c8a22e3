"""`voicebox audit`: planted patterns are found at their lines, a clean package has none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from voicebox_core.audit.hook import render_hook
from voicebox_core.audit.report import audit_distribution
from voicebox_core.audit.scans import SCANS, scan_text

FIXTURES = Path(__file__).parent / "audit_fixtures"

#: hostile.py of the planted fixture: scan id -> the lines its hits are on.
PLANTED = {
    "metadata": [7, 24],
    "typeguard": [10],
    "getsource": [12],
    "data_files": [14],
    "system_paths": [15],
    "torch_load": [16],
    "hf_token": [18],
    "float64": [19],
    "jit_script": [20],
    "torchaudio_io": [21],
    "gated_repo": [22],
    "lazy_loader": [23],
}


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture distributions, really installed (RECORD and all) into one folder."""
    target = tmp_path_factory.mktemp("audit-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), *(str(FIXTURES / name) for name in ("planted", "helper", "clean", "lazylib", "lazyplugin"))],
        check=True, capture_output=True, timeout=120,
    )
    return target


@pytest.fixture(scope="session")
def old_numpy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose only distribution is numpy 1.20.0 (metadata only)."""
    root = tmp_path_factory.mktemp("old-numpy")
    info = root / "numpy-1.20.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 1.20.0\n")
    return root


def test_every_scan_is_planted() -> None:
    assert set(PLANTED) == {scan.id for scan in SCANS}


def test_planted_patterns_are_found_at_their_lines(site: Path, old_numpy: Path) -> None:
    report = audit_distribution("voicebox-audit-planted", path=[str(site), str(old_numpy)])
    planted = report.packages[0]
    assert planted.distribution == "voicebox-audit-planted"
    found: dict[str, list[int]] = {}
    for finding in planted.findings:
        assert finding.path == "voicebox_audit_planted/hostile.py", finding
        found.setdefault(finding.scan, []).append(finding.line)
    assert found == PLANTED
    assert planted.tests_skipped == 1
    assert planted.data_files == ["voicebox_audit_planted/voices.yaml"]


def test_requirement_tree_conflicts_and_missing(site: Path, old_numpy: Path) -> None:
    report = audit_distribution("voicebox-audit-planted", path=[str(site), str(old_numpy)])
    assert [p.distribution for p in report.packages] == [
        "voicebox-audit-planted", "numpy", "voicebox-audit-helper"]
    conflicts = {(c.required_by, c.requirement, c.installed, c.stack) for c in report.conflicts}
    assert conflicts == {
        ("voicebox-audit-planted", "voicebox-audit-helper>=2", "1.0.0", False),
        ("voicebox-audit-planted", "numpy>=1.26", "1.20.0", True),
    }
    # The extra nobody installed and the Windows-only requirement are not "missing".
    assert report.missing == [("voicebox-audit-planted", "voicebox-audit-absent>=1")]
    helper = report.packages[2]
    assert helper.native_libs == ["voicebox_audit_helper/libhelper.so"]


def test_hook_file_holds_the_implied_directives(site: Path, old_numpy: Path) -> None:
    report = audit_distribution("voicebox-audit-planted", path=[str(site), str(old_numpy)])
    directives = {(d.kind, d.target) for d in report.directives}
    assert directives == {
        ("hiddenimport", "voicebox_audit_planted.plugin"),
        ("hiddenimport", "voicebox_audit_planted.backend"),
        ("collect_all", "voicebox_audit_planted"),
        ("copy_metadata", "voicebox-audit-planted"),
        ("copy_metadata", "voicebox-audit-helper"),
        ("collect_dynamic_libs", "voicebox_audit_helper"),
    }
    hook = render_hook(report)
    compile(hook, "hook-voicebox_audit_planted.py", "exec")
    assert '_add(collect_all("voicebox_audit_planted"))  # typeguard: ' in hook
    assert 'binaries += collect_dynamic_libs("voicebox_audit_helper")' in hook
    assert "torch_load x1 (first voicebox_audit_planted/hostile.py:16)" in hook


#: PyInstaller's hook helper, as much of it as the hooks below call.
FAKE_PYINSTALLER_HOOKS = """
def copy_metadata(name):
    folder = name.replace("-", "_") + "-1.0.0.dist-info"
    return [("/site/" + folder, folder)]
"""


def _existing_hook(root: Path, body: str) -> None:
    """PyInstaller (its hook helpers) and pyinstaller-hooks-contrib with one hook, for the
    lazily importing library: the hooks a build would apply without being asked."""
    for package in ("PyInstaller", "PyInstaller/utils", "_pyinstaller_hooks_contrib",
                    "_pyinstaller_hooks_contrib/stdhooks"):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
    (root / "PyInstaller/utils/hooks.py").write_text(FAKE_PYINSTALLER_HOOKS)
    (root / "_pyinstaller_hooks_contrib/stdhooks/hook-voicebox_audit_lazylib.py").write_text(body)


def test_without_pyinstaller_the_audit_warns_that_its_hook_may_repeat_existing_ones(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(site))  # the lazy table is read by importing the library
    report = audit_distribution("voicebox-audit-lazyplugin", path=[str(site)])
    directives = {(d.kind, d.target) for d in report.directives}
    assert ("collect_all", "voicebox_audit_lazylib") in directives
    assert ("hiddenimport", "voicebox_audit_lazylib.models.tiny") in directives
    assert any("pip install pyinstaller here and audit again" in w for w in report.warnings), report.warnings
    assert "# WARNING: PyInstaller and pyinstaller-hooks-contrib are not installed here" in render_hook(report)


def test_what_an_existing_hook_does_is_not_proposed_again(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library's own hook keeps its sources and copies the helper's metadata (as
    pyinstaller-hooks-contrib's hook-transformers does): only the lazily imported module is
    left to the plugin's hook, and the report says what was left out and why."""
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(tmp_path))
    _existing_hook(tmp_path, 'from PyInstaller.utils.hooks import copy_metadata\n'
                             'datas = copy_metadata("voicebox-audit-helper")\n'
                             'module_collection_mode = "pyz+py"\n')
    report = audit_distribution("voicebox-audit-lazyplugin", path=[str(site)])
    assert {(d.kind, d.target) for d in report.directives} == {
        ("hiddenimport", "voicebox_audit_lazyplugin.plugin"),
        ("hiddenimport", "voicebox_audit_lazyplugin.backend"),
        ("hiddenimport", "voicebox_audit_lazylib.models.tiny"),
        ("copy_metadata", "voicebox-audit-lazyplugin"),
        ("collect_dynamic_libs", "voicebox_audit_helper"),  # no hook of the helper's
    }
    hook = "_pyinstaller_hooks_contrib/hook-voicebox_audit_lazylib.py"
    assert report.covered == [
        ('collect_all("voicebox_audit_lazylib")', hook, "keeps its sources (module_collection_mode 'pyz+py')"),
        ('copy_metadata("voicebox-audit-helper")', hook, "copies its metadata"),
    ]
    assert report.warnings == []
    rendered = render_hook(report)
    compile(rendered, "hook.py", "exec")
    assert "collect_all(" not in rendered.replace('#   collect_all("voicebox_audit_lazylib")', "")


def test_an_existing_hook_that_does_not_keep_sources_leaves_collect_all(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook's presence is not enough: one that only adds imports keeps no .py source."""
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(tmp_path))
    _existing_hook(tmp_path, 'hiddenimports = ["voicebox_audit_lazylib.models"]\n')
    report = audit_distribution("voicebox-audit-lazyplugin", path=[str(site)])
    directives = {(d.kind, d.target) for d in report.directives}
    assert ("collect_all", "voicebox_audit_lazylib") in directives and report.covered == []


def test_clean_distribution_has_no_findings(site: Path) -> None:
    report = audit_distribution("voicebox-audit-clean", path=[str(site)])
    assert report.findings == 0
    assert report.conflicts == [] and report.missing == []
    assert report.packages[0].tests_skipped == 1
    assert report.directives == []
    compile(render_hook(report), "hook.py", "exec")


@pytest.mark.parametrize(
    "source",
    [
        'x = torch.load(path, map_location="cpu")\n',
        'x = torch.load(\n    path,\n    weights_only=True,\n    map_location=device,\n)\n',
        '# inspect.getsource(f) in a comment\n',
        '"""\n>>> torch.jit.script(f)\n"""\n',
        "def f():\n    '''token=True, float64'''\n",
        "x = inspect.getsourcefile(f)\n",
        "    >>> model.double()\n",
    ],
)
def test_scan_ignores(source: str) -> None:
    assert scan_text(source) == []


def test_torch_load_without_map_location_spanning_lines() -> None:
    hits = scan_text("state = torch.load(\n    path,\n    weights_only=True,\n)\n")
    assert [(h.scan, h.line) for h in hits] == [("torch_load", 1)]


def voicebox(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voicebox_core", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


def test_cli_json_and_hook_file(site: Path, tmp_path: Path) -> None:
    hook = tmp_path / "hook-voicebox_audit_planted.py"
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    result = voicebox("audit", "voicebox-audit-planted", "--json", "--hook", str(hook), env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["packages"][0]["findings"]) == 13
    assert data["findings"] == sum(len(p["findings"]) for p in data["packages"])
    assert data["packages"][0]["counts"]["metadata"] == 2
    assert hook.read_text() == data["hook"]


def test_cli_text_report(site: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    result = voicebox("audit", "voicebox-audit-clean", env=env)
    assert result.returncode == 0, result.stderr
    assert "FINDINGS: 0 in 0 of 1 packages" in result.stdout
    assert "VERSION CONFLICTS: 0" in result.stdout


def test_cli_unknown_distribution_is_one_line_exit_2() -> None:
    result = voicebox("audit", "no-such-distribution-anywhere")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "distribution 'no-such-distribution-anywhere' is not installed" in result.stderr


def test_cli_hook_into_a_directory_is_refused(site: Path, tmp_path: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    result = voicebox("audit", "voicebox-audit-clean", "--hook", str(tmp_path), env=env)
    assert result.returncode == 2
    assert "is a directory" in result.stderr
