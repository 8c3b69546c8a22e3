"""PyInstaller hook of the Qwen plugin (found through the ``pyinstaller40`` entry point).

The backends are named as strings in EngineInfo (``module:attribute``) and imported lazily,
so PyInstaller cannot see them. qwen_tts has its own hook beside this file. See
docs/audits/qwen.md for where each directive comes from.
"""

from PyInstaller.utils.hooks import copy_metadata

hiddenimports = [
    "voicebox_engine_qwen.backend",
    "voicebox_engine_qwen.upstream",
    "qwen_tts",
    "qwen_tts.inference.qwen3_tts_model",
    "qwen_tts.inference.qwen3_tts_tokenizer",
]

# The registry reads this distribution's name and version through importlib.metadata.
datas = copy_metadata("voicebox-engine-qwen")
