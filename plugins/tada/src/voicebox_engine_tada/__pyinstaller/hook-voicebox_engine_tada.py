"""PyInstaller hook of the TADA plugin (found through the ``pyinstaller40`` entry point).

See docs/audits/tada.md. The backend is named as a string in EngineInfo and imports
hume-tada through ``importlib`` inside a function, so PyInstaller sees neither: both are
hidden imports. No ``dac`` is collected: the plugin's own ``dac_shim`` stands in for
descript-audio-codec (whose ``@torch.jit.script`` needs ``.py`` sources in a frozen app).
torch and transformers are covered by pyinstaller-hooks-contrib (source collection for
TorchScript, metadata for transformers' version checks).
"""

from PyInstaller.utils.hooks import copy_metadata

hiddenimports = [
    "voicebox_engine_tada.backend",
    "voicebox_engine_tada.dac_shim",
    "voicebox_engine_tada.prompts",
    "voicebox_engine_tada.upstream",
    "tada",
    "tada.modules",
    "tada.modules.aligner",
    "tada.modules.decoder",
    "tada.modules.encoder",
    "tada.modules.tada",
    "tada.modules.acoustic_spkr_verf",
    "tada.nn.vibevoice",
    "tada.utils.gray_code",
    "tada.utils.text",
    # Loaded by transformers' Auto* classes from a config's model_type, not imported by name.
    "transformers.models.llama",
    "transformers.models.wav2vec2",
    "transformers.models.parakeet",
    "transformers.models.auto.tokenization_auto",
    "torchaudio.functional",
]

# importlib.metadata lookups: the registry reads this distribution's name and version;
# transformers checks the versions of tokenizers, safetensors and huggingface-hub at import.
datas = copy_metadata("voicebox-engine-tada")
for _name in ("transformers", "tokenizers", "safetensors", "huggingface-hub", "hume-tada"):
    datas += copy_metadata(_name)
