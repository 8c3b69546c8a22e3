"""PyInstaller hook for phonemizer-fork 3.3.2 (import name ``phonemizer``, GPL-3.0-or-later).

- ``phonemizer/__init__.py:20`` calls ``importlib.metadata.version("phonemizer-fork")`` at
  import: the distribution's metadata must be bundled or the import fails.
- ``phonemizer/utils.py:113`` resolves ``importlib.resources.files("phonemizer")/"share"``
  (festival scripts): collected as data.
- Its dependency chain segments -> csvw -> language_tags reads JSON/CSV data beside the
  modules (``language_tags/data/__init__.py:7``, found by ``voicebox audit`` and by the
  frozen Kokoro test, where the first ``say`` failed on ``language_tags/data/json/index.json``).
"""

from PyInstaller.utils.hooks import collect_data_files, copy_metadata

datas = copy_metadata("phonemizer-fork")
datas += collect_data_files("phonemizer", subdir="share")
for _package in ("segments", "csvw", "language_tags"):
    datas += collect_data_files(_package)
hiddenimports = ["phonemizer.backend.espeak.wrapper", "phonemizer.backend.espeak.api"]
