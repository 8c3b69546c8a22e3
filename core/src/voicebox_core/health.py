"""The last deep check of each engine, kept per environment and keyed by its installed set.

``voicebox engines doctor --deep`` (and ``voicebox engines install``, which runs it) imports
each engine's model library in a child process; that is the only way to know an engine
works, and it takes seconds. Its results are kept here, under the data dir, one file per
environment (this one, or an isolated engine's), with the key of the environment's installed
set (every ``*.dist-info`` folder's name: a package added, removed or moved to another
version changes it). The plain ``engines list`` and ``engines doctor`` read them without
importing anything heavy:

- ``ok`` / ``failed``: the last deep check, made on the set installed now;
- ``stale``: the environment changed since the last deep check (a ``pip install`` outside
  voicebox, say): nothing vouches for the engine any more;
- ``unchecked``: no deep check was ever made in this environment.
"""

from __future__ import annotations

import json
import os
import sys
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["EngineStatus", "digest", "environment_key", "here", "lookup", "record", "site_dirs", "status_of"]

#: What the plain commands tell a user to run when a result is missing or stale.
DEEP = "voicebox engines doctor --deep"


def site_dirs(prefix: Path | None = None) -> list[Path]:
    """The folders where an environment's distributions are installed (this one by default)."""
    if prefix is None:
        import site

        if hasattr(site, "getsitepackages"):  # already imported at start: no sysconfig work
            return sorted({Path(p).resolve() for p in site.getsitepackages() if os.path.isdir(p)})
        import sysconfig

        return sorted({Path(sysconfig.get_path(k)).resolve() for k in ("purelib", "platlib")})
    if os.name == "nt":
        return [(prefix / "Lib" / "site-packages").resolve()]
    return sorted({p.resolve() for p in prefix.glob("lib*/python*/site-packages")})


def digest(text: str) -> str:
    """A short stable digest (zlib's two checksums: importing hashlib costs every command time)."""
    data = text.encode()
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def environment_key(dirs: Iterable[Path]) -> str:
    """Changes whenever a distribution in ``dirs`` is added, removed or changes version."""
    names: list[str] = []
    for folder in dirs:
        try:
            names += [e.name for e in os.scandir(folder) if e.name.endswith((".dist-info", ".egg-info"))]
        except OSError:
            continue
    return digest("\n".join(sorted(names)))


def here() -> tuple[str, str]:
    """(prefix, key) of the environment this process runs in. A frozen app's set was fixed
    when it was built: its key is the executable's size and time."""
    if getattr(sys, "frozen", False):
        stat = Path(sys.executable).stat()
        return sys.executable, f"frozen-{stat.st_size}-{int(stat.st_mtime)}"
    return sys.prefix, environment_key(site_dirs())


def _file(prefix: str) -> Path:
    from voicebox_core.runtime.paths import data_dir

    return data_dir() / "health" / f"{digest(str(Path(prefix).resolve()))}.json"


def _read(prefix: str) -> dict[str, Any]:
    try:
        data = json.loads(_file(prefix).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


#: Installed sets remembered per environment: a rollback returns to an earlier one, and its
#: checks still hold there.
KEPT_SETS = 8


def record(prefix: str, key: str, results: Iterable[Mapping[str, Any]]) -> None:
    """Keep deep-check results (``EngineHealth.as_dict()``) for the environment at ``prefix``
    whose installed set is ``key``, beside those of its last few other sets."""
    data = _read(prefix)
    sets = data.get("sets") if isinstance(data.get("sets"), dict) else {}
    engines = dict(sets.pop(key, {}).get("engines", {}))
    now = time.time()
    for result in results:
        engines[str(result["engine"])] = {
            "ok": bool(result["ok"]), "stage": result.get("stage", ""), "error": result.get("error", ""),
            "fix": result.get("fix", ""), "distribution": result.get("distribution", ""), "checked": now}
    sets[key] = {"engines": engines, "checked": now}
    kept = dict(sorted(sets.items(), key=lambda item: item[1].get("checked", 0.0))[-KEPT_SETS:])
    path = _file(prefix)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.part")
        partial.write_text(json.dumps({"prefix": prefix, "latest": key, "sets": kept}, indent=1), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        pass  # a read-only data dir costs the memory of the check, nothing else


@dataclass(frozen=True)
class EngineStatus:
    """What the last deep check says of one engine, for the environment as it is now."""

    #: "ok", "failed", "stale" or "unchecked".
    state: str
    error: str = ""
    fix: str = ""
    checked: float = 0.0

    @property
    def vouched(self) -> bool:
        return self.state == "ok"

    def describe(self) -> str:
        if self.state == "ok":
            return f"deep check ok ({time.strftime('%Y-%m-%d %H:%M', time.localtime(self.checked))})"
        if self.state == "failed":
            return f"FAILED its last deep check: {self.error}"
        if self.state == "stale":
            return f"not checked since the environment changed: `{DEEP}`"
        return f"never checked in this environment: `{DEEP}`"


def lookup(prefix: str, key: str) -> dict[str, EngineStatus]:
    """Every engine's status in the environment at ``prefix`` whose installed set is ``key``;
    an engine absent from the result was never checked there."""
    data = _read(prefix)
    sets = data.get("sets") if isinstance(data.get("sets"), dict) else {}
    found = {}
    for engine, result in (sets.get(str(data.get("latest")), {}).get("engines") or {}).items():
        found[engine] = EngineStatus("stale", checked=float(result.get("checked", 0.0)))
    for engine, result in (sets.get(key, {}).get("engines") or {}).items():
        found[engine] = EngineStatus("ok" if result.get("ok") else "failed", str(result.get("error", "")),
                                     str(result.get("fix", "")), float(result.get("checked", 0.0)))
    return found


def status_of(registry: Any) -> dict[str, EngineStatus]:
    """Every engine of ``registry``: where it runs decides which record and key apply."""
    cache: dict[str, dict[str, EngineStatus]] = {}
    places: dict[Any, tuple[str, str]] = {}
    statuses = {}
    for info in registry.engines:
        env = registry.environment_of(info.name)
        if env is None and registry.lives(info.name).get("mode") not in (None, "in-process"):
            continue  # served elsewhere (a Ray deployment): not ours to vouch for
        if env not in places:
            places[env] = (str(env.venv), env.versions_key()) if env is not None else here()
        prefix, key = places[env]
        if prefix not in cache:
            cache[prefix] = lookup(prefix, key)
        statuses[info.name] = cache[prefix].get(info.name, EngineStatus("unchecked"))
    return statuses
