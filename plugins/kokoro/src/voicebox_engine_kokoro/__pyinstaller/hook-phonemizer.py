"""PyInstaller hook for phonemizer-fork 3.3.2 (import name ``phonemizer``, GPL-3.0-or-later).

- ``phonemizer/__init__.py:20`` calls ``importlib.metadata.version("phonemizer-fork")`` at
  import: the distribution's metadata must be bundled or the import fails.
- ``phonemizer/utils.py:113`` resolves ``importlib.resources.files("phonemizer")/"share"``
  (festival scripts): collected as data.
"""

from PyInstaller.utils.hooks import collect_data_files, copy_metadata

datas = copy_metadata("phonemizer-fork")
datas += collect_data_files("phonemizer", subdir="share")
hiddenimports = ["phonemizer.backend.espeak.wrapper", "phonemizer.backend.espeak.api"]
