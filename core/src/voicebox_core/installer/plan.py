"""Plan an install before touching anything: what pip would change, and whom it would break.

pip's resolver is asked (``pip install --dry-run --report``) what installing the plugin would
change in the target environment, and its ``upstream`` packages (installed ``--no-deps``)
are resolved the same way. The planned set (installed, overlaid with the report) is then
checked against every installed engine's requirements with the doctor's own logic
(:func:`voicebox_core.doctor.requirement_problems` over that set): a problem the plan adds is
a conflict, and a conflict is a reason to isolate.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from voicebox_core.errors import EngineInstallError
from voicebox_core.installer.target import Target

__all__ = ["ISOLATE_KEYWORD", "Change", "Conflict", "Plan", "PlannedDistribution", "UnresolvableError", "make_plan"]

#: A keyword in a plugin's metadata (``[project] keywords``) that asks for its own environment.
ISOLATE_KEYWORD = "voicebox-isolated"


class _Metadata:
    """The little of ``email.message.Message`` the requirement walk reads."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data.get(key.lower().replace("-", "_"))

    def get_all(self, key: str) -> list[str]:
        value = self._data.get(key.lower().replace("-", "_"))
        return list(value) if isinstance(value, list) else ([value] if value else [])

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if self[key] is not None else default


class PlannedDistribution:
    """A distribution as pip's report describes it: what it would be once installed."""

    def __init__(self, metadata: Mapping[str, Any]) -> None:
        self.name = str(metadata["name"])
        self.version = str(metadata["version"])
        self.requires = list(metadata.get("requires_dist") or ())
        self.metadata = _Metadata({**metadata, "provides_extra": metadata.get("provides_extra") or []})
        self.keywords = _keywords(metadata.get("keywords"))


def _keywords(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return [str(k).strip().lower() for k in value or () if str(k).strip()]


@dataclass(frozen=True)
class Change:
    """One distribution the install adds ("" before) or moves to another version."""

    name: str
    before: str
    after: str

    def __str__(self) -> str:
        if not self.before:
            return f"+{self.name} {self.after}"
        if self.before == self.after:
            return f"{self.name} {self.after} (reinstalled)"
        return f"{self.name} {self.before} → {self.after}"


@dataclass(frozen=True)
class Conflict:
    """An installed engine's requirement that the planned set would break."""

    engine_distribution: str
    problem: str
    package: str
    requirement: str

    def __str__(self) -> str:
        return self.problem


@dataclass
class Plan:
    requirement: str
    distribution: str
    version: str
    changes: list[Change]
    #: The plugin's ``upstream`` requirements (installed --no-deps).
    upstream: list[str]
    conflicts: list[Conflict]
    #: The plugin asks for its own environment (ISOLATE_KEYWORD).
    wants_isolation: bool
    seconds: float
    index: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def touched(self) -> list[str]:
        return [c.name for c in self.changes]

    def reason(self) -> str:
        """One line: what the install would move, and which engine that breaks."""
        if not self.conflicts:
            return "it asks for its own environment" if self.wants_isolation else ""
        moves = {c.name: c for c in self.changes}
        parts = []
        for package in dict.fromkeys(c.package for c in self.conflicts):
            move = moves.get(package)
            what = (f"move {package} {move.before} → {move.after}" if move and move.before
                    else f"install {package} {move.after}" if move else f"leave {package} as it is")
            hit = [c for c in self.conflicts if c.package == package]
            engines = "; ".join(dict.fromkeys(f"{c.engine_distribution} requires {c.requirement}" for c in hit))
            parts.append(f"{what}, but {engines}")
        return f"installing {self.distribution} here would " + "; and ".join(parts)


class UnresolvableError(EngineInstallError):
    """pip's resolver finds no set that installs the plugin beside what is here (the pins of
    this environment, or your constraints, exclude it): a reason to isolate."""

    def __init__(self, distribution: str, conflict: str) -> None:
        super().__init__(f"pip cannot install {distribution} beside what is here: {conflict}")
        self.conflict = conflict


def _conflict(output: str) -> str | None:
    """pip's own account of a ResolutionImpossible ("The conflict is caused by: ..."), one line."""
    if "ResolutionImpossible" not in output and "conflicting dependencies" not in output:
        return None
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if "conflict is caused by" in line), None)
    if start is None:
        return next((line.strip() for line in lines if "Cannot install" in line), "conflicting dependencies")
    causes = []
    for line in lines[start + 1:]:
        if not line.startswith((" ", "\t")) or not line.strip():
            break
        causes.append(line.strip())
    return "; ".join(causes) or "conflicting dependencies"


