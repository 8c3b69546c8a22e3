"""Walk an installed distribution and its requirement tree, as installed.

A requirement is followed when its environment marker holds. An extra is followed when the
requirement that reached the distribution asked for it, or when every package it adds is
installed ("extras as installed"). Every followed edge whose target is installed is checked
against the installed version; one whose target is absent is reported as missing.
"""

from __future__ import annotations

import difflib
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import importlib_metadata
from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from voicebox_core.errors import InvalidRequestError

__all__ = [
    "STACK",
    "Conflict",
    "Node",
    "RequirementTree",
    "UnknownDistributionError",
    "installed_distributions",
    "walk",
]

#: The packages whose pins the guide warns about: one version serves every engine.
STACK = frozenset({"torch", "transformers", "numpy"})


class UnknownDistributionError(InvalidRequestError):
    """The distribution to audit is not installed (exit 2)."""


@dataclass
class Node:
    """One installed distribution of the tree."""

    name: str
    version: str
    dist: importlib_metadata.Distribution
    required_by: list[str] = field(default_factory=list)
    extras: set[str] = field(default_factory=set)
    depth: int = 0


@dataclass(frozen=True)
class Conflict:
    """A followed requirement that the installed version does not satisfy."""

    required_by: str
    requirement: str
    name: str
    installed: str

    @property
    def stack(self) -> bool:
        return self.name in STACK


@dataclass
class RequirementTree:
    root: Node
    nodes: dict[str, Node]
    conflicts: list[Conflict]
    #: Requirements whose target is not installed: (required_by, requirement).
    missing: list[tuple[str, str]]
    #: Distributions reached but not walked (their name and who required them).
    skipped: dict[str, list[str]]


def installed_distributions(path: Sequence[str] | None = None) -> dict[str, importlib_metadata.Distribution]:
    """Canonical name to distribution, the first on ``path`` (default ``sys.path``) winning."""
    found: dict[str, importlib_metadata.Distribution] = {}
    kwargs = {"path": list(path)} if path is not None else {}
    for dist in importlib_metadata.distributions(**kwargs):
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            found.setdefault(canonicalize_name(name), dist)
    return found


def _requirements(dist: importlib_metadata.Distribution) -> list[Requirement]:
    parsed = []
    for line in dist.requires or ():
        try:
            parsed.append(Requirement(line))
        except InvalidRequirement:
            continue
    return parsed


def _applies(requirement: Requirement, extra: str) -> bool:
    if requirement.marker is None:
        return extra == ""
    try:
        return bool(requirement.marker.evaluate({"extra": extra}))
    except UndefinedEnvironmentName:
        return False


#: Extras never counted as installed unless a requirement asks for them: they serve a
#: package's own development, not its users.
_DEVELOPMENT_EXTRA = re.compile(r"^(?:tests?|testing|dev|develop|docs?|lint|typing|quality"
                                r"|all|full|benchmarks?|check|style)$")


def _installed_extras(name: str, dist: importlib_metadata.Distribution, requirements: list[Requirement],
                      index: dict[str, importlib_metadata.Distribution]) -> set[str]:
    """Extras all of whose added packages are installed at versions they accept."""
    chosen = set()
    for extra in dist.metadata.get_all("Provides-Extra") or ():
        if _DEVELOPMENT_EXTRA.match(extra):
            continue
        added = [r for r in requirements if _applies(r, extra) and not _applies(r, "")]
        others = [r for r in added if canonicalize_name(r.name) != name]
        if others and all(canonicalize_name(r.name) in index
                          and _satisfied(r, index[canonicalize_name(r.name)].version)
                          for r in others):
            chosen.add(extra)
    return chosen


def _satisfied(requirement: Requirement, version: str) -> bool:
    if not requirement.specifier:
        return True
    try:
        return requirement.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return True


