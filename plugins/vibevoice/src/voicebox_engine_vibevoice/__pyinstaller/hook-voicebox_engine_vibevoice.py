"""PyInstaller hook of the VibeVoice plugin (found through the ``pyinstaller40`` entry point).

See docs/audits/vibevoice.md. Frozen, this engine usually lives isolated (transformers 5 does
not share a bundle with the transformers 4.57 engines) and runs in its environment's own
Python; this hook is for a binary frozen from an environment of its own.

- The backend is named as a string in EngineInfo; transformers loads VibeVoice's modules
  lazily from the checkpoint's ``model_type`` (``_LazyModule``), and diffusers' scheduler by
  name from the generation config: all hidden imports.
- ``import diffusers`` reads the metadata of torch, numpy, requests and filelock; without
  torch's, its schedulers become stubs that raise.
"""

from PyInstaller.utils.hooks import copy_metadata

hiddenimports = [
    "voicebox_engine_vibevoice.backend",
    "transformers.models.vibevoice.configuration_vibevoice",
    "transformers.models.vibevoice.modeling_vibevoice",
    "transformers.models.vibevoice.generation_vibevoice",
    "transformers.models.vibevoice.processing_vibevoice",
    "transformers.models.vibevoice_acoustic_tokenizer.configuration_vibevoice_acoustic_tokenizer",
    "transformers.models.vibevoice_acoustic_tokenizer.feature_extraction_vibevoice_acoustic_tokenizer",
    "transformers.models.vibevoice_acoustic_tokenizer.modeling_vibevoice_acoustic_tokenizer",
    "transformers.models.qwen2.configuration_qwen2",
    "transformers.models.qwen2.modeling_qwen2",
    "transformers.models.qwen2.tokenization_qwen2",
    "diffusers.schedulers.scheduling_dpmsolver_multistep",
    "jinja2",
]

datas = copy_metadata("voicebox-engine-vibevoice")
for _name in ("transformers", "diffusers", "torch", "numpy", "requests", "filelock", "tokenizers", "safetensors",
              "huggingface-hub", "regex", "packaging", "pyyaml", "tqdm"):
    datas += copy_metadata(_name)