def _report(target: Target, arguments: Sequence[str], no_deps: bool = False, distribution: str = "") -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="voicebox-plan-") as tmp:
        report = Path(tmp) / "report.json"
        command = target.pip("install", "--dry-run", "--report", str(report),
                             *(["--no-deps"] if no_deps else []), *arguments)
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              env=target.environment())
        if done.returncode != 0:
            output = done.stdout + done.stderr
            if (conflict := _conflict(output)) is not None:
                raise UnresolvableError(distribution or " ".join(arguments), conflict)
            tail = [line for line in output.strip().splitlines() if line.strip() and "WARNING" not in line][-4:]
            raise EngineInstallError(f"pip cannot plan installing {' '.join(arguments)} (exit {done.returncode}): "
                                     + " / ".join(t.strip() for t in tail))
        data = json.loads(report.read_text(encoding="utf-8"))
    return list(data.get("install", ()))


def _upstream(plugin: Any) -> list[str]:
    found = []
    for text in plugin.requires or ():
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        marker = requirement.marker
        if marker is None or not marker.evaluate({"extra": "upstream"}) or marker.evaluate({"extra": ""}):
            continue
        requirement.marker = None
        found.append(str(requirement))
    return found


def _problems(distribution: str, index: Mapping[str, Any]) -> dict[tuple[str, str], Any]:
    from voicebox_core.doctor import requirement_problems

    return {(p.name, p.requirement): p for p in requirement_problems(distribution, index)}


def make_plan(target: Target, requirement: str, distribution: str, extra: Sequence[str] = ()) -> Plan:
    """What installing ``requirement`` (whose distribution is ``distribution``) and ``extra``
    into ``target`` would change, and the installed engines it would break."""
    started = time.perf_counter()
    installed = target.distributions()
    planned: dict[str, Any] = dict(installed)
    reported: list[str] = []
    for entry in _report(target, [requirement, *extra], distribution=distribution):
        reported.append(canonicalize_name(entry["metadata"]["name"]))
        planned[reported[-1]] = PlannedDistribution(entry["metadata"])
    plugin = planned.get(distribution)
    if plugin is None:
        raise EngineInstallError(f"pip would not install a distribution named {distribution} from "
                                 f"{requirement!r}; give an engine name, a wheel or a plugin folder")
    upstream = _upstream(plugin)
    if upstream:
        for entry in _report(target, upstream, no_deps=True):
            reported.append(canonicalize_name(entry["metadata"]["name"]))
            planned[reported[-1]] = PlannedDistribution(entry["metadata"])
    changes = []
    for name in dict.fromkeys(reported):
        before = installed.get(name)
        changes.append(Change(name, "" if before is None else str(before.version), str(planned[name].version)))
    keywords = getattr(plugin, "keywords", None)
    if keywords is None:
        keywords = _keywords(plugin.metadata.get("Keywords"))
    conflicts = []
    for engine in sorted({*target.engine_distributions(), distribution}):
        if engine == distribution:
            continue  # its own requirements are the resolver's business (upstream pins: the doctor's)
        before_problems = _problems(engine, installed) if engine in installed else {}
        for key, problem in _problems(engine, planned).items():
            if key in before_problems:
                continue  # broken already: not this install's doing
            conflicts.append(Conflict(engine, str(problem), problem.name, problem.requirement))
    return Plan(requirement, distribution, str(plugin.version), sorted(changes, key=lambda c: c.name),
                upstream, conflicts, ISOLATE_KEYWORD in keywords, time.perf_counter() - started, planned)
