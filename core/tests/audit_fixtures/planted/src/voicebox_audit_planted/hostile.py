"""Every pattern of the guide's Phase 0.2, once, on a known line (see test_audit.py).

Patterns in this docstring never count: inspect.getsource(f), torch.load(x), token=True.
"""
import inspect
import os
from importlib.metadata import version
from pathlib import Path

from typeguard import typechecked  # line 10: typeguard

SOURCE = inspect.getsource(os)  # line 12: getsource
VERSION = version("voicebox-audit-helper")  # line 13 (metadata lookup by name)
DATA = Path(__file__).parent / "voices.yaml"  # line 14: data_files
ESPEAK = "/usr/share/espeak-ng-data"  # line 15: system_paths
state = torch.load("weights.pt")  # line 16: torch_load
fine = torch.load("weights.pt", map_location="cpu")
files = snapshot_download("org/model", token=True)  # line 18: hf_token
audio = torch.from_numpy(array)  # line 19: float64
scripted = torch.jit.script(module)  # line 20: jit_script
wave, rate = torchaudio.load("a.wav")  # line 21: torchaudio_io
TOKENIZER = "meta-llama/Llama-3.2-1B"  # line 22: gated_repo
import lazy_loader  # line 23: lazy_loader
import importlib.metadata  # line 24: metadata
also_fine = torch.load(
    "weights.pt",
    map_location="cpu",
)
# torch.load("in a comment") and token=True in a comment never count
