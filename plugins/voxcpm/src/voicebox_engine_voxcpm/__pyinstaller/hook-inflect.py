"""PyInstaller hook for inflect (imported by VoxCPM's text normaliser).

inflect decorates its API with typeguard's ``@typechecked``, which reads each function's
source when it is decorated: collect inflect as ``.py`` files too.
"""

module_collection_mode = "pyz+py"
