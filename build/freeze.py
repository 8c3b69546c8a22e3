"""Freeze ``voicebox`` (CLI and server) with whatever engines are installed.

    python build/freeze.py [--onefile] [--cuda] [--out DIR] [--work DIR]

Names no engine: each installed plugin brings its PyInstaller hook through the
``pyinstaller40`` entry point, and the core's hook bundles every plugin's entry-point
metadata. PyInstaller's work and dist folders default to ``.pyi-work/`` and ``dist-frozen/``
at the repository root, never inside ``build/`` (this source folder).

The CPU variant (default) excludes CUDA libraries (``nvidia.*``, ``triton``); ``--cuda``
keeps them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# torch imports these optionally; torch.cuda itself (nccl included) must stay importable.
CUDA_ONLY_MODULES = ("nvidia", "triton")


def pyinstaller_args(args: argparse.Namespace) -> list[str]:
    options = [
        str(HERE / "entry.py"),
        "--name", args.name,
        "--noconfirm",
        "--clean",
        "--log-level", "WARN",
        "--distpath", str(args.out),
        "--workpath", str(args.work),
        "--specpath", str(args.work),
        "--additional-hooks-dir", str(ROOT / "hooks"),
        "--runtime-hook", str(ROOT / "hooks" / "pyi_rth_voicebox.py"),
        "--collect-submodules", "voicebox_core",
        "--onefile" if args.onefile else "--onedir",
    ]
    if not args.cuda:
        for module in CUDA_ONLY_MODULES:
            options += ["--exclude-module", module]
    return options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onefile", action="store_true", help="one executable instead of a folder")
    parser.add_argument("--cuda", action="store_true", help="keep CUDA libraries (GPU build)")
    parser.add_argument("--name", default="voicebox")
    parser.add_argument("--out", type=Path, default=ROOT / "dist-frozen")
    parser.add_argument("--work", type=Path, default=ROOT / ".pyi-work")
    args = parser.parse_args(argv)
    for folder in (args.out, args.work):
        if folder.resolve().is_relative_to(HERE):
            parser.error(f"{folder} is inside build/, the source folder; choose another")
    import PyInstaller.__main__

    started = time.perf_counter()
    PyInstaller.__main__.run(pyinstaller_args(args))
    binary = args.out / (args.name if args.onefile else f"{args.name}/{args.name}")
    print(f"froze {binary} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
