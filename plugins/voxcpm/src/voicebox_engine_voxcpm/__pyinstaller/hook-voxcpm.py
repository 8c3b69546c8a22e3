"""PyInstaller hook for voxcpm 2.0.3 (see docs/audits/voxcpm.md).

- ``voxcpm/modules/audiovae/audio_vae{,_v2}.py`` decorate a function with
  ``@torch.jit.script``, which reads the function's source at import: voxcpm is collected
  as ``.py`` files too, not only byte code.
- Text normalisation (``voxcpm.utils.text_normalize``) uses wetext, whose FST grammars are
  data files beside its code, and wetext uses ``contractions`` (its word lists are data files).
- The web demo, training and denoiser code (gradio, datasets, modelscope, funasr, argbind)
  is never imported at inference: excluded, even when installed in the build environment.
"""

from PyInstaller.utils.hooks import collect_data_files, collect_submodules

module_collection_mode = {"voxcpm": "pyz+py"}
hiddenimports = collect_submodules("voxcpm", filter=lambda name: ".training" not in name and "cli" not in name)
excludedimports = ["gradio", "datasets", "modelscope", "funasr", "argbind", "spaces", "matplotlib",
                   "voxcpm.training", "voxcpm.zipenhancer", "voxcpm.cli"]
datas = collect_data_files("wetext") + collect_data_files("contractions")
