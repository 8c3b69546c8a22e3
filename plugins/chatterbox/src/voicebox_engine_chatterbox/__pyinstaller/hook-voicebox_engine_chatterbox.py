"""PyInstaller directives for the Chatterbox engines (docs/audits/chatterbox.md, section 5).

The backend imports chatterbox lazily, inside functions, so nothing here is found by
PyInstaller's static analysis unless named.
"""

from PyInstaller.utils.hooks import collect_all, collect_data_files, copy_metadata

hiddenimports = [
    "voicebox_engine_chatterbox.backend",
    "voicebox_engine_chatterbox.tokenizer",
    "chatterbox",
    "chatterbox.mtl_tts",
    "chatterbox.tts_turbo",
    "chatterbox.models.tokenizers.tokenizer",
    "perth",
    "pyloudnorm",
    "s3tokenizer",
    # Optional text front ends, imported lazily by upstream when installed.
    "pykakasi",
    "spacy_pkuseg",
]

datas = []
binaries = []

# perth: the watermarker's weights (.pth.tar + hparams.yaml) are package data found through
# pkg_resources.resource_filename (so setuptools<81 must be in the build env too).
_perth = collect_all("perth")
datas += _perth[0]
binaries += _perth[1]
hiddenimports += _perth[2] + ["pkg_resources"]

# s3tokenizer ships assets/mel_filters.npz, read through __file__.
datas += collect_data_files("s3tokenizer")
# pykakasi's dictionaries (Japanese) and spacy_pkuseg's data, when installed.
for _optional in ("pykakasi", "spacy_pkuseg"):
    try:
        _all = collect_all(_optional)
    except Exception:  # noqa: BLE001 - optional package not installed
        continue
    datas += _all[0]
    binaries += _all[1]
    hiddenimports += _all[2]

# Runtime metadata lookups: chatterbox's version("chatterbox-tts"); diffusers' import-time
# require_version for requests/filelock/numpy and its is_*_available() probes (a missing
# torch entry makes diffusers believe torch is absent); transformers' own checks.
for _dist in (
    "chatterbox-tts", "diffusers", "requests", "filelock", "numpy", "torch", "safetensors",
    "transformers", "huggingface-hub", "tokenizers", "tqdm", "regex", "packaging", "pyyaml",
    "scipy", "librosa", "resemble-perth", "s3tokenizer", "pykakasi",
):
    try:
        datas += copy_metadata(_dist)
    except Exception:  # noqa: BLE001 - not installed in this build environment
        pass
