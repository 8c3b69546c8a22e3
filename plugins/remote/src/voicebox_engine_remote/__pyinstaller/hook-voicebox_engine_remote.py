"""PyInstaller hook of the remote-engine plugin (found through the ``pyinstaller40`` entry point).

The backend is named as a string in EngineInfo and imported lazily, and the CLI actions are
imported inside the hook that adds them: PyInstaller sees neither. httpx (pure Python) is found
through them; its own dependencies need no hook.
"""

from PyInstaller.utils.hooks import copy_metadata

hiddenimports = [
    "voicebox_engine_remote.backend",
    "voicebox_engine_remote.commands",
    "voicebox_engine_remote.remotes",
    "httpx",
]

# importlib.metadata lookups: the registry reads this distribution's name and version.
datas = copy_metadata("voicebox-engine-remote")
