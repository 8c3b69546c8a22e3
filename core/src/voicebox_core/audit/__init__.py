"""``voicebox audit DISTRIBUTION``: the engine guide's Phase 0, made a tool.

Walks an installed distribution and its whole requirement tree (markers evaluated, extras
as installed), runs every scan of the guide's section 0.2 over each package's installed
source files, checks every requirement in the tree against the installed version, and
prints the PyInstaller hook those findings imply, less what the hooks PyInstaller applies
by itself (its own, pyinstaller-hooks-contrib's) already do (:mod:`.existing`)::

    voicebox audit voicebox-engine-NAME                # readable report + hook
    voicebox audit voicebox-engine-NAME --json         # everything, machine-readable
    voicebox audit voicebox-engine-NAME --hook hook-voicebox_engine_NAME.py

Not scanned: ``torch`` (thousands of files; pyinstaller-hooks-contrib hooks it; set
``--all`` or ``VOICEBOX_AUDIT_ALL=1`` to include it), test folders and ``test_*.py`` files, and source
files over 2 MB. Comment and doctest lines never count as findings.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from pathlib import Path

from voicebox_core.errors import InvalidRequestError

__all__ = ["render_text", "run"]

#: Hits shown per scan and package in the text report; --json has them all.
SHOWN = 3


def render_text(report: object) -> str:
    """The human report: findings per package with file:line, conflicts, the hook."""
    from voicebox_core.audit.hook import hook_file_name, render_hook
    from voicebox_core.audit.report import AuditReport
    from voicebox_core.audit.scans import SCANS

    assert isinstance(report, AuditReport)
    titles = {s.id: s.title for s in SCANS}
    advice = {s.id: f"{s.directive}: {s.advice}" if s.directive != "runtime" else s.advice
              for s in SCANS}
    scanned = sum(p.files_scanned for p in report.packages)
    tests = sum(p.tests_skipped for p in report.packages)
    large = [f for p in report.packages for f in p.too_large]
    out = [f"voicebox audit: {report.distribution} {report.version}",
           *[f"WARNING: {w}" for w in report.warnings],
           f"walked {len(report.packages)} distributions, scanned {scanned} source files in "
           f"{report.seconds:.1f} s ({tests} test and build-time files not scanned"
           + (f", {len(large)} files over 2 MB not scanned" if large else "") + ")"]
    if report.skipped:
        out.append("not walked: " + ", ".join(
            f"{name} (required by {', '.join(by)})" for name, by in sorted(report.skipped.items()))
            + "; use --all to include")
    with_findings = [p for p in report.packages if p.findings]
    out += ["", f"FINDINGS: {report.findings} in {len(with_findings)} of "
            f"{len(report.packages)} packages"]
    for package in report.packages:
        extras = f"[{','.join(package.extras)}]" if package.extras else ""
        via = f", required by {', '.join(package.required_by)}" if package.required_by else ""
        if not package.findings:
            continue
        out.append(f"\n{package.distribution}{extras} {package.version}"
                   f" (import {', '.join(package.packages) or '-'}{via})")
        counts = Counter(f.scan for f in package.findings)
        for scan in SCANS:
            if not counts[scan.id]:
                continue
            out.append(f"  {titles[scan.id]}: {counts[scan.id]}  -> {advice[scan.id]}")
            hits = [f for f in package.findings if f.scan == scan.id]
            out += [f"    {f.where}: {f.text}" for f in hits[:SHOWN]]
            if len(hits) > SHOWN:
                out.append(f"    ... {len(hits) - SHOWN} more (--json lists all)")
    quiet = [p.distribution for p in report.packages if not p.findings]
    if quiet:
        out.append(f"\nno findings: {', '.join(quiet)}")
    shipping = [p for p in report.packages if p.data_files or p.native_libs]
    if shipping:
        out.append("\nDATA FILES AND NATIVE LIBRARIES")
        for p in shipping:
            parts = []
            if p.data_files:
                kinds = Counter(Path(d).suffix or Path(d).name for d in p.data_files)
                parts.append(f"{len(p.data_files)} data files ("
                             + ", ".join(f"{k} x{n}" for k, n in kinds.most_common(4)) + ")")
            if p.native_libs:
                parts.append(f"{len(p.native_libs)} native libraries (e.g. {p.native_libs[0]})")
            out.append(f"  {p.distribution}: {'; '.join(parts)}")
    out.append(f"\nVERSION CONFLICTS: {len(report.conflicts)}")
    for c in report.conflicts:
        tag = "  [stack: torch/transformers/numpy serve every engine]" if c.stack else ""
        out.append(f"  {c.required_by} requires {c.requirement}; installed {c.name} {c.installed}{tag}")
    if report.missing:
        out.append(f"\nNOT INSTALLED: {len(report.missing)} requirement(s) of the tree")
        out += [f"  {who} requires {what}" for who, what in report.missing]
    out += ["", f"PYINSTALLER HOOK ({hook_file_name(report)}):", "", render_hook(report)]
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    """Entry of ``voicebox audit``; returns 0 (findings are information, not failure)."""
    try:
        from voicebox_core.audit.hook import render_hook
        from voicebox_core.audit.report import DEFAULT_SKIP, audit_distribution
    except ImportError as exc:  # packaging is the only import beyond the core's own
        raise InvalidRequestError(f"voicebox audit needs the package {exc.name!r}: "
                                  f"pip install {exc.name}") from None

    include_all = getattr(args, "all", False) or os.environ.get("VOICEBOX_AUDIT_ALL") == "1"
    path = getattr(args, "path", None)
    report = audit_distribution(args.distribution, path=path,
                                skip=() if include_all else DEFAULT_SKIP)
    hook = render_hook(report)
    if args.hook:
        target = Path(args.hook)
        if target.is_dir():
            raise InvalidRequestError(f"--hook {str(target)!r} is a directory; give a file name "
                                      "such as hook-my_package.py")
        target.write_text(hook, encoding="utf-8")
    if args.json:
        print(json.dumps({**report.to_json(), "hook": hook}, indent=2))
    else:
        print(render_text(report))
        if args.hook:
            print(f"wrote {args.hook}")
    return 0
