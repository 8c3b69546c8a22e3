"""Test setup only: make PyPI's CUDA torchaudio import beside CPU torch.

PyPI's Linux torchaudio wheel is a CUDA build whose ``.so`` files need libc10_cuda; with
torch 2.13.0+cpu ``import torchaudio`` fails. Without those files torchaudio falls back to
pure Python, and ``functional.resample`` / ``transforms.MelSpectrogram`` work. Never do
this in a plugin: a user's machine installs a matching torch/torchaudio pair instead.
"""

import importlib.util
import pathlib
import sys

spec = importlib.util.find_spec("torchaudio")
if spec is None or spec.origin is None:
    print("torchaudio not installed; nothing to do")
    sys.exit(0)
removed = 0
for so in (pathlib.Path(spec.origin).parent / "lib").glob("*.so"):
    so.unlink()
    removed += 1
print(f"cpu_torchaudio: removed {removed} CUDA extension file(s)")
