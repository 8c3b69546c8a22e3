"""PyInstaller hook of the VoxCPM plugin (found through the ``pyinstaller40`` entry point).

See docs/audits/voxcpm.md. The backend is named as a string in EngineInfo and imports voxcpm
through ``importlib`` inside a function, so PyInstaller sees neither: hidden imports.
"""

from PyInstaller.utils.hooks import copy_metadata

hiddenimports = [
    "voicebox_engine_voxcpm.backend",
    "voicebox_engine_voxcpm.upstream",
    "voxcpm",
    "voxcpm.core",
    "voxcpm.model.voxcpm",
    "voxcpm.model.voxcpm2",
    "voxcpm.utils.text_normalize",
    # Loaded by name from the checkpoint's tokenizer files.
    "transformers.models.llama",
    "transformers.models.llama.tokenization_llama_fast",
]

# importlib.metadata lookups: the registry reads this distribution's name and version;
# transformers checks the versions of tokenizers, safetensors and huggingface-hub at import.
datas = copy_metadata("voicebox-engine-voxcpm")
for _name in ("voxcpm", "transformers", "tokenizers", "safetensors", "huggingface-hub"):
    datas += copy_metadata(_name)
