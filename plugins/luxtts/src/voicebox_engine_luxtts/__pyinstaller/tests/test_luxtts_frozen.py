"""Run by PyInstaller's own test suite (``pytest --pyargs`` over registered test dirs).

Freezes a script that imports LuxTTS's whole chain and phonemises English and Chinese,
proving the kept sources (typeguard in inflect, TorchScript in linacodec), espeak-ng's data
and cn2an's config made it into the bundle. Not part of ``tox -e luxtts``.
"""


def test_luxtts_imports_and_phonemises_when_frozen(pyi_builder):
    pyi_builder.test_source(
        """
        import voicebox_engine_luxtts.backend
        from zipvoice.luxvoice import LuxTTS
        from linacodec.vocoder.upsampler_block import UpSamplerBlock
        from zipvoice.tokenizer.tokenizer import EmiliaTokenizer

        tokens = EmiliaTokenizer().texts_to_tokens(["Hello world.", "你好世界"])
        assert tokens[0] and tokens[1], tokens
        print("frozen luxtts ok", tokens)
        """
    )
