"""PyInstaller hook for qwen-tts 0.1.1 (see docs/audits/qwen.md).

- Data: ``core/tokenizer_25hz/vq/assets/mel_filters.npz``, found through ``__file__`` by the
  25 Hz tokenizer's Whisper encoder. The 12 Hz checkpoints Voicebox ships do not read it;
  it is collected so a 25 Hz checkpoint works too.
- Sources beside the bytecode (``pyz+py``): transformers' ``@auto_docstring`` looks up the
  source files of decorated classes, and Voicebox bundled qwen_tts with --collect-all for
  ``inspect`` lookups; shipping the .py files keeps every such lookup working.
- Classes transformers resolves by name at load time (``AutoModel``/``AutoProcessor``/
  ``AutoFeatureExtractor`` from the checkpoint's JSON), invisible to the import scan.
- transformers checks the installed versions of its core dependencies at import
  (``dependency_versions_check``); their metadata must be bundled. pyinstaller-hooks-contrib's
  transformers hook does this too; repeating it keeps older hooks-contrib releases working.
- Excluded: ``qwen_tts.cli`` (the Gradio demo; gradio is not installed) and gradio itself.
"""

from PyInstaller.utils.hooks import collect_data_files, copy_metadata

datas = collect_data_files("qwen_tts", excludes=["**/__pycache__/**"])
module_collection_mode = "pyz+py"

hiddenimports = [
    "qwen_tts.core.models.configuration_qwen3_tts",
    "qwen_tts.core.models.modeling_qwen3_tts",
    "qwen_tts.core.models.processing_qwen3_tts",
    "qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2",
    "qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2",
    "transformers.models.mimi.configuration_mimi",
    "transformers.models.mimi.modeling_mimi",
    "transformers.models.encodec.feature_extraction_encodec",
    "transformers.models.qwen2.tokenization_qwen2",
    "transformers.models.qwen2.tokenization_qwen2_fast",
    "sox",
    "onnxruntime",
    "torchaudio.compliance.kaldi",
]
excludedimports = ["qwen_tts.cli", "gradio"]

for _dist in ("transformers", "tqdm", "regex", "requests", "packaging", "filelock", "numpy",
              "tokenizers", "huggingface-hub", "safetensors", "pyyaml", "accelerate",
              "qwen-tts"):
    try:
        datas += copy_metadata(_dist)
    except Exception:  # noqa: BLE001 - accelerate is optional; absent metadata is not needed
        pass
