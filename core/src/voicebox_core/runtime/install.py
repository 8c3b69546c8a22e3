"""What a backend says when its model library does not import."""

from __future__ import annotations

from voicebox_core.errors import EngineInstallError

__all__ = ["upstream_import_error"]


def upstream_import_error(exc: BaseException, distribution: str, install: str) -> EngineInstallError:
    """The error for a model library that failed to import: "not installed, run ``install``"
    only when ``distribution`` is really absent; otherwise it is installed but broken (a
    dependency at the wrong version, a torchaudio built for another torch), and the deep
    doctor names the cause."""
    import importlib_metadata

    try:
        version = importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return EngineInstallError(f"{distribution} is not installed ({type(exc).__name__}: {exc}); "
                                  f"install it with `{install}`")
    return EngineInstallError(
        f"{distribution} {version} is installed but fails to import ({type(exc).__name__}: {exc}); "
        "`voicebox engines doctor --deep` names the conflicting package and the command that fixes it")
