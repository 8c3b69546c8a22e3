"""``voicebox engines install NAME``: one command that ends in a working set, or in a clear no.

In order:

1. **plan** (:mod:`.plan`): pip's resolver says what the install would change here; the
   planned set is checked against every installed engine's requirements;
2. **decide**: in this environment when nothing breaks; isolated (its own environment and
   worker process) when something would, or when the plugin asks for it, saying why in one
   line; ``--in-process`` refuses instead (``--force`` overrides), ``--isolated`` isolates;
3. **install, then repair what pip cannot**: the plugin's ``upstream`` packages without their
   own dependencies, and a torchaudio that imports beside the installed torch (:mod:`.torchaudio`);
4. **check**: the deep check (each engine's model library imported in a child process) of
   the new engine and of every engine that shares its environment;
5. **keep or roll back**: a failed step or check puts the environment back exactly as it was
   (:mod:`.snapshot`), or removes the isolated environment it made.

``uninstall`` and ``repair`` work the same way: a snapshot, the change, the check, and the
way back if the check fails.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from voicebox_core.errors import EngineInstallError, InvalidRequestError
from voicebox_core.installer.plan import Plan, UnresolvableError, make_plan
from voicebox_core.installer.snapshot import Snapshot
from voicebox_core.installer.target import Say, Target

__all__ = ["InstallRefusedError", "Outcome", "install", "repair", "resolve", "uninstall"]

#: The prefix of every engine distribution's name: ``NAME`` means ``voicebox-engine-NAME``.
PREFIX = "voicebox-engine-"


class InstallRefusedError(InvalidRequestError):
    """``--in-process`` where the install would break an installed engine (nothing changed)."""


@dataclass
class Outcome:
    """What an install, uninstall or repair did, and how long each step took."""

    action: str
    distribution: str
    version: str = ""
    lives: str = "in-process"
    where: str = ""
    reason: str = ""
    engines: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "distribution": self.distribution, "version": self.version,
                "lives": self.lives, "where": self.where, "reason": self.reason, "engines": self.engines,
                "changes": self.changes, "seconds": {k: round(v, 2) for k, v in self.seconds.items()}}

    def summary(self) -> str:
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items() if k != "total")
        verb = {"install": "installed", "uninstall": "uninstalled", "repair": "repaired"}[self.action]
        where = f" ({self.lives}: {self.where})" if self.where else ""
        lines = [f"{verb} {self.distribution} {self.version}".rstrip() + f"{where} in {self.seconds.get('total', 0.0):.1f} s"]
        if self.engines:
            lines.append(f"  engines: {', '.join(self.engines)}")
        if self.reason:
            lines.append(f"  why {self.lives}: {self.reason}")
        lines.append(f"  changed: {', '.join(self.changes) if self.changes else 'nothing'}")
        lines.append(f"  steps: {steps}")
        return "\n".join(lines)


# -- names ------------------------------------------------------------------------------


def resolve(name: str) -> tuple[str, str]:
    """(the pip argument, the canonical distribution) of NAME: an engine or distribution name
    (``NAME`` is ``voicebox-engine-NAME``), a requirement, a wheel or a plugin folder."""
    from voicebox_core.isolation.envs import requirement_name

    if Path(name).exists() or name.endswith(".whl"):
        path = str(Path(name).resolve()) if Path(name).exists() else name
        return path, requirement_name(name)
    try:
        requirement = Requirement(name)
    except InvalidRequirement:
        raise InvalidRequestError(f"{name!r} is neither an engine name, a requirement "
                                  f"({PREFIX}NAME), a wheel nor a plugin folder") from None
    canonical = canonicalize_name(requirement.name)
    if not canonical.startswith(PREFIX) and canonical != "voicebox-core":
        owner = _engine_owner(requirement.name)
        canonical = owner or f"{PREFIX}{canonical}"
        requirement.name = canonical
    return str(requirement), canonical


def _engine_owner(engine: str) -> str | None:
    """The distribution of an installed engine called ``engine`` (one of several engines of a plugin)."""
    from voicebox_core.registry import get_registry

    try:
        registry = get_registry()
        return canonicalize_name(registry.plugin_of(engine).distribution)
    except Exception:  # noqa: BLE001 - not an installed engine: the name is the distribution's
        return None


# -- the steps ----------------------------------------------------------------------------


def _installs(target: Target) -> Path:
    from voicebox_core.runtime.paths import data_dir

    digest = hashlib.sha256(str(target.prefix.resolve()).encode()).hexdigest()[:16]
    return data_dir() / "installs" / digest


def _repair(target: Target, distribution: str) -> list[str]:
    """The plugin's upstream packages (--no-deps) and torchaudio, in ``target``; what it did."""
    done = []
    listed = target.capture("-m", "voicebox_core.worker", "upstream", distribution, timeout=120)
    if listed.returncode != 0:
        raise EngineInstallError(f"{distribution} is not installed in {target.label} (is it the name of "
                                 "a voicebox engine plugin?)")
    upstream = json.loads(listed.stdout.strip().splitlines()[-1])
    if upstream:
        target.run(target.pip("install", "--no-deps", *upstream),
                   f"installing {', '.join(upstream)} without their own dependencies (the plugin's upstream extra)")
        done += upstream
    out = target.run([target.python, "-m", "voicebox_core.installer.torchaudio", "--install", "--", *target.sources],
                     "checking that torchaudio imports beside this torch", quiet=True)
    last = (out.strip().splitlines() or [""])[-1]
    if "installed" in last:
        target.say(last)
        done.append("torchaudio (pure-Python wheel)")
    return done


