"""What is wrong with an installed engine, and what to run.

Two depths:

- :func:`requirement_problems` (the plain ``voicebox engines doctor``): metadata only. Walks
  each plugin distribution's installed requirement tree and reports every requirement the
  installed version does not satisfy, and every one that is missing. Upstream packages a
  plugin installs ``--no-deps`` (its ``upstream`` extra) are checked against the plugin's
  pins but not descended into: their own pins are the reason for ``--no-deps``.
- :func:`deep_check` (``--deep``, and ``GET /engines?deep=true``): in a child process per
  engine, imports the engine's backend and runs its ``EngineInfo.check`` (the cheapest real
  use of its model library). A failure is explained: the import that failed, the version
  conflicts found in the metadata, a torchaudio built for CUDA beside a CPU torch, and the
  command that fixes it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

__all__ = ["EngineHealth", "Problem", "deep_check", "plugin_problems", "probe", "requirement_problems",
           "upstream_distributions"]

#: How long one engine's child process may take (imports of torch stacks are slow).
PROBE_TIMEOUT = float(os.environ.get("VOICEBOX_DOCTOR_TIMEOUT", "600"))


@dataclass(frozen=True)
class Problem:
    """A requirement the installed distributions do not meet."""

    required_by: str
    requirement: str
    name: str
    #: The installed version, or "" when the distribution is missing.
    installed: str
    #: An upstream package the plugin installs without its own dependencies.
    no_deps: bool = False

    def __str__(self) -> str:
        have = f"{self.name} {self.installed} is installed" if self.installed else f"{self.name} is missing"
        return f"{self.required_by} requires {self.requirement}, but {have}"

    @property
    def fix(self) -> str:
        spec = str(Requirement(self.requirement).specifier) if _parses(self.requirement) else ""
        return f"pip install {'--no-deps ' if self.no_deps else ''}'{self.name}{spec}'"


@dataclass
class EngineHealth:
    engine: str
    distribution: str
    ok: bool
    #: "requirements", "import" or "check" (where it failed), "" when ok.
    stage: str = ""
    error: str = ""
    fix: str = ""
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _parses(text: str) -> bool:
    try:
        Requirement(text)
    except InvalidRequirement:
        return False
    return True


def upstream_distributions(distribution: str, index: Mapping[str, Any] | None = None) -> list[str]:
    """The packages a plugin installs ``--no-deps``: its ``upstream`` extra."""
    if index is not None:
        dist = index.get(canonicalize_name(distribution))
        if dist is None:
            return []
    else:
        import importlib_metadata

        try:
            dist = importlib_metadata.distribution(distribution)
        except importlib_metadata.PackageNotFoundError:
            return []
    names = []
    for line in dist.requires or ():
        if not _parses(line):
            continue
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is not None and marker.evaluate({"extra": "upstream"}) and not marker.evaluate({"extra": ""}):
            names.append(canonicalize_name(requirement.name))
    return names


@dataclass(frozen=True)
class IsolatedProblem:
    """A requirement problem the isolated environment found in itself (at describe time)."""

    text: str
    fix_in_env: str
    environment: str

    def __str__(self) -> str:
        return f"{self.text} (in the isolated environment {self.environment})"

    @property
    def fix(self) -> str:
        return f"{self.environment}/venv/bin/python -m {self.fix_in_env}"


def plugin_problems(plugin: Any) -> list[Any]:
    """A loaded plugin's requirement problems: read here, or as its isolated env reported them."""
    if getattr(plugin, "isolated", False):
        return [IsolatedProblem(text, fix, plugin.environment) for text, fix in plugin.requirement_problems]
    return requirement_problems(plugin.distribution)


