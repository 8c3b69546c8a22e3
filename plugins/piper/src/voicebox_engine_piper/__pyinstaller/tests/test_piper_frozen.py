"""Run by PyInstaller's own test suite (``pytest --pyargs`` over registered test dirs).

Freezes a script that speaks one word with the bundled voice through the plugin backend,
proving the espeak-ng data, the espeakbridge extension, onnxruntime's libraries and the voice
package's data all made it into the bundle. Not part of ``tox -e piper``.
"""


def test_piper_speaks_when_frozen(pyi_builder) -> None:  # type: ignore[no-untyped-def]
    pyi_builder.test_source(
        """
        import asyncio

        from voicebox_engine_piper.backend import PiperBackend

        backend = PiperBackend()
        asyncio.run(backend.load_model("en_US-joe-medium"))
        audio, rate = asyncio.run(backend.generate(
            "Hello.", {"voice_type": "preset", "preset_engine": "piper",
                       "preset_voice_id": "en_US-joe-medium"}))
        assert rate == 22050 and audio.size > 2000, (rate, audio.size)
        print("frozen piper ok", audio.size)
        """
    )
