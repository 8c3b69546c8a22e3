"""A torchaudio that imports beside the installed torch: PyPI's wheel, repackaged pure-Python.

    python -m voicebox_core.installer.torchaudio [--install] [--out DIR] [--version V] [-- PIP SOURCE OPTIONS]

PyPI's torchaudio for Linux x86_64 is a CUDA build: its compiled extension needs
``libc10_cuda.so``, so beside a CPU torch ``import torchaudio`` fails, and torchaudio's last
release (2.11) predates newer torch releases, whose C++ ABI no torchaudio extension matches.
torchaudio runs without its extension (the case it supports for pex deployments), and what
engines use of it (``functional.resample``, ``transforms.MelSpectrogram``,
``compliance.kaldi``) is Python over torch.

So the official wheel is repackaged as ``torchaudio-<version>+pure-py3-none-any.whl``: the
same files minus the compiled ``torchaudio/lib/*.so``, with a regenerated ``RECORD``; pip
installs, lists and uninstalls it like any other, and nothing installed is edited by hand.
``voicebox engines install`` runs this in whichever environment an engine lands; run alone
with ``--install`` it repairs the environment of the Python that runs it, and does nothing
where nothing needs repairing (macOS, Windows, aarch64, a CUDA torch, a torchaudio that
imports). Built wheels are kept in ``<data dir>/wheels``.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import platform
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

__all__ = ["main", "needed", "repackage"]

LOCAL = "pure"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def repackage(source: Path, out: Path) -> Path:
    """Write the pure-Python wheel made from the official ``source`` wheel into ``out``."""
    with zipfile.ZipFile(source) as wheel:
        names = wheel.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        public = dist_info[len("torchaudio-"):-len(".dist-info")].split("+")[0]
        target_version = f"{public}+{LOCAL}"
        new_info = f"torchaudio-{target_version}.dist-info"
        files: list[tuple[str, bytes]] = []
        for name in names:
            if name.startswith("torchaudio/lib/") and re.search(r"\.(so|pyd|dylib)(\.|$)", name):
                continue  # the compiled extension: built for CUDA torch, loadable nowhere else
            if name == f"{dist_info}/RECORD":
                continue
            data = wheel.read(name)
            if name.startswith(f"{dist_info}/"):
                leaf = name[len(dist_info) + 1:]
                if leaf == "METADATA":
                    data = re.sub(rb"(?m)^Version: .*$", f"Version: {target_version}".encode(), data, count=1)
                elif leaf == "WHEEL":
                    text = data.decode()
                    text = re.sub(r"(?m)^Root-Is-Purelib: .*$", "Root-Is-Purelib: true", text)
                    text = re.sub(r"(?m)^Tag: .*\n?", "", text).rstrip("\n") + "\nTag: py3-none-any\n"
                    data = text.encode()
                name = f"{new_info}/{leaf}"
            files.append((name, data))
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"torchaudio-{target_version}-py3-none-any.whl"
    partial = target.with_suffix(".part")
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files:
            wheel.writestr(name, data)
            writer.writerow([name, _record_hash(data), len(data)])
        writer.writerow([f"{new_info}/RECORD", "", ""])
        wheel.writestr(f"{new_info}/RECORD", record.getvalue())
    partial.replace(target)
    return target


def _pip(*args: str) -> list[str]:
    return [sys.executable, "-m", "pip", *args, "--disable-pip-version-check"]


def download(version: str, into: Path, sources: list[str]) -> Path:
    """PyPI's Linux x86_64 wheel of torchaudio ``version`` (whatever this machine runs)."""
    subprocess.run(_pip("download", "--quiet", "--no-deps", "--only-binary", ":all:",
                        "--platform", "manylinux_2_28_x86_64", "--python-version",
                        f"{sys.version_info.major}.{sys.version_info.minor}", "--implementation", "cp",
                        "--dest", str(into), *sources, f"torchaudio=={version}"),
                   check=True, stdin=subprocess.DEVNULL)
    return next(p for p in into.glob("torchaudio-*.whl") if "+pure" not in p.name)


def installed_version() -> str | None:
    done = subprocess.run([sys.executable, "-c", "import importlib.metadata as m; print(m.version('torchaudio'))"],
                          capture_output=True, text=True)
    return (done.stdout.strip().split("+")[0] or None) if done.returncode == 0 else None


def needed() -> str | None:
    """Why this environment needs the pure wheel, or None when it does not."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None  # PyPI's torchaudio for this platform is already a CPU build
    if installed_version() is None:
        return None  # nothing installed needs torchaudio
    probe = subprocess.run([sys.executable, "-c", "import torch, sys; sys.exit(0 if torch.version.cuda else 3)"],
                           capture_output=True)
    if probe.returncode != 3:
        return None  # a CUDA torch (PyPI's torchaudio matches it), or no torch at all
    imports = subprocess.run([sys.executable, "-c", "import torchaudio"], capture_output=True, text=True)
    if imports.returncode == 0:
        return None
    last = (imports.stderr.strip().splitlines() or ["?"])[-1]
    return f"torchaudio does not import beside this CPU torch ({last})"


def _cache() -> Path:
    from voicebox_core.runtime.paths import data_dir

    return data_dir() / "wheels"


def build(version: str, out: Path | None, sources: list[str]) -> Path:
    """The pure wheel of ``version``: from the cache, else downloaded and repackaged."""
    cache = out or _cache()
    cached = cache / f"torchaudio-{version}+{LOCAL}-py3-none-any.whl"
    if cached.is_file():
        return cached
    with tempfile.TemporaryDirectory(prefix="voicebox-torchaudio-") as tmp:
        return repackage(download(version, Path(tmp), sources), cache)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    sources = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m voicebox_core.installer.torchaudio",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--version", help="torchaudio release to repackage (default: the installed one, else 2.11.0)")
    parser.add_argument("--out", type=Path, help="write the wheel here (default: the data dir's wheel cache)")
    parser.add_argument("--install", action="store_true", help="install it here if this environment needs it")
    args = parser.parse_args(argv)
    if args.install:
        reason = needed()
        if reason is None:
            print("torchaudio: nothing to repair here")
            return 0
        print(f"torchaudio: {reason}; installing the pure-Python wheel")
    wheel = build(args.version or installed_version() or "2.11.0", args.out, sources)
    print(f"torchaudio: built {wheel}")
    if args.install:
        subprocess.run(_pip("install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)), check=True,
                       stdin=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-c", "import torchaudio.functional, torchaudio.transforms"], check=True)
        print(f"torchaudio: installed {wheel.name.split('-')[1]}; it imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
