"""PyInstaller hook of the Pocket TTS plugin (found through the ``pyinstaller40`` entry point).

See docs/audits/pocket_tts.md. The backend is named as a string in EngineInfo and imports
pocket_tts inside a function, so PyInstaller sees neither: hidden imports. pocket_tts reads
its model YAMLs beside its code (``utils/config.py``: ``CONFIGS_DIR``); sentencepiece, imported
at module level, keeps its package data too. pocket_tts's CLI and web server (``main``:
typer, uvicorn, fastapi) are never imported by ``pocket_tts/__init__``: nothing to exclude.
"""

from PyInstaller.utils.hooks import collect_data_files, copy_metadata

hiddenimports = [
    "voicebox_engine_pocket_tts.backend",
    "voicebox_engine_pocket_tts.upstream",
    "pocket_tts",
    "pocket_tts.models.tts_model",
    "pocket_tts.utils.config",
    "yaml",
]

# The registry reads this distribution's name and version.
datas = copy_metadata("voicebox-engine-pocket-tts")
datas += collect_data_files("pocket_tts", includes=["config/*.yaml"])
datas += collect_data_files("sentencepiece")
