"""PyInstaller hook for piper-tts 1.8.0 (see docs/audits/piper.md).

- ``piper/phonemize_espeak.py`` finds espeak-ng's data as ``Path(__file__).parent /
  "espeak-ng-data"`` (20 MB): collected as data, keeping that layout.
- ``piper.espeakbridge`` is a C extension imported inside functions: a hidden import.
- ``piper/tashkeel`` (Arabic) and ``piper/hebrew`` (Hebrew) load ONNX models next to their
  ``__init__``; collected so those voices keep working. ``piper.train`` needs torch and is
  never used at inference: excluded, as are the HTTP server's images and templates.
- onnxruntime's shared libraries: pyinstaller-hooks-contrib collects them too; repeating
  it here keeps older hooks-contrib releases working.
"""

from PyInstaller.utils.hooks import collect_data_files, collect_dynamic_libs

hiddenimports = ["piper.espeakbridge", "piper.phonemize_espeak", "piper.patch_voice_with_alignment", "onnx",
                 "onnxruntime"]
excludedimports = ["piper.train", "torch"]
datas = collect_data_files(
    "piper", excludes=["train/**", "img/**", "templates/**", "**/__pycache__/**"]
)
binaries = collect_dynamic_libs("onnxruntime")
