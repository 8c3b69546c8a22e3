"""Run by PyInstaller's own test suite (``pytest --pyargs`` over registered test dirs).

Freezes a script that imports the plugin's backend and qwen_tts the way the engine does and
touches what a frozen build loses first: the lazily named backend module, transformers'
by-name model classes (Mimi, Encodec feature extractor, Qwen2 tokenizer), the metadata
transformers checks at import, and qwen_tts's packaged mel filters. Not part of ``tox -e qwen``
(it needs PyInstaller and takes minutes).
"""


def test_qwen_imports_when_frozen(pyi_builder):
    pyi_builder.test_source(
        """
        import importlib, importlib.metadata

        backend = importlib.import_module("voicebox_engine_qwen.backend")
        assert backend.QwenBaseBackend().engine == "qwen"

        import qwen_tts
        from qwen_tts.core import Qwen3TTSTokenizerV2Config
        from qwen_tts.core.tokenizer_25hz.vq.whisper_encoder import mel_filters
        from transformers import EncodecFeatureExtractor, MimiConfig, Qwen2TokenizerFast

        assert mel_filters("cpu", 128).shape[0] == 128
        assert Qwen3TTSTokenizerV2Config().encoder_config is not None
        for dist in ("transformers", "tokenizers", "huggingface-hub", "safetensors", "numpy"):
            importlib.metadata.version(dist)
        print("frozen qwen ok")
        """
    )
