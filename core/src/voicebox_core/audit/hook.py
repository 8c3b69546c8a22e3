"""Render an audit's directives as a ready-to-paste PyInstaller hook file."""

from __future__ import annotations

from voicebox_core.audit.report import AuditReport
from voicebox_core.audit.scans import SCANS

__all__ = ["hook_file_name", "render_hook"]

_ADVICE = {scan.id: scan.advice for scan in SCANS}


def hook_file_name(report: AuditReport) -> str:
    """``hook-<package>.py`` of the audited plugin's first import package."""
    root = report.packages[0]
    package = root.packages[0] if root.packages else root.distribution.replace("-", "_")
    return f"hook-{package}.py"


def render_hook(report: AuditReport) -> str:
    """The hook file implied by ``report``: valid Python, one commented line per directive."""
    root = report.packages[0]
    package = root.packages[0] if root.packages else root.distribution.replace("-", "_")
    kinds = {d.kind for d in report.directives}
    helpers = sorted(k for k in kinds if k in ("collect_all", "collect_data_files",
                                                   "collect_dynamic_libs", "copy_metadata"))
    lines = [
        f'"""PyInstaller hook of {report.distribution} {report.version}, written by `voicebox audit`.',
        "",
        f"Keep it in src/{package}/__pyinstaller/{hook_file_name(report)} (the folder your",
        "``pyinstaller40`` ``hook-dirs`` entry point returns). Each line says which finding",
        "implies it; delete the ones your engine's code path never reaches.",
        '"""',
        "",
    ]
    lines += [f"# WARNING: {warning}" for warning in report.warnings]
    if report.warnings:
        lines.append("")
    if helpers:
        lines.append(f"from PyInstaller.utils.hooks import {', '.join(helpers)}")
        lines.append("")
    lines += ["datas = []", "binaries = []", "hiddenimports = []", ""]
    if "collect_all" in kinds:
        lines += ["", "def _add(collected):",
                  "    global datas, binaries, hiddenimports",
                  "    datas += collected[0]",
                  "    binaries += collected[1]",
                  "    hiddenimports += collected[2]", "", ""]
    sections = (
        ("hiddenimport", "Imported by name at run time, invisible to PyInstaller's analysis:",
         'hiddenimports.append("{target}")'),
        ("collect_all", "Sources, data and libraries (inspect.getsource, typeguard, TorchScript, "
         "lazy_loader stubs):", '_add(collect_all("{target}"))'),
        ("copy_metadata", "Package metadata read with importlib.metadata / pkg_resources:",
         'datas += copy_metadata("{target}")'),
        ("collect_data_files", "Data files opened beside the module:",
         'datas += collect_data_files("{target}")'),
        ("collect_dynamic_libs", "Shared libraries loaded by path (not extension modules):",
         'binaries += collect_dynamic_libs("{target}")'),
    )
    for kind, title, template in sections:
        chosen = [d for d in report.directives if d.kind == kind]
        if not chosen:
            continue
        lines.append(f"# {title}")
        lines += [f"{template.format(target=d.target)}  # {d.reason}" for d in chosen]
        lines.append("")
    if report.runtime_fixes:
        lines.append("# Not fixable in a hook; handle these in the backend or a runtime hook:")
        for scan_id, dist, where, hits in report.runtime_fixes:
            lines.append(f"#   {dist}: {scan_id} x{hits} (first {where}): {_ADVICE[scan_id]}")
        lines.append("")
    if report.covered:
        lines.append("# Left out: a hook PyInstaller applies by itself already does it:")
        lines += [f"#   {directive}: {hook} {does}" for directive, hook, does in report.covered]
    if report.skipped:
        lines.append("# Not audited (skipped): " + ", ".join(sorted(report.skipped))
                     + "; pyinstaller-hooks-contrib covers torch.")
    return "\n".join(lines).rstrip() + "\n"
