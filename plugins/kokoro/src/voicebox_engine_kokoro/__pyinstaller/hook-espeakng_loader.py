"""PyInstaller hook for espeakng-loader 0.2.4 (GPL espeak-ng build).

``get_library_path()`` and ``get_data_path()`` return ``Path(__file__).parent /
"libespeak-ng.so"`` (``.dylib``/``.dll`` elsewhere) and ``/ "espeak-ng-data"``: the shared
library and its 19 MB of data must stay inside an ``espeakng_loader`` folder of the bundle.
phonemizer copies the library into a ``tempfile.mkdtemp()`` before ``dlopen``, so the
frozen app needs a writable temp directory.
"""

from PyInstaller.utils.hooks import collect_data_files, collect_dynamic_libs

binaries = collect_dynamic_libs("espeakng_loader")
datas = collect_data_files("espeakng_loader", subdir="espeak-ng-data")
