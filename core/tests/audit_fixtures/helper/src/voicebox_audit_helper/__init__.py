import ctypes
import importlib.metadata

__version__ = importlib.metadata.version("voicebox-audit-helper")
LIBRARY = "libhelper.so"  # loaded with ctypes at run time


def load():
    return ctypes.CDLL(LIBRARY)
