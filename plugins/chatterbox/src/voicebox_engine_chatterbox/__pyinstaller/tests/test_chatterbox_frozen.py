"""PyInstaller's hook test (run by ``pytest --pyargs PyInstaller``-style harnesses)."""


def test_chatterbox_imports_frozen(pyi_builder):
    pyi_builder.test_source(
        """
        import importlib.metadata
        import perth
        import chatterbox.mtl_tts, chatterbox.tts_turbo
        from s3tokenizer.utils import _mel_filters
        assert tuple(_mel_filters("cpu", 128).shape) == (128, 201)  # assets/mel_filters.npz
        assert perth.PerthImplicitWatermarker is not None, "pkg_resources missing"
        perth.PerthImplicitWatermarker()  # loads the shipped .pth.tar + hparams.yaml
        assert importlib.metadata.version("diffusers")
        import voicebox_engine_chatterbox.backend
        """
    )
