"""Run the Phase 0 scans over a requirement tree and collect what they imply."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from voicebox_core.audit.existing import HookEffect, read_hooks
from voicebox_core.audit.scans import SCANS, metadata_names, scan_text, scans_for
from voicebox_core.audit.tree import (
    Conflict,
    RequirementTree,
    installed_distributions,
    installed_files,
    walk,
)

__all__ = [
    "DEFAULT_SKIP",
    "MAX_FILE_BYTES",
    "AuditReport",
    "Directive",
    "Finding",
    "PackageReport",
    "audit_distribution",
]

#: Not walked unless asked for: torch alone is ~4,000 source files and
#: pyinstaller-hooks-contrib ships its hook; voicebox-core ships its own hook.
DEFAULT_SKIP = ("torch", "voicebox-core")
#: Larger source files are generated tables, not code worth a grep.
MAX_FILE_BYTES = 2_000_000

_BACKEND = re.compile(r"""backend\s*=\s*["']([A-Za-z_][\w.]*):""")


@dataclass(frozen=True)
class Finding:
    scan: str
    path: str
    line: int
    text: str
    #: The import package the file belongs to.
    package: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class PackageReport:
    distribution: str
    version: str
    packages: list[str]
    required_by: list[str]
    extras: list[str]
    files_scanned: int = 0
    tests_skipped: int = 0
    too_large: list[str] = field(default_factory=list)
    data_files: list[str] = field(default_factory=list)
    native_libs: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: Distributions named as literals in this package's metadata lookups.
    metadata_lookups: list[str] = field(default_factory=list)

    def count(self, scan: str) -> int:
        return sum(1 for f in self.findings if f.scan == scan)


@dataclass(frozen=True)
class Directive:
    """One line of the implied PyInstaller hook."""

    #: collect_all, copy_metadata, collect_data_files, collect_dynamic_libs, hiddenimport.
    kind: str
    target: str
    reason: str


@dataclass
class AuditReport:
    distribution: str
    version: str
    packages: list[PackageReport]
    conflicts: list[Conflict]
    missing: list[tuple[str, str]]
    skipped: dict[str, list[str]]
    directives: list[Directive]
    #: Runtime fixes a hook cannot make: (scan id, distribution, first file:line, hits).
    runtime_fixes: list[tuple[str, str, str, int]]
    seconds: float = 0.0
    #: Directives left out because a hook PyInstaller applies by itself already does them:
    #: (the directive, the hook, what it does).
    covered: list[tuple[str, str, str]] = field(default_factory=list)
    #: Warnings about the audit itself (stale metadata of an editable install...).
    warnings: list[str] = field(default_factory=list)

    @property
    def findings(self) -> int:
        return sum(len(p.findings) for p in self.packages)

    def to_json(self) -> dict[str, Any]:
        return {
            "distribution": self.distribution,
            "version": self.version,
            "seconds": round(self.seconds, 3),
            "findings": self.findings,
            "skipped": self.skipped,
            "packages": [
                {**{k: v for k, v in asdict(p).items() if k != "findings"},
                 "counts": {s.id: p.count(s.id) for s in SCANS if p.count(s.id)},
                 "findings": [asdict(f) for f in p.findings]}
                for p in self.packages
            ],
            "conflicts": [{**asdict(c), "stack": c.stack} for c in self.conflicts],
            "missing": [{"required_by": who, "requirement": what} for who, what in self.missing],
            "directives": [asdict(d) for d in self.directives],
            "covered_by_existing_hooks": [{"directive": d, "package": _target(d), "hook": h, "does": how}
                                          for d, h, how in self.covered],
            "warnings": list(self.warnings),
            "runtime_fixes": [{"scan": s, "distribution": d, "first": w, "hits": n}
                              for s, d, w, n in self.runtime_fixes],
        }


def _scan_package(tree: RequirementTree, name: str,
                  installed: dict[str, Any]) -> PackageReport:
    node = tree.nodes[name]
    files = installed_files(node.dist)
    report = PackageReport(node.name, node.version, files.packages, node.required_by,
                           sorted(e for e in node.extras if e), tests_skipped=files.tests_skipped,
                           data_files=files.data, native_libs=files.native)
    lookups: dict[str, None] = {}
    for display, path in files.sources:
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                report.too_large.append(display)
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        report.files_scanned += 1
        package = display.split("/")[0].removesuffix(".py")
        hits = scan_text(text, scans_for(package))
        report.findings += [Finding(h.scan, display, h.line, h.text, package) for h in hits]
        if any(h.scan == "metadata" for h in hits):
            for looked_up in metadata_names(text):
                canonical = canonicalize_name(looked_up)
                if canonical in installed:
                    lookups.setdefault(installed[canonical].metadata["Name"], None)
    report.metadata_lookups = list(lookups)
    return report


