"""An environment engines are installed into: this one, or an isolated engine's venv."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicebox_core.errors import EngineInstallError

__all__ = ["Say", "Target"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    """Where pip runs: an environment's Python, its prefix and the folders its packages are in."""

    python: str
    prefix: Path
    #: The IsolatedEnv this is, or None for the environment voicebox itself runs in.
    isolated: Any = None
    #: pip source options (--index-url, --find-links...) and constraint files, for every step.
    sources: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    verbose: bool = False
    say: Say = field(default=lambda line: None, compare=False)

    @classmethod
    def here(cls, **options: Any) -> Target:
        if getattr(sys, "frozen", False):
            raise EngineInstallError("the frozen app has no pip of its own: engines install isolated "
                                     "(give --python or VOICEBOX_PYTHON)")
        return cls(sys.executable, Path(sys.prefix), None, **options)

    @classmethod
    def of(cls, env: Any, **options: Any) -> Target:
        return cls(str(env.python), env.venv, env, **options)

    @property
    def label(self) -> str:
        if self.isolated is None:
            return f"this environment ({self.prefix})"
        return f"the isolated environment of {self.isolated.distribution} ({self.isolated.root})"

    def site(self) -> list[Path]:
        from voicebox_core.health import site_dirs

        return site_dirs(None if self.isolated is None else self.prefix)

    def key(self) -> str:
        from voicebox_core.health import environment_key

        return environment_key(self.site())

    def distributions(self) -> dict[str, Any]:
        """Canonical name to installed distribution (read from the folders, nothing imported)."""
        from voicebox_core.audit.tree import installed_distributions

        return installed_distributions([str(p) for p in self.site()])

    def environment(self) -> dict[str, str]:
        from voicebox_core.isolation.envs import external_environment, worker_environment

        return external_environment() if self.isolated is None else worker_environment()

    def pip(self, *args: str, sources: bool = True) -> list[str]:
        command = [self.python, "-m", "pip", *args, "--disable-pip-version-check"]
        if sources and args and args[0] in ("install", "download"):
            command += list(self.sources)
            for path in self.constraints:
                command += ["-c", path]
        return command

    def run(self, command: Sequence[str], what: str, timeout: float | None = None,
            quiet: bool = False) -> str:
        """Run a step; its output is shown with --verbose, its tail in the error otherwise."""
        if not quiet:
            self.say(f"{what}...")
        started = time.perf_counter()
        try:
            done = subprocess.run(list(command), stdin=subprocess.DEVNULL, text=True, timeout=timeout,
                                  stdout=None if self.verbose else subprocess.PIPE,
                                  stderr=None if self.verbose else subprocess.STDOUT,
                                  env=self.environment())
        except subprocess.TimeoutExpired:
            raise EngineInstallError(f"{what} took over {timeout:.0f} s") from None
        if done.returncode != 0:
            tail = [line for line in (done.stdout or "").strip().splitlines() if line.strip()][-6:]
            raise EngineInstallError(f"{what} failed (exit {done.returncode})"
                                     + (":\n  " + "\n  ".join(tail) if tail else ""))
        if not quiet:
            self.say(f"{what}: done in {time.perf_counter() - started:.1f} s")
        return done.stdout or ""

    def capture(self, *args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run this environment's Python with ``args``, its output kept."""
        return subprocess.run([self.python, *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env={**self.environment(), **(env or {})})

    def freeze(self) -> str:
        """``pip freeze --all``: what a rollback must give back exactly."""
        done = subprocess.run(self.pip("freeze", "--all"), capture_output=True, text=True,
                              env=self.environment(), stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise EngineInstallError(f"pip freeze failed in {self.label}: {done.stderr.strip()[-300:]}")
        return done.stdout

    def engine_distributions(self) -> list[str]:
        """The installed distributions that provide voicebox engines (entry points read only)."""
        from voicebox_core.registry import ENTRY_POINT_GROUP

        found = []
        for name, dist in self.distributions().items():
            try:
                if any(ep.group == ENTRY_POINT_GROUP for ep in dist.entry_points):
                    found.append(name)
            except Exception:  # noqa: BLE001, S112 - a distribution with unreadable metadata is no engine
                continue
        return sorted(found)