def check(target: Target, distributions: Sequence[str], timeout: float | None = None,
          known: Sequence[str] = ()) -> list[str]:
    """The deep check of these distributions' engines in ``target`` (child processes); one
    line per failure, none when every engine is fine. Results are kept (voicebox_core.health).
    Distributions in ``known`` were broken before the change: their failures are said, not
    counted."""
    from voicebox_core.doctor import PROBE_TIMEOUT

    limit = timeout or PROBE_TIMEOUT * (len(distributions) + 1)
    done = target.capture("-m", "voicebox_core", "engines", "doctor", "--deep", "--json", "--local", timeout=limit,
                          env={"VOICEBOX_PLUGINS": ",".join(distributions), "VOICEBOX_STRICT_PLUGINS": "0"})
    try:
        report = json.loads(done.stdout)
    except ValueError:
        tail = " / ".join(done.stderr.strip().splitlines()[-3:])
        return [f"the check itself failed (exit {done.returncode}): {tail}"]
    failures: list[tuple[str, str]] = [
        (f["distribution"], f"{f['plugin']} ({f['distribution']}): {f['stage']} failed: {f['reason'].splitlines()[0]}")
        for f in report.get("failed", ())]
    for engine in report.get("engines") or ():
        if not engine["ok"]:
            failures.append((engine["distribution"], f"{engine['engine']} ({engine['distribution']}): "
                             f"{engine['stage']}: {engine['error']}" + (f"; fix: {engine['fix']}" if engine.get("fix") else "")))
    seen = {canonicalize_name(p["distribution"]) for p in report.get("plugins", ())}
    seen |= {canonicalize_name(f["distribution"]) for f in report.get("failed", ())}
    failures += [(name, f"{name} registers no voicebox engine (is it an engine plugin?)")
                 for name in distributions if canonicalize_name(name) not in seen]
    before = {canonicalize_name(k) for k in known}
    for distribution, line in failures:
        if canonicalize_name(distribution) in before:
            target.say(f"already broken before this change, left as it was: {line}")
    return [line for distribution, line in failures if canonicalize_name(distribution) not in before]


def broken_before(target: Target) -> list[str]:
    """Engine distributions already broken in ``target``: set aside at discovery, or failed
    their last deep check on this very set (the plain doctor, no model library imported)."""
    done = target.capture("-m", "voicebox_core", "engines", "doctor", "--json", "--local", timeout=300)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        return []
    broken = {f["distribution"] for f in report.get("failed", ())}
    broken |= {p["distribution"] for p in report.get("plugins", ()) if p.get("state") in ("BROKEN", "FAILED")}
    return sorted(broken)


def _engines_of(target: Target, distribution: str) -> list[str]:
    done = target.capture("-m", "voicebox_core", "engines", "list", "--json", timeout=300,
                          env={"VOICEBOX_PLUGINS": distribution})
    try:
        return [row["engine"] for row in json.loads(done.stdout)["engines"]]
    except (ValueError, KeyError):
        return []


def _changes(snapshot: Snapshot, target: Target) -> list[str]:
    now = {n: str(d.version) for n, d in target.distributions().items()}
    changes = []
    for name in snapshot.changed():
        old, new = snapshot.versions.get(name), now.get(name)
        changes.append(f"-{name} {old}" if new is None else f"+{name} {new}" if old is None
                       else f"{name} {old} → {new}" if old != new else f"{name} {new} (reinstalled)")
    return changes


