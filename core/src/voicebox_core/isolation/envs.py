"""Isolated environments: one virtual environment per engine distribution, under the data dir.

Layout (``<data dir>/engines/<distribution>/``)::

    venv/               the environment: its own Python, voicebox-core, the plugin, its pins
    voicebox-env.json   the record: written last, so a folder without it is an install that
                        did not finish (removed by the next install)
    describe.json       the environment's engines as JSON, keyed by its installed versions
    worker-<engine>.log the last worker's stderr

Environments are made with the standard library's ``venv`` and the environment's own pip,
not uv: pip honours the user's pip configuration (index, find-links, caps, PIP_CONSTRAINT),
which uv does not read. On our machines, uv would fetch a 3 GB CUDA torch where pip takes the
CPU wheel on disk. Making one (pip steps, repair, check, removal on failure) is
:mod:`voicebox_core.installer`'s work; this module keeps the records.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicebox_core.errors import EngineInstallError, InvalidRequestError, NotFoundError

__all__ = [
    "IsolatedEnv",
    "default_core_requirement",
    "describe",
    "environments",
    "environments_root",
    "record",
    "requirement_name",
    "uninstall",
    "venv_python",
]

RECORD = "voicebox-env.json"
DESCRIBE = "describe.json"
DESCRIBE_TIMEOUT = float(os.environ.get("VOICEBOX_DESCRIBE_TIMEOUT", "120"))


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def environments_root(data: Path | None = None) -> Path:
    from voicebox_core.runtime.paths import data_dir

    return (data or data_dir()) / "engines"


@dataclass(frozen=True)
class IsolatedEnv:
    """One recorded environment."""

    distribution: str
    root: Path
    requirement: str
    constraints: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    core: str = ""
    created: float = 0.0
    python_version: str = ""
    #: How long the install took (environment, pip steps, first description), in seconds.
    install_seconds: float = 0.0
    #: pip source options it was installed with (--index-url, --find-links...).
    sources: tuple[str, ...] = ()

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def python(self) -> Path:
        return venv_python(self.venv)

    def log(self, engine: str) -> Path:
        return self.root / f"worker-{engine}.log"

    def site_packages(self) -> list[Path]:
        from voicebox_core.health import site_dirs

        return site_dirs(self.venv)

    def versions_key(self) -> str:
        """Changes whenever a distribution in the environment is added, removed or changes version."""
        from voicebox_core.health import environment_key

        return environment_key(self.site_packages())

    def record(self) -> dict[str, Any]:
        return {"distribution": self.distribution, "requirement": self.requirement,
                "constraints": list(self.constraints), "extra": list(self.extra), "core": self.core,
                "created": self.created, "python_version": self.python_version,
                "install_seconds": round(self.install_seconds, 1), "sources": list(self.sources)}


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def environments(root: Path | None = None) -> list[IsolatedEnv]:
    """Every recorded environment (none when the folder does not exist: one stat)."""
    root = root or environments_root()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        try:
            data = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found.append(IsolatedEnv(
            distribution=str(data["distribution"]), root=folder, requirement=str(data.get("requirement", "")),
            constraints=tuple(data.get("constraints", ())), extra=tuple(data.get("extra", ())),
            core=str(data.get("core", "")), created=float(data.get("created", 0.0)),
            python_version=str(data.get("python_version", "")),
            install_seconds=float(data.get("install_seconds", 0.0)), sources=tuple(data.get("sources", ()))))
    return found


def find(name: str, root: Path | None = None) -> IsolatedEnv | None:
    """The environment of a distribution (or of the distribution that provides engine ``name``)."""
    wanted = canonical(name)
    for env in environments(root):
        if canonical(env.distribution) == wanted:
            return env
    for env in environments(root):
        try:
            described = describe(env)
        except EngineInstallError:
            continue
        if any(e["name"] == name for p in described["plugins"] for e in p["engines"]):
            return env
    return None


# -- describe (cached) -------------------------------------------------------------------


def external_environment() -> dict[str, str]:
    """Our environment variables for another program (a venv's Python, pip): without the
    ones that would make it import our packages, and, in a frozen app, with the library
    path PyInstaller's bootloader replaced restored (its bundled libraries are not theirs)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    if getattr(sys, "frozen", False):
        for var in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
            original = env.pop(f"{var}_ORIG", None)
            if original is not None:
                env[var] = original
            else:
                env.pop(var, None)
    return env


def worker_environment() -> dict[str, str]:
    """The environment of a worker or of ``describe``: see :func:`external_environment`."""
    env = external_environment()
    env["VOICEBOX_WORKER"] = "1"
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def describe(env: IsolatedEnv, refresh: bool = False) -> dict[str, Any]:
    """The environment's plugins and engines; asked of the environment once per set of
    installed versions, then read from ``describe.json``."""
    cache = env.root / DESCRIBE
    key = env.versions_key()
    if not refresh:
        try:
            cached = json.loads(cache.read_text(encoding="utf-8"))
            if cached.get("key") == key:
                return dict(cached["describe"])
        except (OSError, ValueError, KeyError):
            pass
    if not env.python.exists():
        raise EngineInstallError(f"the isolated environment of {env.distribution} has no Python at "
                                 f"{env.python}; reinstall it: voicebox engines install "
                                 f"{env.requirement or env.distribution} --isolated")
    import subprocess  # only when a description is made: listing imports nothing it does not use

    try:
        done = subprocess.run([str(env.python), "-m", "voicebox_core.worker", "describe"],
                              capture_output=True, text=True, timeout=DESCRIBE_TIMEOUT,
                              env=worker_environment(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise EngineInstallError(f"the isolated environment of {env.distribution} did not describe its "
                                 f"engines within {DESCRIBE_TIMEOUT:.0f} s") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = " / ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise EngineInstallError(f"the isolated environment of {env.distribution} could not describe "
                                 f"its engines (exit {done.returncode}): {tail}")
    data: dict[str, Any] = json.loads(lines[-1])
    _write_json(cache, {"key": key, "describe": data})
    return data


def _write_json(path: Path, data: Any) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(partial, path)


# -- install / uninstall -----------------------------------------------------------------


def requirement_name(requirement: str) -> str:
    """The distribution a pip argument installs: a requirement, a wheel, or a project folder."""
    path = Path(requirement)
    if requirement.endswith(".whl"):
        return canonical(path.name.split("-")[0])
    if path.is_dir():
        import tomllib

        try:
            name = tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            raise InvalidRequestError(f"{requirement!r} is a folder without a pyproject.toml that "
                                      "names its project; give a requirement, a wheel or a project folder") from None
        return canonical(str(name))
    if path.suffix in (".gz", ".zip") and path.is_file():
        return canonical(re.split(r"-\d", path.name, maxsplit=1)[0])
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return canonical(Requirement(requirement).name)
    except InvalidRequirement:
        raise InvalidRequestError(f"{requirement!r} is neither a requirement (voicebox-engine-NAME), "
                                  "a wheel nor a project folder") from None


def default_core_requirement() -> str:
    """How to install this voicebox-core into an environment: from the folder or wheel it was
    installed from (a checkout, a wheelhouse), else by version from the index."""
    import importlib_metadata

    from voicebox_core import __version__

    try:
        direct = importlib_metadata.distribution("voicebox-core").read_text("direct_url.json")
    except importlib_metadata.PackageNotFoundError:
        direct = None
    if direct:
        from urllib.parse import unquote, urlparse

        url = json.loads(direct).get("url", "")
        if url.startswith("file:"):
            path = Path(unquote(urlparse(url).path))
            if path.exists():
                return str(path)
    return f"voicebox-core=={__version__}"


def base_python(explicit: str | None = None) -> str:
    """The Python that creates environments: --python, VOICEBOX_PYTHON, ours, or (frozen app,
    which has none of its own) python3 on PATH."""
    chosen = explicit or os.environ.get("VOICEBOX_PYTHON")
    if chosen:
        return chosen
    if not getattr(sys, "frozen", False):
        return sys.executable
    found = shutil.which("python3") or shutil.which("python")
    if not found:
        raise InvalidRequestError("the frozen app has no Python of its own to make an environment "
                                  "with; install Python 3.11+ and pass --python /path/to/python3")
    return found


def record(distribution: str, home: Path, requirement: str, constraints: tuple[str, ...], extra: tuple[str, ...],
           core: str, sources: tuple[str, ...], seconds: dict[str, float]) -> IsolatedEnv:
    """Record a finished environment (written last: a folder without it is an unfinished install)."""
    import subprocess

    python = venv_python(home / "venv")
    version = subprocess.run([str(python), "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, env=external_environment()).stdout.strip()
    env = IsolatedEnv(distribution, home, requirement, constraints, extra, core, time.time(), version,
                      sum(v for k, v in seconds.items() if k != "total"), sources)
    _write_json(home / RECORD, env.record())
    return env


def uninstall(name: str, root: Path | None = None) -> IsolatedEnv:
    env = find(name, root)
    if env is None:
        raise NotFoundError(f"no isolated environment holds {name!r}; isolated: "
                            + (", ".join(e.distribution for e in environments(root)) or "none"))
    (env.root / RECORD).unlink()  # unrecorded first: a half-removed folder is never listed
    shutil.rmtree(env.root, ignore_errors=True)
    return env
