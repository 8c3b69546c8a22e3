"""Every distribution of this repository as a wheel, plus a PEP 503 simple index over them.

    python build/wheelhouse.py [--out wheelhouse]

Writes ``<out>/*.whl`` (voicebox-core and every plugin, ``pip wheel --no-deps``) and
``<out>/simple/<project>/index.html``: what a user gets from an index. Then, exactly as from
PyPI (``voicebox-engine-<name>`` resolved by name, its dependencies from the usual index)::

    voicebox engines install NAME --find-links wheelhouse
    voicebox engines install NAME --index-url file://$PWD/wheelhouse/simple --extra-index-url https://pypi.org/simple

Nothing is rebuilt when no source file changed since the last build (a stamp of every file's
size and time); several builds at once (parallel tox environments) wait for one another.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import html
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAMP = ".sources"


def projects() -> list[Path]:
    return [ROOT / "core", *sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))]


def _stamp(folders: list[Path]) -> str:
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not {"__pycache__", "tests", ".pytest_cache"} & set(path.parts):
                stat = path.stat()
                digest.update(f"{path.relative_to(ROOT)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def write_index(out: Path) -> None:
    """PEP 503: one page listing the projects, one page per project linking its files."""
    by_project: dict[str, list[Path]] = {}
    for wheel in sorted(out.glob("*.whl")):
        by_project.setdefault(canonical(wheel.name.split("-")[0]), []).append(wheel)
    simple = out / "simple"
    simple.mkdir(exist_ok=True)
    links = "".join(f'<a href="{p}/">{p}</a><br>\n' for p in sorted(by_project))
    (simple / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")
    for project, wheels in by_project.items():
        rows = []
        for wheel in wheels:
            sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
            rows.append(f'<a href="../../{html.escape(wheel.name)}#sha256={sha}">{html.escape(wheel.name)}</a><br>\n')
        (simple / project).mkdir(exist_ok=True)
        (simple / project / "index.html").write_text(
            f"<!DOCTYPE html>\n<html><body>\n<h1>Links for {project}</h1>\n{''.join(rows)}</body></html>\n")


def build(out: Path) -> bool:
    """Build when a source changed; True when it built."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        folders = projects()
        stamp = _stamp(folders)
        if (out / STAMP).is_file() and (out / STAMP).read_text() == stamp:
            return False
        for old in out.glob("*.whl"):
            old.unlink()
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check",
                        "-w", str(out), *map(str, folders)], check=True)
        write_index(out)
        (out / STAMP).write_text(stamp)
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "wheelhouse")
    args = parser.parse_args()
    built = build(args.out.resolve())
    wheels = sorted(p.name for p in args.out.glob("*.whl"))
    print(f"wheelhouse {args.out}: {len(wheels)} wheels ({'built' if built else 'up to date'}); "
          f"index {args.out / 'simple'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