def _transaction(target: Target, distribution: str, touched: Sequence[str], outcome: Outcome,
                 change: Callable[[], None], checked: Callable[[], Sequence[str]], advice: str) -> Snapshot:
    """Snapshot, ``change``, check; on any failure the snapshot is restored and the error says
    what failed and what the user can do."""
    folder = _installs(target) / f"{time.strftime('%Y%m%d-%H%M%S')}-{outcome.action}-{distribution}"
    snapshot = Snapshot(target, touched, folder)
    outcome.seconds["snapshot"] = snapshot.seconds
    try:
        change()
        started = time.perf_counter()
        failures = checked()
        outcome.seconds["check"] = time.perf_counter() - started
        if failures:
            raise EngineInstallError(f"the check failed: {'; '.join(failures)}")
    except BaseException as exc:
        started = time.perf_counter()
        target.say(f"{outcome.action} of {distribution} failed; putting {target.label} back as it was...")
        try:
            snapshot.restore()
        except EngineInstallError as restore_error:
            raise EngineInstallError(f"{outcome.action} of {distribution} failed ({_first(exc)}), and so did "
                                     f"the rollback: {restore_error}") from None
        outcome.seconds["rollback"] = time.perf_counter() - started
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise EngineInstallError(f"{outcome.action} of {distribution} failed: {_first(exc)}; rolled back in "
                                 f"{outcome.seconds['rollback']:.1f} s, {target.label} has exactly the set it had"
                                 + (f"; {advice}" if advice else "")) from None
    outcome.changes = _changes(snapshot, target)
    snapshot.discard()
    return snapshot


def _first(exc: BaseException) -> str:
    """The error as one line (pip's output tail joined)."""
    text = str(exc).removeprefix("the check failed: ") or type(exc).__name__
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())


# -- install ------------------------------------------------------------------------------


def install(name: str, *, mode: str = "auto", force: bool = False, sources: Sequence[str] = (),
            constraints: Sequence[str] = (), extra: Sequence[str] = (), core: str | None = None,
            python: str | None = None, verbose: bool = False, say: Say = print) -> Outcome:
    """Plan, decide, install, repair, check; keep or roll back. ``mode``: ``auto``,
    ``in-process`` or ``isolated``."""
    started = time.perf_counter()
    requirement, distribution = resolve(name)
    constraints = tuple(str(Path(c).resolve()) for c in constraints)
    for path in constraints:
        if not Path(path).is_file():
            raise InvalidRequestError(f"constraint file {path!r} does not exist")
    options = {"sources": tuple(sources), "constraints": constraints, "verbose": verbose, "say": say}
    frozen = getattr(sys, "frozen", False)
    if frozen and mode == "in-process":
        raise InvalidRequestError("the frozen app has no pip of its own: it installs engines isolated "
                                  "(drop --in-process; give --python or VOICEBOX_PYTHON)")
    outcome = Outcome("install", distribution)
    reason = "the frozen app installs every engine isolated" if frozen else "you asked (--isolated)"
    if mode == "auto" and not frozen:
        from voicebox_core.isolation import envs

        if envs.find(distribution) is not None:
            mode, reason = "isolated", "it is isolated already (reinstalled in its environment)"
    if mode != "isolated" and not frozen:
        target = Target.here(**options)
        say(f"planning: asking pip what installing {requirement} would change in {target.label}...")
        planning = time.perf_counter()
        try:
            plan = make_plan(target, requirement, distribution, extra)
        except UnresolvableError as exc:
            outcome.seconds["plan"] = time.perf_counter() - planning
            if mode == "in-process":
                raise InstallRefusedError(f"{exc}; nothing changed (install it --isolated)") from None
            say(f"isolating {distribution}: {exc}")
            _install_isolated(requirement, distribution, extra, core, python, options, outcome)
            outcome.reason = str(exc)
            outcome.seconds["total"] = time.perf_counter() - started
            return outcome
        outcome.seconds["plan"] = plan.seconds
        outcome.version = plan.version
        why = plan.reason()
        say(f"plan ({plan.seconds:.1f} s): " + (", ".join(map(str, plan.changes)) or "nothing to change")
            + (f"; {why}" if why else ""))
        if mode == "in-process" and plan.conflicts and not force:
            raise InstallRefusedError(f"{why}; nothing changed (install it --isolated, or --force to break them)")
        if not plan.conflicts and not (plan.wants_isolation and mode == "auto") or mode == "in-process":
            _install_here(target, plan, extra, outcome)
            outcome.seconds["total"] = time.perf_counter() - started
            return outcome
        reason = why
        say(f"isolating {distribution}: {why}")
    _install_isolated(requirement, distribution, extra, core, python, options, outcome)
    outcome.reason = reason
    outcome.seconds["total"] = time.perf_counter() - started
    return outcome