def walk(distribution: str, path: Sequence[str] | None = None,
         skip: Iterable[str] = (), root_extras: Iterable[str] = (),
         installed_extras: bool = True, index: Mapping[str, Any] | None = None) -> RequirementTree:
    """The installed requirement tree of ``distribution``; ``skip`` names are not descended into.

    ``root_extras`` are followed on the root; ``installed_extras`` also follows every extra
    whose packages are all installed (the audit's view). Without it only extras some
    requirement asks for are followed (the doctor's view: what must hold for the engine).
    ``index`` (canonical name to a distribution, or anything with its ``version``, ``requires``
    and ``metadata``) replaces what is installed: a planned set, before anything changes.
    """
    index = installed_distributions(path) if index is None else index
    root_name = canonicalize_name(distribution)
    if root_name not in index:
        close = difflib.get_close_matches(root_name, list(index), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else (
            f"; install it first (pip install {distribution}) in this environment")
        raise UnknownDistributionError(f"distribution {distribution!r} is not installed{hint}")
    skipped_names = {canonicalize_name(s) for s in skip} - {root_name}
    nodes: dict[str, Node] = {}
    conflicts: list[Conflict] = []
    missing: list[tuple[str, str]] = []
    skipped: dict[str, list[str]] = {}
    queue: deque[tuple[str, set[str], str | None, int]] = deque([(root_name, set(root_extras), None, 0)])
    while queue:
        name, extras, parent, depth = queue.popleft()
        dist = index[name]
        node = nodes.get(name)
        revisit = node is not None
        if node is None:
            node = nodes[name] = Node(name, dist.version, dist, depth=depth)
            requirements = _requirements(dist)
            if installed_extras:
                extras = extras | _installed_extras(name, dist, requirements, index)
            new_extras = {""} | extras
        else:
            requirements = _requirements(dist)
            new_extras = extras - node.extras
        if parent and parent not in node.required_by:
            node.required_by.append(parent)
        node.extras |= extras
        for requirement in requirements:
            if not any(_applies(requirement, extra) for extra in new_extras) or (
                    revisit and _applies(requirement, "")):
                continue
            target = canonicalize_name(requirement.name)
            if target == name:
                if set(requirement.extras) - node.extras:
                    queue.append((name, set(requirement.extras), None, depth))
                continue
            if target not in index:
                missing.append((node.name, str(requirement)))
                continue
            installed = index[target].version
            if not _satisfied(requirement, installed):
                conflicts.append(Conflict(node.name, str(requirement), target, installed))
            if target in skipped_names:
                skipped.setdefault(target, [])
                if name not in skipped[target]:
                    skipped[target].append(name)
                continue
            known = nodes.get(target)
            if known is None or set(requirement.extras) - known.extras:
                queue.append((target, set(requirement.extras), name, depth + 1))
            elif name not in known.required_by:
                known.required_by.append(name)
    return RequirementTree(nodes[root_name], nodes, conflicts, missing, skipped)


_EXTENSION = re.compile(r"\.(?:cpython-[^.]+|abi3|cp\d+[^.]*|pypy[^.]*)\.(?:so|pyd)$|\.pyd$")
_NATIVE = re.compile(r"\.(?:so|dylib|dll)$|\.so\.\d")
_NOT_DATA = {".py", ".pyc", ".pyi", ".pyx", ".pxd", ".pxi", ".c", ".h", ".cpp", ".hpp", ".cc",
             ".typed", ".md", ".rst", ".txt", ".cfg", ".toml"}
_DATA_ALWAYS = {"requirements.txt"}


@dataclass
class FileSet:
    """The installed files of one distribution, sorted by what a freeze must do with them."""

    sources: list[tuple[str, Path]] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    native: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    tests_skipped: int = 0


#: Folders a frozen app never runs: tests and test helpers, PyInstaller hooks and
#: distutils build helpers (build time only).
_NOT_RUN = frozenset({"tests", "test", "testing", "__pyinstaller", "_pyinstaller", "distutils"})


def _is_test(parts: tuple[str, ...]) -> bool:
    name = parts[-1]
    return (any(p in _NOT_RUN for p in parts[:-1]) or name == "conftest.py"
            or (name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))))


def _editable_roots(dist: importlib_metadata.Distribution) -> list[Path]:
    """Source folders an editable install points at through a ``.pth`` file."""
    roots = []
    for file in dist.files or ():
        if file.suffix == ".pth":
            try:
                text = Path(str(dist.locate_file(file))).read_text(encoding="utf-8")
            except OSError:
                continue
            roots += [Path(line.strip()) for line in text.splitlines()
                      if line.strip() and not line.startswith(("import", "#")) and Path(line.strip()).is_dir()]
    return roots


def installed_files(dist: importlib_metadata.Distribution) -> FileSet:
    """Sources, data files and native libraries of ``dist``, tests left out."""
    result = FileSet()
    packages: dict[str, None] = {}
    entries: list[tuple[tuple[str, ...], Path]] = []
    for file in dist.files or ():
        parts = file.parts
        if not parts or parts[0] == ".." or parts[0].endswith((".dist-info", ".egg-info", ".data")):
            continue
        if "__pycache__" in parts:
            continue
        entries.append((parts, Path(str(dist.locate_file(file)))))
    for root in _editable_roots(dist):
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                entries.append((path.relative_to(root).parts, path))
    for parts, path in entries:
        if _is_test(parts):
            result.tests_skipped += 1
            continue
        name = parts[-1]
        top = parts[0][:-3] if len(parts) == 1 and name.endswith(".py") else parts[0]
        display = "/".join(parts)
        if name.endswith(".py"):
            result.sources.append((display, path))
            packages.setdefault(top, None)
        elif _EXTENSION.search(name):
            packages.setdefault(top.split(".")[0], None)
        elif _NATIVE.search(name):
            if len(parts) > 1 and not parts[0].endswith((".libs", ".dylibs")):
                result.native.append(display)
        elif len(parts) > 1 and (Path(name).suffix not in _NOT_DATA or name in _DATA_ALWAYS):
            result.data.append(display)
    result.packages = [p for p in packages if p.isidentifier()]
    return result