def requirement_problems(distribution: str, index: Mapping[str, Any] | None = None) -> list[Problem]:
    """Unmet requirements in ``distribution``'s installed tree (metadata only); ``index``
    (canonical name to distribution) checks a planned set instead of the installed one."""
    from voicebox_core.audit.tree import walk

    if getattr(sys, "frozen", False) and index is None:
        return []  # a frozen app's dependencies were fixed at build time; little metadata ships
    upstream = upstream_distributions(distribution, index)
    try:
        tree = walk(distribution, skip=upstream, root_extras={"upstream"} if upstream else (),
                    installed_extras=False, index=index)
    except Exception:  # noqa: BLE001 - a distribution without metadata has nothing to check
        return []
    problems = [Problem(c.required_by, _clean(c.requirement), c.name, c.installed, c.name in upstream)
                for c in tree.conflicts]
    for required_by, requirement in tree.missing:
        if _parses(requirement):
            name = canonicalize_name(Requirement(requirement).name)
            problems.append(Problem(required_by, _clean(requirement), name, "", name in upstream))
    # A package at the wrong version brings its own unmet requirements; putting it back at a
    # version the plugin accepts settles those too, so they are not advice of their own.
    wrong = {p.name for p in problems if p.installed}
    return [p for p in problems if canonicalize_name(p.required_by) not in wrong]


def _clean(requirement: str) -> str:
    """The requirement without its marker (``; extra == "upstream"`` says nothing to a user)."""
    return requirement.split(";")[0].strip()


# -- the child process ---------------------------------------------------------------------


def _torch_build() -> tuple[str, bool] | None:
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    return str(torch.__version__), bool(getattr(torch.version, "cuda", None))


