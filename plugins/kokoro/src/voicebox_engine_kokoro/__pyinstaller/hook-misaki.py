"""PyInstaller hook for misaki 0.9.4.

- ``misaki/en.py:143-145`` reads ``us_gold.json``/``us_silver.json`` (and ``gb_*`` for
  British) through ``importlib.resources.open_text(misaki.data, ...)``: about 15 MB of
  lexicons in ``misaki/data``, collected as data.
- ``misaki.ja``/``misaki.zh`` and the ko/vi/he modules are imported lazily by kokoro only
  for those languages; they are hidden imports only when their extras are installed
  (ja needs pyopenjtalk's dictionary, see the audit).
"""

from importlib.util import find_spec

from PyInstaller.utils.hooks import collect_data_files, copy_metadata

datas = collect_data_files("misaki", includes=["data/*.json", "data/*.txt"])
datas += copy_metadata("misaki")
hiddenimports = ["misaki.data", "misaki.en", "misaki.espeak", "misaki.token"]

for _module, _needs in (("misaki.ja", "pyopenjtalk"), ("misaki.zh", "jieba")):
    if find_spec(_needs) is not None:
        hiddenimports.append(_module)

excludedimports = ["misaki.ko", "misaki.vi", "misaki.he", "misaki.g2pkc", "misaki.vi_cleaner"]