def _first(report: PackageReport, scans: Iterable[str]) -> Finding:
    return next(f for f in report.findings if f.scan in scans)


def _target(directive: str) -> str:
    return directive.partition('("')[2].rstrip('")')


_FROM_IMPORT = re.compile(r"^\s*from\s+([A-Za-z_][\w.]*)\s+import\s+\(?([^)\n]*(?:\n[^)\n]*)*?)\)?\s*$",
                          re.MULTILINE)


def lazy_submodules(sources: list[str]) -> dict[str, str]:
    """Submodules that lazily-loading packages (transformers, diffusers: ``_LazyModule``)
    import only when the backend asks for a name from them: name -> module.

    PyInstaller's analysis cannot see them (the import happens by name at run time)."""
    import importlib

    wanted: dict[str, set[str]] = {}
    for text in sources:
        for match in _FROM_IMPORT.finditer(text):
            names = {n.strip().split(" as ")[0] for n in match.group(2).replace("\n", ",").split(",")}
            wanted.setdefault(match.group(1).split(".")[0], set()).update(n for n in names if n.isidentifier())
    found: dict[str, str] = {}
    for package, names in wanted.items():
        try:
            module = importlib.import_module(package)
        except Exception:  # noqa: BLE001 - not importable here: nothing to resolve
            continue
        table = getattr(module, "_class_to_module", None)
        if not isinstance(table, dict):
            continue
        for name in sorted(names):
            if name in table:
                found[name] = f"{package}.{table[name]}"
    return found


def _done_by(effects: dict[str, HookEffect], kind: str, target: str, scan: str) -> tuple[str, str] | None:
    """(hook, what it does) when a hook PyInstaller applies by itself already does this."""
    if kind == "copy_metadata":
        name = canonicalize_name(target)
        return next(((e.hook, "copies its metadata") for e in effects.values() if name in e.metadata), None)
    effect = effects.get(target)
    if effect is None:
        return None
    if kind == "collect_all" and scan != "lazy_loader" and effect.keeps_sources:
        return effect.hook, f"keeps its sources ({effect.keeps_sources})"
    if kind in ("collect_all", "collect_data_files") and scan in ("lazy_loader", "data_files") and effect.data_files:
        return effect.hook, f"collects its data files ({effect.data_files})"
    if kind == "collect_dynamic_libs" and effect.binaries:
        return effect.hook, f"collects its binaries ({effect.binaries})"
    return None


def _directives(root: PackageReport, packages: list[PackageReport], modules: list[str],
                covered: list[tuple[str, str, str]] | None = None,
                lazy: dict[str, str] | None = None,
                effects: dict[str, HookEffect] | None = None) -> list[Directive]:
    """The hook the findings imply, less what the hooks of ``effects`` already do (never
    less anything for the plugin's own packages: no existing hook knows them)."""
    out: dict[tuple[str, str], Directive | None] = {}  # None: an existing hook does it
    effects = effects or {}
    covered = covered if covered is not None else []

    def add(kind: str, target: str, reason: str, scan: str = "") -> None:
        key = canonicalize_name(target) if kind == "copy_metadata" else target
        if (kind, key) in out:
            return
        own = target in root.packages or canonicalize_name(target) == canonicalize_name(root.distribution)
        done = None if own or kind == "hiddenimport" else _done_by(effects, kind, target, scan)
        out[(kind, key)] = Directive(kind, target, reason) if done is None else None
        if done is not None:
            covered.append((f'{kind}("{target}")', *done))

    for module in modules:
        add("hiddenimport", module, "named as a string (entry point / EngineInfo.backend)")
    for name, module in sorted((lazy or {}).items(), key=lambda item: item[1]):
        add("hiddenimport", module, f"imported lazily when the backend asks for {name}")
    if modules:
        add("copy_metadata", root.distribution, "the registry reads the plugin's name and version")
    collect_all_scans = {s.id for s in SCANS if s.directive == "collect_all"}
    for report in packages:
        collected: set[str] = set()
        for finding in report.findings:
            if finding.scan in collect_all_scans and finding.package.isidentifier():
                collected.add(finding.package)
                add("collect_all", finding.package, f"{finding.scan}: {finding.where}", finding.scan)
        if report.count("metadata") and not collected:
            add("copy_metadata", report.distribution, f"metadata: {_first(report, {'metadata'}).where}")
        for looked_up in report.metadata_lookups:
            add("copy_metadata", looked_up, f"looked up by {report.distribution}")
        rest = [p for p in report.packages if p not in collected]
        if report.count("data_files") and report.data_files:
            first = _first(report, {"data_files"})
            for package in rest:
                if any(d.startswith(package + "/") for d in report.data_files):
                    count = len(report.data_files)
                    add("collect_data_files", package, f"data_files: {first.where} "
                        f"({count} data file{'s' if count > 1 else ''})", "data_files")
        for package in rest:
            libs = [n for n in report.native_libs if n.startswith(package + "/")]
            if libs:
                add("collect_dynamic_libs", package, f"ships {len(libs)} native "
                    f"librar{'ies' if len(libs) > 1 else 'y'}, e.g. {libs[0]}")
    return [d for d in out.values() if d is not None]


