"""PyInstaller hook of the LuxTTS plugin (see docs/audits/luxtts.md, section "Frozen builds").

Everything LuxTTS needs lives in this one hook, so it cannot clash with another plugin's
hook for a shared package (inflect, vocos...). PyInstaller merges ``module_collection_mode``
entries of every hook into one table, so modes for other packages apply from here.

- Backend and upstream entry modules are imported lazily or by name: hidden imports.
- ``linacodec.vocoder.vocos.instantiate_class`` builds the vocoder from ``vocoder/config.yaml``
  with ``__import__(class_path)``: the classes it names are hidden imports.
- ``.py`` source kept (``pyz+py``): ``linacodec.vocoder.upsampler_block`` runs
  ``@torch.jit.script`` at import (TorchScript reads the source); ``inflect`` is decorated
  with typeguard's ``@typechecked``, which reads its source at import; ``zipvoice`` is kept
  as source too (Voicebox shipped it with ``--collect-all zipvoice`` after a frozen failure,
  and its ``scaling_converter`` scripts modules).
- ``piper_phonemize`` passes ``Path(__file__).parent / "espeak-ng-data"`` to espeak-ng:
  that folder (and the tashkeel model) is collected in place, so no ESPEAK_DATA_PATH is needed.
- ``cn2an`` reads ``config.yaml`` through ``pkg_resources.resource_stream`` at import.
- ``jieba`` (dictionary), ``librosa`` (lazy_loader stubs), ``onnxruntime`` and ``pypinyin``
  have hooks of their own (pyinstaller-hooks-contrib, or the package itself).
"""

from PyInstaller.utils.hooks import collect_data_files, copy_metadata

hiddenimports = [
    "voicebox_engine_luxtts.backend",
    "zipvoice.luxvoice",
    "zipvoice.modeling_utils",
    "zipvoice.onnx_modeling",
    "linacodec.vocoder.vocos",
    "linacodec.vocoder.upsampler_block",
    "vocos.feature_extractors",
    "vocos.models",
    "vocos.heads",
    "piper_phonemize",
    "cn2an",
]

module_collection_mode = {
    "zipvoice": "pyz+py",
    "linacodec": "pyz+py",
    "inflect": "pyz+py",
}

datas = copy_metadata("voicebox-engine-luxtts")
datas += collect_data_files("piper_phonemize")
datas += collect_data_files("cn2an", includes=["config.yaml", "config.yml"])
