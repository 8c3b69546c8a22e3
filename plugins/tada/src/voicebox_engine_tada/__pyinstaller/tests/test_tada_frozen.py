"""Run by PyInstaller's own test suite (``pytest --pyargs`` over registered test dirs).

Freezes a script that imports hume-tada through the plugin (dac shim in place) and runs the
shim's Snake activation, proving no ``.py`` source is needed (no TorchScript) and that the
real descript-audio-codec was not pulled in. A full generation needs model files: the
project's frozen smoke test (tests/, ``tox -e frozen``) does that with the tiny fixture.
"""


def test_tada_imports_when_frozen(pyi_builder):
    pyi_builder.test_source(
        """
        import sys

        import torch

        from voicebox_engine_tada.backend import import_tada
        from voicebox_engine_tada.dac_shim import Snake1d

        tada = import_tada()
        assert "dac" not in sys.modules, "the dac shim outlived hume-tada's import"
        out = Snake1d(4)(torch.zeros(1, 4, 8))
        assert out.shape == (1, 4, 8)
        print("frozen tada ok", tada.TadaForCausalLM.__name__)
        """
    )