def _install_here(target: Target, plan: Plan, extra: Sequence[str], outcome: Outcome) -> None:
    def change() -> None:
        started = time.perf_counter()
        target.run(target.pip("install", plan.requirement, *extra), f"installing {plan.requirement} into {target.label}")
        outcome.seconds["install"] = time.perf_counter() - started
        started = time.perf_counter()
        _repair(target, plan.distribution)
        outcome.seconds["repair"] = time.perf_counter() - started

    known = [d for d in broken_before(target) if canonicalize_name(d) != plan.distribution]

    def checked() -> list[str]:
        target.say(f"checking every engine in {target.label} (each imported in a child process)...")
        return check(target, sorted({*target.engine_distributions(), plan.distribution}), known=known)

    _transaction(target, plan.distribution, [*plan.touched, "torchaudio"], outcome, change, checked,
                 f"try `voicebox engines install {plan.requirement} --isolated`")
    outcome.lives, outcome.where = "in-process", str(target.prefix)
    outcome.engines = _engines_of(target, plan.distribution)
    _record_install(target, plan.distribution, outcome)


def _record_install(target: Target, distribution: str, outcome: Outcome) -> None:
    """What an in-process install added, for ``uninstall`` to take back."""
    added = [c[1:].split(" ")[0] for c in outcome.changes if c.startswith("+")]
    folder = _installs(target)
    folder.mkdir(parents=True, exist_ok=True)
    previous = _installed_record(target, distribution)
    data = {"distribution": distribution, "added": sorted({*previous.get("added", ()), *added} - {distribution}),
            "time": time.time()}
    (folder / f"{distribution}.json").write_text(json.dumps(data, indent=1), encoding="utf-8")


