"""PyInstaller hook for kokoro 0.9.4: pure Python, no data files.

Its modules import each other statically; torch and transformers come with their own hooks.
``KModel``/``KPipeline`` would download through huggingface_hub, but the plugin always
passes local paths and tensors, so nothing here depends on the hub at run time.
"""

from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("kokoro", filter=lambda name: name != "kokoro.__main__")
datas = copy_metadata("kokoro")
