"""What the hooks PyInstaller applies by itself already do, so that ``voicebox audit``
proposes only the rest.

Those hooks are PyInstaller's own (``PyInstaller/hooks``) and pyinstaller-hooks-contrib's:
a build runs the hook of every package it bundles. A hook is read by running it in a child
process, as PyInstaller does before a build, and looking at what it leaves: the
``.dist-info`` folders in ``datas`` (metadata it copies), the package's files in ``datas``
and ``binaries``, and ``module_collection_mode`` (``py`` keeps the package's ``.py``
sources, which is what ``inspect.getsource`` and TorchScript need). Every hook imports
``PyInstaller.utils.hooks``, so reading them needs PyInstaller installed where the audit
runs; without it :func:`read_hooks` says so and the audit warns.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HookEffect", "hook_files", "read_hooks"]

#: Where the hooks that PyInstaller applies without being asked live.
_HOOK_PACKAGES = ("_pyinstaller_hooks_contrib", "PyInstaller.hooks")
_MARK = "voicebox-audit-hooks:"


@dataclass(frozen=True)
class HookEffect:
    """What one existing hook does for its package."""

    #: The hook, as ``<package>/hook-<module>.py``.
    hook: str
    #: Why the package's ``.py`` sources are bundled (``module_collection_mode 'pyz+py'``), or "".
    keeps_sources: str = ""
    #: Canonical names of the distributions whose metadata it copies.
    metadata: tuple[str, ...] = ()
    data_files: int = 0
    binaries: int = 0
    #: Why the hook could not be run (then it counts as doing nothing).
    error: str = ""


def hook_files() -> dict[str, Path]:
    """Module name -> its hook file among PyInstaller's and pyinstaller-hooks-contrib's."""
    found: dict[str, Path] = {}
    for package in _HOOK_PACKAGES:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            for hook in sorted(Path(location).rglob("hook-*.py")):
                found.setdefault(hook.stem.removeprefix("hook-"), hook)
    return found


def _label(hook: Path) -> str:
    """``_pyinstaller_hooks_contrib/hook-x.py`` or ``PyInstaller/hook-x.py``."""
    parts = hook.parts
    root = next((p for p in parts if p in ("_pyinstaller_hooks_contrib", "PyInstaller")), hook.parent.name)
    return f"{root}/{hook.name}"


_READER = r"""
import json, os, re, runpy, sys
paths, hooks, mark = json.loads(sys.argv[1])
sys.path[:0] = paths
try:
    import PyInstaller.utils.hooks  # every hook imports it
except Exception as exc:
    print(mark + json.dumps({"unavailable": f"{type(exc).__name__}: {exc}"}))
    sys.exit(0)
dist_info = re.compile(r"^(.+?)-[^-]+\.(?:dist|egg)-info$")
effects = {}
for package, path in hooks.items():
    try:
        names = runpy.run_path(path, run_name="__pyinstaller_hook__")
    except BaseException as exc:
        effects[package] = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
        continue
    mode = names.get("module_collection_mode")
    if isinstance(mode, dict):
        mode = mode.get(package, mode.get("", ""))
    keeps = f"module_collection_mode {mode!r}" if isinstance(mode, str) and "py" in mode.split("+") else ""
    metadata, data = set(), 0
    for entry in names.get("datas") or ():
        source, dest = (str(entry[0]), str(entry[1])) if len(entry) == 2 else (str(entry), "")
        match = dist_info.match(os.path.basename(source.rstrip("/\\")))
        if match:
            metadata.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
        elif dest.replace("\\", "/").split("/")[0] == package:
            if source.endswith(".py"):
                keeps = keeps or "collects its .py files"
            else:
                data += 1
    effects[package] = {"keeps_sources": keeps, "metadata": sorted(metadata), "data_files": data,
                        "binaries": len(names.get("binaries") or ())}
print(mark + json.dumps({"effects": effects}))
"""


def read_hooks(packages: Iterable[str], path: Sequence[str] | None = None,
               timeout: float = 180) -> tuple[dict[str, HookEffect], str]:
    """The effect of the existing hook of each of ``packages`` (import names) that has one,
    and why none could be read ("" when they were). ``path`` (the audited environment) is
    searched before this process's sys.path."""
    files = hook_files()
    hooks = {p: files[p] for p in sorted(set(packages)) if p in files}
    if not hooks:
        return {}, "" if files else "PyInstaller and pyinstaller-hooks-contrib are not installed here"
    # The child sees what this process sees (the hooks found here), the audited path first.
    argument = json.dumps([[*(path or ()), *sys.path], {p: str(f) for p, f in hooks.items()}, _MARK])
    try:
        run = subprocess.run([sys.executable, "-c", _READER, argument], capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {}, f"reading the existing hooks took over {timeout:.0f} s"
    lines = [line for line in run.stdout.splitlines() if line.startswith(_MARK)]
    if not lines:
        tail = (run.stderr.strip().splitlines() or ["no output"])[-1]
        return {}, f"reading the existing hooks failed ({tail})"
    answer = json.loads(lines[-1][len(_MARK):])
    if "unavailable" in answer:
        return {}, f"PyInstaller does not import here ({answer['unavailable']})"
    return {package: HookEffect(_label(hooks[package]), effect.get("keeps_sources", ""),
                                tuple(effect.get("metadata", ())), effect.get("data_files", 0),
                                effect.get("binaries", 0), effect.get("error", ""))
            for package, effect in answer["effects"].items()}, ""
