"""PyInstaller hook for hume-tada 0.1.9 (see docs/audits/tada.md).

- ``tada/modules/{encoder,decoder}.py`` import ``Snake1d`` from ``dac``; at run time the
  plugin's shim answers those imports, so the real descript-audio-codec (and its
  descript-audiotools tree, and its ``@torch.jit.script``) is never bundled even when it
  happens to be installed in the build environment.
- torchvision is in hume-tada's Requires-Dist but never imported.
- The ``*_test.py`` modules and ``samples/`` (five WAV files, 2 MB) are not needed at
  inference: tests excluded, no data collected.
"""

excludedimports = ["dac", "audiotools", "torchvision"]
hiddenimports: list[str] = []
datas: list[tuple[str, str]] = []
