"""Bundle voicebox-core and the entry-point metadata of every installed engine plugin.

Without the plugins' ``.dist-info`` folders ``importlib.metadata.entry_points()`` is empty
in a frozen app and no engine is found. Each plugin's own hook (its ``__pyinstaller``
folder) adds what its engine needs; this hook names no engine.
"""

from __future__ import annotations

import importlib_metadata
from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

GROUP = "voicebox.engines"

datas = copy_metadata("voicebox-core")
# The server's web page (static files read from the package folder at run time).
datas += collect_data_files("voicebox_core", includes=["server/web/*"])
hiddenimports = collect_submodules(
    "voicebox_core", filter=lambda name: not name.startswith("voicebox_core.testing")
)

def _plugin_modules(name: str) -> bool:
    return ".tests" not in name and "__pyinstaller" not in name


_seen: set[str] = set()
for entry_point in importlib_metadata.entry_points(group=GROUP):
    dist = entry_point.dist.name if entry_point.dist else None
    # The whole plugin package: its metadata module and the backend it names lazily.
    hiddenimports += collect_submodules(entry_point.module.split(".")[0], filter=_plugin_modules)
    if dist and dist not in _seen:
        _seen.add(dist)
        datas += copy_metadata(dist)

# Libraries the core reads its own version metadata from at run time.
for _name in ("huggingface-hub", "tqdm", "numpy", "soundfile", "pluggy", "importlib-metadata",
              "fastapi", "starlette", "uvicorn", "sqlalchemy", "pydantic", "python-multipart"):
    try:
        datas += copy_metadata(_name)
    except Exception:  # noqa: BLE001 - optional parts (the [server] extra) may be absent
        pass

# Language names for /engines (langcodes reads CLDR data files from language_data).
for _name in ("language_data", "langcodes"):
    try:
        datas += collect_data_files(_name)
    except Exception:  # noqa: BLE001 - the [server] extra may be absent
        pass