def _causes(exc: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        chain.append(current)
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return chain


def _torchaudio_mismatch(chain: list[BaseException]) -> str | None:
    """The text of a torchaudio extension that failed to load, if that is what happened."""
    for item in chain:
        text = str(item)
        if isinstance(item, (OSError, ImportError)) and "torchaudio" in text and re.search(
                r"\.so|\.pyd|\.dylib|lib(?:c10_cuda|cudart|torchaudio)", text):
            return text
    return None


def _explain(exc: BaseException, distribution: str = "") -> tuple[str, str]:
    """(what happened, what to run) for an exception raised while importing or checking."""
    chain = _causes(exc)
    root = chain[-1]
    text = f"{type(root).__name__}: {root}"
    repair = f"voicebox engines repair {distribution}".rstrip()
    if (mismatch := _torchaudio_mismatch(chain)) is not None:
        import importlib_metadata

        torch = _torch_build()
        try:
            audio = importlib_metadata.version("torchaudio")
        except importlib_metadata.PackageNotFoundError:
            audio = "?"
        torch_text = f"torch {torch[0]} (a {'CUDA' if torch[1] else 'CPU'} build)" if torch else "this torch"
        minor = ".".join(audio.split("+")[0].split(".")[:2])
        return (f"torchaudio {audio}'s compiled extension does not load beside {torch_text} "
                f"({mismatch}); PyPI's Linux torchaudio is built for CUDA torch {minor}",
                f"{repair} (installs a torchaudio that imports beside this torch, in the engine's environment)")
    if isinstance(root, ModuleNotFoundError) and root.name:
        return text, (f"{repair} (installs the plugin's upstream packages), or pip install "
                      f"{root.name.split('.')[0]} in the engine's environment")
    if isinstance(root, ImportError) and "cannot import name" in str(root):
        return text, ("a package is at a version this engine was not built for; the requirement "
                      f"problems above name it; `{repair}` puts the plugin's upstream packages back")
    return text, f"see the error; `{repair}` reinstalls what the plugin needs beside pip"


def probe(engine: str) -> dict[str, Any]:
    """Import ``engine``'s backend and run its check, here; the child process side."""
    from voicebox_core.registry import Registry, _import_attribute

    registry = Registry.discover()
    info = registry.engine(engine)
    started = time.perf_counter()
    stage = "import"
    try:
        _import_attribute(info.backend)
        if info.check:
            stage = "check"
            _import_attribute(info.check)()
    except BaseException as exc:  # noqa: BLE001 - reported, that is the point
        if isinstance(exc, KeyboardInterrupt):
            raise
        error, fix = _explain(exc, registry.plugin_of(engine).distribution)
        return {"ok": False, "stage": stage, "error": error, "fix": fix,
                "seconds": time.perf_counter() - started}
    return {"ok": True, "stage": "", "error": "", "fix": "", "seconds": time.perf_counter() - started}


def _probe_command(engine: str, env: Any = None) -> list[str]:
    if env is not None:  # isolated: its own Python checks it, in its own environment
        return [str(env.python), "-m", "voicebox_core", "engines", "probe", engine]
    if getattr(sys, "frozen", False):
        return [sys.executable, "engines", "probe", engine]
    return [sys.executable, "-m", "voicebox_core", "engines", "probe", engine]


def _run_probe(engine: str, isolated_env: Any = None) -> dict[str, Any]:
    started = time.perf_counter()
    env = {**os.environ, "VOICEBOX_STRICT_PLUGINS": "0"}
    if isolated_env is not None:
        from voicebox_core.isolation.envs import worker_environment

        env = {**worker_environment(), "VOICEBOX_STRICT_PLUGINS": "0"}
    try:
        done = subprocess.run(_probe_command(engine, isolated_env), capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        return {"ok": False, "stage": "import", "seconds": PROBE_TIMEOUT,
                "error": f"importing the engine took over {PROBE_TIMEOUT:.0f} s",
                "fix": "set VOICEBOX_DOCTOR_TIMEOUT higher on a slow machine"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"ok": False, "stage": "import", "seconds": time.perf_counter() - started,
                "error": f"the check process exited {done.returncode}: " + " / ".join(tail),
                "fix": "run it alone for the details: voicebox engines probe " + engine}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def deep_check(registry: Any, engines: list[str] | None = None, workers: int = 2) -> list[EngineHealth]:
    """Every engine (or those named), checked in child processes; metadata problems first."""
    names = engines or [e.name for e in registry.engines]
    problems_of: dict[str, list[Problem]] = {}
    for plugin in registry.plugins:
        problems_of[plugin.distribution] = plugin_problems(plugin)
    # Engines of one plugin that share a backend module and a check are probed once.
    first: dict[tuple[str, str], str] = {}
    for name in names:
        info = registry.engine(name)
        first.setdefault((info.backend.split(":")[0], info.check), name)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        probed = dict(zip(first.values(), pool.map(lambda e: _run_probe(e, registry.environment_of(e)),
                                                   first.values()), strict=True))
    results = {name: probed[first[(registry.engine(name).backend.split(":")[0], registry.engine(name).check)]]
               for name in names}
    report = []
    for name in names:
        distribution = registry.plugin_of(name).distribution
        problems = problems_of.get(distribution, [])
        outcome = results[name]
        health = EngineHealth(name, distribution, bool(outcome["ok"]) and not problems,
                              outcome["stage"], outcome["error"], outcome["fix"],
                              round(float(outcome["seconds"]), 2), [str(p) for p in problems])
        if problems:
            health.stage = health.stage or "requirements"
            fixes = " && ".join(dict.fromkeys(p.fix for p in problems))
            health.fix = fixes if not outcome["ok"] or not health.fix else f"{fixes}; then: {health.fix}"
            if outcome["ok"]:
                health.error = "imports, but its installed requirements conflict (it may fail at run time)"
        report.append(health)
    _record(registry, report)
    return report


def _record(registry: Any, report: list[EngineHealth]) -> None:
    """Keep each result for its environment's installed set (the plain commands read them)."""
    from voicebox_core import health as records

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in report:
        env = registry.environment_of(item.engine)
        where = (str(env.venv), env.versions_key()) if env is not None else records.here()
        groups.setdefault(where, []).append(item.as_dict())
    for (prefix, key), results in groups.items():
        records.record(prefix, key, results)
