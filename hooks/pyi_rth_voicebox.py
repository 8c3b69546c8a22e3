"""Runtime hook of the frozen voicebox app: runs before any application module.

- stdout/stderr: a windowed (``--noconsole``) build has none; printing would crash.
- Native data paths: libraries that look for espeak-ng data at system paths find the copy
  bundled by their plugin's hook (the first ``*/espeak-ng-data`` inside the bundle).
- numba's cache: it caches compiled functions beside their source, which a bundle does not
  have (librosa's numba kernels were compiled again at every start: seconds per engine
  load); a per-user cache folder keeps them.
"""

import os
import sys


def _writable(stream):
    try:
        return stream is not None and not stream.closed and stream.writable()
    except (AttributeError, ValueError):
        return False


if not _writable(sys.stdout):
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
if not _writable(sys.stderr):
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115

if getattr(sys, "frozen", False):
    if "NUMBA_CACHE_DIR" not in os.environ:
        _cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        os.environ["NUMBA_CACHE_DIR"] = os.path.join(_cache, "voicebox", "numba")
    _root = getattr(sys, "_MEIPASS", os.path.dirname(sys.executable))
    if "ESPEAK_DATA_PATH" not in os.environ:
        for _dirpath, _dirnames, _ in os.walk(_root):
            if "espeak-ng-data" in _dirnames:
                os.environ["ESPEAK_DATA_PATH"] = os.path.join(_dirpath, "espeak-ng-data")
                break
            if _dirpath.count(os.sep) - _root.count(os.sep) >= 2:
                _dirnames[:] = []
