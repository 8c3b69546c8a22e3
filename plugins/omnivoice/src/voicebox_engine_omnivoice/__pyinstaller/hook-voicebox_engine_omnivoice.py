"""PyInstaller hook of the OmniVoice plugin (found through the ``pyinstaller40`` entry point).

See docs/audits/omnivoice.md. Frozen, this engine lives isolated (its keyword asks for its own
environment; transformers 5 does not share a bundle with the transformers 4.57 engines) and
runs in its environment's own Python; this hook is for a binary frozen from an environment of
its own.

- The backend is named as a string in EngineInfo; transformers loads the Qwen3 backbone and
  the Higgs Audio v2 codec (with its DAC and HuBERT parts) lazily, from ``model_type``: all
  hidden imports. The checkpoint's tokenizer class is Qwen2's.
- omnivoice's ``__version__`` and accelerate (``device_map=``) read distribution metadata.
"""

from PyInstaller.utils.hooks import copy_metadata

hiddenimports = [
    "voicebox_engine_omnivoice.backend",
    "omnivoice.models.omnivoice",
    "accelerate",
    "transformers.models.qwen3.configuration_qwen3",
    "transformers.models.qwen3.modeling_qwen3",
    "transformers.models.qwen2.tokenization_qwen2",
    "transformers.models.higgs_audio_v2_tokenizer.configuration_higgs_audio_v2_tokenizer",
    "transformers.models.higgs_audio_v2_tokenizer.modeling_higgs_audio_v2_tokenizer",
    "transformers.models.dac.configuration_dac",
    "transformers.models.dac.modeling_dac",
    "transformers.models.dac.feature_extraction_dac",
    "transformers.models.hubert.configuration_hubert",
    "transformers.models.hubert.modeling_hubert",
]

datas = copy_metadata("voicebox-engine-omnivoice")
for _name in ("omnivoice", "transformers", "accelerate", "torch", "numpy", "tokenizers", "safetensors",
              "huggingface-hub", "regex", "packaging", "pyyaml", "tqdm", "filelock"):
    datas += copy_metadata(_name)
