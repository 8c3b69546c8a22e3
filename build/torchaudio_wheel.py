"""torchaudio for a CPU torch on Linux x86_64: the pure-Python wheel.

    python build/torchaudio_wheel.py [--version 2.11.0] [--out DIR] [--install]

PyPI's torchaudio for Linux x86_64 is a CUDA build: its compiled extension needs
``libc10_cuda.so``, so beside a CPU torch ``import torchaudio`` fails, and torchaudio's last
release (2.11) predates newer torch releases (this project's CPU torch is 2.13), whose C++ ABI
no torchaudio extension matches. torchaudio itself runs without its extension (the case it
supports for pex deployments): everything the engines use from it (``functional.resample``,
``transforms.MelSpectrogram``, ``compliance.kaldi``) is Python over torch.

This script takes the official wheel from PyPI and repackages it as a proper pure-Python
wheel, ``torchaudio-<version>+pure-py3-none-any.whl`` (the same files, minus the compiled
``torchaudio/lib/*.so``, with a regenerated RECORD), so pip installs, lists and uninstalls it
like any other: nothing in an installed environment is edited by hand. ``--install``
installs it into the running Python's environment when that environment needs it (Linux
x86_64, CPU torch, a torchaudio that does not import); elsewhere it does nothing.

Where the PyTorch index is reachable, a matching CPU pair is the other way:
``pip install torch==2.11.0 torchaudio==2.11.0 --index-url https://download.pytorch.org/whl/cpu``.
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

LOCAL = "pure"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def repackage(source: Path, out: Path) -> Path:
    """Write the pure-Python wheel made from the official ``source`` wheel into ``out``."""
    with zipfile.ZipFile(source) as wheel:
        names = wheel.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        version = dist_info[len("torchaudio-"):-len(".dist-info")]
        public = version.split("+")[0]
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
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files:
            wheel.writestr(name, data)
            writer.writerow([name, _record_hash(data), len(data)])
        writer.writerow([f"{new_info}/RECORD", "", ""])
        wheel.writestr(f"{new_info}/RECORD", record.getvalue())
    return target


def download(version: str, into: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary", ":all:", "--platform", "manylinux_2_28_x86_64",
                    "--python-version", f"{sys.version_info.major}.{sys.version_info.minor}",
                    "--implementation", "cp", "--dest", str(into), f"torchaudio=={version}"],
                   check=True)
    return next(into.glob("torchaudio-*.whl"))


def installed_version() -> str | None:
    done = subprocess.run([sys.executable, "-c", "import importlib.metadata as m; print(m.version('torchaudio'))"],
                          capture_output=True, text=True)
    return done.stdout.strip().split("+")[0] or None if done.returncode == 0 else None


def needed() -> str | None:
    """Why this environment needs the pure wheel, or None when it does not."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None  # PyPI's torchaudio for this platform is already a CPU build
    probe = subprocess.run([sys.executable, "-c", "import torch, sys; sys.exit(0 if torch.version.cuda else 3)"],
                           capture_output=True)
    if probe.returncode != 3:
        return None  # a CUDA torch: PyPI's torchaudio matches it
    imports = subprocess.run([sys.executable, "-c", "import torchaudio"], capture_output=True, text=True)
    if imports.returncode == 0:
        return None
    last = (imports.stderr.strip().splitlines() or ["?"])[-1]
    return f"torchaudio does not import beside this CPU torch ({last})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", help="torchaudio release to repackage (default: the installed "
                        "one, else 2.11.0)")
    parser.add_argument("--out", type=Path, help="write the wheel here (default: a temporary folder)")
    parser.add_argument("--install", action="store_true",
                        help="install it into this Python's environment if that needs it")
    args = parser.parse_args(argv)
    if args.install:
        reason = needed()
        if reason is None:
            print("torchaudio_wheel: this environment's torchaudio is fine; nothing to do")
            return 0
        print(f"torchaudio_wheel: {reason}; installing the pure-Python wheel")
    version = args.version or installed_version() or "2.11.0"
    with tempfile.TemporaryDirectory() as tmp:
        wheel = repackage(download(version, Path(tmp)), args.out or Path(tmp) / "out")
        print(f"torchaudio_wheel: built {wheel.name}")
        if args.install:
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                            "--force-reinstall", str(wheel)], check=True)
            subprocess.run([sys.executable, "-c", "import torchaudio.functional, torchaudio.transforms"],
                           check=True)
            print(f"torchaudio_wheel: installed torchaudio {wheel.name.split('-')[1]}; it imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