def _entry_modules(tree: RequirementTree) -> list[str]:
    """The plugin's entry-point modules and the backends their EngineInfo names (as strings)."""
    modules: dict[str, None] = {}
    sources = {display.removesuffix(".py").replace("/", "."): path
               for display, path in installed_files(tree.root.dist).sources}
    for entry_point in tree.root.dist.entry_points.select(group="voicebox.engines"):
        modules.setdefault(entry_point.module, None)
        source = sources.get(entry_point.module) or sources.get(entry_point.module + ".__init__")
        if source is not None:
            text = source.read_text(encoding="utf-8", errors="replace")
            modules.update(dict.fromkeys(_BACKEND.findall(text)))
    return list(modules)


def audit_distribution(distribution: str, path: Sequence[str] | None = None,
                       skip: Iterable[str] = DEFAULT_SKIP) -> AuditReport:
    """Audit ``distribution`` and its installed requirement tree (``path`` defaults to sys.path)."""
    started = time.perf_counter()
    tree = walk(distribution, path, skip)
    installed = installed_distributions(path)
    reports = [_scan_package(tree, name, installed)
               for name in sorted(tree.nodes, key=lambda n: (tree.nodes[n].depth, n))]
    runtime = []
    for report in reports:
        for scan in SCANS:
            if scan.directive == "runtime" and report.count(scan.id):
                runtime.append((scan.id, report.distribution, _first(report, {scan.id}).where,
                                report.count(scan.id)))
    root = reports[0]
    entry = _entry_modules(tree)
    sources = {display.removesuffix(".py").replace("/", "."): path
               for display, path in installed_files(tree.root.dist).sources}
    backend_texts = [sources[m].read_text(encoding="utf-8", errors="replace") for m in entry if m in sources]
    covered: list[tuple[str, str, str]] = []
    effects, unread = read_hooks({p for r in reports[1:] for p in r.packages} - set(root.packages), path)
    directives = _directives(root, reports, entry, covered, lazy_submodules(backend_texts), effects)
    warnings = stale_metadata(tree.root.dist)
    if unread and any(not _own(root, d) for d in directives):
        warnings.append(f"{unread}, so the hook below may repeat what the hooks PyInstaller applies by "
                        "itself already do (its own and pyinstaller-hooks-contrib's: sources, metadata, "
                        "data files); pip install pyinstaller here and audit again")
    warnings += [f"the existing hook {e.hook} could not be run ({e.error}); what it does is not "
                 "left out of the hook below" for e in effects.values() if e.error]
    result = AuditReport(root.distribution, root.version, reports, tree.conflicts, tree.missing,
                         tree.skipped, directives, runtime, covered=covered, warnings=warnings)
    result.seconds = time.perf_counter() - started
    return result


def _own(root: PackageReport, directive: Directive) -> bool:
    """A directive for the plugin itself (its modules, its metadata): no existing hook does it."""
    target = directive.target.split(".")[0]
    return target in root.packages or canonicalize_name(directive.target) == canonicalize_name(root.distribution)


def stale_metadata(dist: Any) -> list[str]:
    """An editable install whose pyproject.toml lists requirements its installed metadata
    lacks (metadata is written at install time): the audit would walk an old tree."""
    import tomllib
    from urllib.parse import unquote, urlparse

    text = dist.read_text("direct_url.json")
    if not text:
        return []
    try:
        direct = json.loads(text)
    except ValueError:
        return []
    if not direct.get("dir_info", {}).get("editable"):
        return []
    project = Path(unquote(urlparse(direct.get("url", "")).path)) / "pyproject.toml"
    try:
        declared = tomllib.loads(project.read_text(encoding="utf-8")).get("project", {}).get("dependencies", [])
    except (OSError, tomllib.TOMLDecodeError):
        return []
    installed = {canonicalize_name(Requirement(r).name) for r in dist.requires or () if _requirement_ok(r)}
    new = sorted({canonicalize_name(Requirement(r).name) for r in declared if _requirement_ok(r)} - installed)
    if not new:
        return []
    return [f"{dist.metadata['Name']} is an editable install whose metadata is older than "
            f"{project}: it lacks {', '.join(new)}; reinstall (pip install -e {project.parent}) "
            "for an audit of the tree as declared"]


def _requirement_ok(text: str) -> bool:
    try:
        Requirement(text)
    except Exception:  # noqa: BLE001 - a malformed line is not a requirement
        return False
    return True