def _installed_record(target: Target, distribution: str) -> dict[str, Any]:
    try:
        data = json.loads((_installs(target) / f"{distribution}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _install_isolated(requirement: str, distribution: str, extra: Sequence[str], core: str | None,
                      python: str | None, options: dict[str, Any], outcome: Outcome) -> None:
    from voicebox_core.isolation import envs

    say: Say = options["say"]
    home = envs.environments_root() / distribution
    existing = envs.find(distribution)
    core = core or envs.default_core_requirement()
    started = time.perf_counter()
    if existing is not None:  # a reinstall: the environment is kept, and put back on failure
        target = Target.of(existing, **options)
        plan = make_plan(target, requirement, distribution, extra)
        outcome.seconds["plan"] = plan.seconds

        def change() -> None:
            _steps(target, requirement, distribution, extra, core, outcome)

        _transaction(target, distribution, [*plan.touched, "torchaudio"], outcome, change,
                     lambda: check(target, [distribution]), "")
        env = existing
    else:
        if home.exists():
            shutil.rmtree(home)  # an earlier install that did not finish
        try:
            home.mkdir(parents=True)
            venv = home / "venv"
            base = envs.base_python(python)
            target = Target(str(envs.venv_python(venv)), venv, envs.IsolatedEnv(distribution, home, requirement),
                            **options)
            target.run([base, "-m", "venv", str(venv)], f"creating the environment {venv}")
            outcome.seconds["environment"] = time.perf_counter() - started
            _steps(target, requirement, distribution, extra, core, outcome)
            started = time.perf_counter()
            say(f"checking {distribution} in its environment (imported in a child process)...")
            failures = check(target, [distribution])
            outcome.seconds["check"] = time.perf_counter() - started
            if failures:
                raise EngineInstallError(f"the check failed: {'; '.join(failures)}")
            env = envs.record(distribution, home, requirement, options["constraints"], tuple(extra), core,
                              options["sources"], outcome.seconds)
        except BaseException as exc:
            shutil.rmtree(home, ignore_errors=True)
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise EngineInstallError(f"isolated install of {distribution} failed: {_first(exc)}; its "
                                     "environment was removed, nothing else changed") from None
        outcome.changes = [f"+{n} {d.version}" for n, d in sorted(target.distributions().items())
                           if n in {distribution, "torch", "transformers", "torchaudio"}]
    described = envs.describe(env, refresh=True)
    outcome.version = next((p["version"] for p in described["plugins"]
                            if canonicalize_name(p["distribution"]) == distribution), outcome.version)
    outcome.engines = [e["name"] for p in described["plugins"] for e in p["engines"]
                       if canonicalize_name(p["distribution"]) == distribution]
    outcome.lives, outcome.where = "isolated", str(env.root)


def _steps(target: Target, requirement: str, distribution: str, extra: Sequence[str], core: str,
           outcome: Outcome) -> None:
    started = time.perf_counter()
    target.run(target.pip("install", core, requirement, *extra),
               f"installing {requirement} with voicebox-core ({core}) into {target.label}")
    outcome.seconds["install"] = time.perf_counter() - started
    started = time.perf_counter()
    _repair(target, distribution)
    outcome.seconds["repair"] = time.perf_counter() - started


# -- uninstall and repair -----------------------------------------------------------------


def uninstall(name: str, *, verbose: bool = False, say: Say = print) -> Outcome:
    """An isolated engine's environment removed, or an in-process plugin uninstalled with the
    upstream packages and the packages its install added that nothing installed still needs;
    the engines left are checked, and a failed check puts everything back."""
    from voicebox_core.isolation import envs

    started = time.perf_counter()
    _, distribution = resolve(name)
    outcome = Outcome("uninstall", distribution)
    env = envs.find(distribution) or envs.find(name)
    if env is not None:
        envs.uninstall(env.distribution)
        outcome.lives, outcome.where, outcome.changes = "isolated", str(env.root), [f"-{env.distribution} (environment)"]
        outcome.seconds["total"] = time.perf_counter() - started
        return outcome
    if getattr(sys, "frozen", False):
        raise InvalidRequestError(f"no isolated environment holds {name!r}")
    target = Target.here(verbose=verbose, say=say)
    installed = target.distributions()
    if distribution not in installed:
        raise InvalidRequestError(f"{distribution} is neither isolated nor installed in {target.label}")
    outcome.version = str(installed[distribution].version)
    from voicebox_core.doctor import upstream_distributions

    candidates = {distribution, *upstream_distributions(distribution, installed),
                  *_installed_record(target, distribution).get("added", ())}
    remove = _removable(installed, candidates, distribution)

    def change() -> None:
        target.run(target.pip("uninstall", "--yes", *sorted(remove)), f"removing {', '.join(sorted(remove))}")

    known = broken_before(target)

    def checked() -> list[str]:
        left = [d for d in target.engine_distributions() if d != distribution]
        return check(target, left, known=known) if left else []

    _transaction(target, distribution, sorted(remove), outcome, change, checked, "")
    (_installs(target) / f"{distribution}.json").unlink(missing_ok=True)
    outcome.where = str(target.prefix)
    outcome.seconds["total"] = time.perf_counter() - started
    return outcome


def _removable(installed: dict[str, Any], candidates: set[str], distribution: str) -> set[str]:
    """``candidates`` that no distribution staying installed requires (under any marker):
    a package another engine needs is never removed."""
    remove = {c for c in candidates if c in installed}
    while True:
        needed: set[str] = set()
        for name, dist in installed.items():
            if name in remove:
                continue
            for line in dist.requires or ():
                try:
                    needed.add(canonicalize_name(Requirement(line).name))
                except InvalidRequirement:
                    continue
        kept = {c for c in remove if c in needed and c != distribution}
        if not kept:
            return remove
        remove -= kept


def repair(name: str | None = None, *, sources: Sequence[str] = (), verbose: bool = False,
           say: Say = print) -> Outcome:
    """What pip cannot do, done again where the engine lives (its upstream packages, a
    torchaudio that imports), then the check; put back if the check fails."""
    from voicebox_core.isolation import envs

    started = time.perf_counter()
    options: dict[str, Any] = {"sources": tuple(sources), "verbose": verbose, "say": say}
    env = None
    if name is not None:
        _, distribution = resolve(name)
        env = envs.find(distribution) or envs.find(name)
    if env is not None:
        target = Target.of(env, **{**options, "sources": tuple(sources) or env.sources,
                                   "constraints": env.constraints})
        distributions = [env.distribution]
    else:
        target = Target.here(**options)
        installed = target.engine_distributions()
        distributions = installed if name is None else [resolve(name)[1]]
        missing = [d for d in distributions if d not in installed]
        if missing:
            raise InvalidRequestError(f"{', '.join(missing)} is not installed in {target.label}; install it: "
                                      f"voicebox engines install {missing[0]}")
    outcome = Outcome("repair", ", ".join(distributions) or "nothing")
    from voicebox_core.doctor import upstream_distributions

    touched = {"torchaudio", *(u for d in distributions for u in upstream_distributions(d, target.distributions()))}

    def change() -> None:
        for distribution in distributions:
            _repair(target, distribution)

    known = broken_before(target)
    _transaction(target, outcome.distribution, sorted(touched), outcome, change,
                 lambda: check(target, target.engine_distributions(), known=known), "")
    outcome.lives = "isolated" if env is not None else "in-process"
    outcome.where = str(env.root if env is not None else target.prefix)
    outcome.seconds["total"] = time.perf_counter() - started
    return outcome
