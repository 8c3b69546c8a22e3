"""Run by PyInstaller's own test suite (``pytest --pyargs`` over registered test dirs).

Freezes a script that builds misaki's English and Spanish G2P through the plugin's scoped
loaders and phonemizes a sentence, proving misaki's lexicons, espeakng_loader's library and
data, phonemizer's metadata and a spaCy pipeline made it into the bundle. It needs no
Kokoro weights. Not part of ``tox -e kokoro``.
"""


def test_kokoro_g2p_when_frozen(pyi_builder):
    pyi_builder.test_source(
        """
        from voicebox_engine_kokoro import backend

        with backend._misaki_scope():
            from kokoro import KPipeline

            with backend._offline_spacy_for_misaki() as source:
                english = KPipeline("a", repo_id="hexgrad/Kokoro-82M", model=False)
            spanish = KPipeline("e", repo_id="hexgrad/Kokoro-82M", model=False)
        en = [r.phonemes for r in english("Hello world, 42 times.")]
        es = [r.phonemes for r in spanish("Hola mundo.")]
        assert en and en[0] and es and es[0], (en, es)
        print("frozen kokoro g2p ok", source, en, es)
        """
    )
