"""Put an environment back exactly as it was, after a step that changed it failed its check.

Before anything changes, :class:`Snapshot` keeps the environment's ``pip freeze --all`` and
the files (as each distribution's ``RECORD`` lists them, hard links where the file system
allows, copies otherwise) of every installed distribution the plan says will be replaced:
what pip itself keeps aside while it upgrades a package, kept until the check has passed.
:meth:`Snapshot.restore` removes with pip what is new or at another version, then puts the
kept distributions back, and proves it by comparing ``pip freeze`` with the one it kept.
Nothing needs an index to roll back: a plugin installed from a folder, a repackaged wheel or
a package the index no longer serves comes back all the same.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from voicebox_core.errors import EngineInstallError
from voicebox_core.installer.target import Target

__all__ = ["Snapshot"]


def _folder(dist: Any) -> str:
    """The name of a distribution's metadata folder (``transformers-4.57.6.dist-info``)."""
    return Path(str(getattr(dist, "_path", ""))).name or f"{dist.metadata['Name']}-{dist.version}"


class Snapshot:
    """The state of ``target`` before a change, with the files of ``touched`` kept aside."""

    def __init__(self, target: Target, touched: Iterable[str], folder: Path) -> None:
        started = time.perf_counter()
        self.target = target
        self.folder = folder
        self.freeze = target.freeze()
        installed = target.distributions()
        self.before = {name: _folder(dist) for name, dist in installed.items()}
        self.versions = {name: str(dist.version) for name, dist in installed.items()}
        self.kept: dict[str, list[tuple[str, str]]] = {}
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "freeze-before.txt").write_text(self.freeze, encoding="utf-8")
        wanted = {canonicalize_name(n) for n in touched}
        for name in sorted(wanted & set(installed)):
            self.kept[name] = self._keep(name, installed[name])
        (folder / "kept.json").write_text(json.dumps(self.kept), encoding="utf-8")
        self.seconds = time.perf_counter() - started

    def _keep(self, name: str, dist: Any) -> list[tuple[str, str]]:
        store = self.folder / "files" / name
        pairs = []
        for index, file in enumerate(dist.files or ()):
            source = Path(str(dist.locate_file(file))).resolve()
            if not source.is_file():
                continue
            kept = store / str(index)
            kept.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, kept)
            except OSError:
                shutil.copy2(source, kept)
            pairs.append((str(source), str(kept.relative_to(self.folder))))
        return pairs

    def changed(self) -> list[str]:
        """Distributions that are new, gone or at another version since the snapshot."""
        now = {name: _folder(dist) for name, dist in self.target.distributions().items()}
        return sorted(n for n in set(now) | set(self.before) if now.get(n) != self.before.get(n))

    def restore(self) -> float:
        """Put the environment back; the seconds it took. Raises when ``pip freeze`` differs."""
        started = time.perf_counter()
        now = {name: _folder(dist) for name, dist in self.target.distributions().items()}
        remove = sorted(n for n, f in now.items() if self.before.get(n) != f)
        if remove:
            self.target.run(self.target.pip("uninstall", "--yes", *remove),
                            f"removing {', '.join(remove)}", quiet=True)
        left = set(self.target.distributions())
        for name in sorted(set(self.before) - left):
            if name in self.kept:
                for original, kept in self.kept[name]:
                    destination = Path(original)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(self.folder / kept, destination)
            else:  # not planned to change, changed all the same: from the index, as it was
                pinned = next((line for line in self.freeze.splitlines()
                               if canonicalize_name(line.split("==")[0].split(" @ ")[0]) == name), None)
                if pinned is None:
                    continue
                self.target.run(self.target.pip("install", "--no-deps", pinned), f"reinstalling {pinned}", quiet=True)
        after = self.target.freeze()
        if after != self.freeze:
            before_lines, after_lines = set(self.freeze.splitlines()), set(after.splitlines())
            diff = sorted(f"-{x}" for x in before_lines - after_lines) + sorted(f"+{x}" for x in after_lines - before_lines)
            raise EngineInstallError(f"the environment could not be put back exactly ({', '.join(diff[:8])}); "
                                     f"its earlier set is in {self.folder / 'freeze-before.txt'}: "
                                     f"pip install -r {self.folder / 'freeze-before.txt'}")
        return time.perf_counter() - started

    def discard(self) -> None:
        """The change is kept: forget the files (the freeze stays, for the record)."""
        shutil.rmtree(self.folder / "files", ignore_errors=True)
        (self.folder / "kept.json").unlink(missing_ok=True)
