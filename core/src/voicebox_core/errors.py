"""Typed errors of the engine contract.

Every error a user can cause derives from :class:`VoiceboxError` and carries an HTTP
status, so the CLI prints one line and the server answers 4xx without guessing.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ConflictError",
    "ContractError",
    "EmptyTextError",
    "EngineBusyError",
    "EngineInstallError",
    "EngineWorkerError",
    "GenerationCancelledError",
    "GenerationError",
    "InvalidRequestError",
    "ModelNotDownloadedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "ReferenceAudioError",
    "StorageError",
    "UnknownEngineError",
    "UnknownModelError",
    "UnknownVoiceError",
    "UnsupportedLanguageError",
    "VoiceboxError",
]


def _choices(valid: Iterable[str]) -> str:
    names = sorted(set(valid))
    if not names:
        return "none are available"
    shown = ", ".join(names[:40])
    return shown + (f", … ({len(names)} in all)" if len(names) > 40 else "")


class VoiceboxError(Exception):
    """Base of every error the core, a plugin or a client request can raise on purpose."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidRequestError(VoiceboxError):
    """A request value is malformed (seed out of range, text too long, bad name...)."""

    status_code = 422


class EmptyTextError(InvalidRequestError):
    """The text to speak is empty or holds nothing pronounceable."""

    def __init__(self, message: str = "text is empty: give at least one word to speak") -> None:
        super().__init__(message)


class UnknownEngineError(VoiceboxError):
    status_code = 404

    def __init__(self, engine: str, valid: Iterable[str], set_aside: str = "") -> None:
        why = f": {set_aside}" if set_aside else ""
        super().__init__(f"unknown engine {engine!r}{why}; installed engines: {_choices(valid)}")
        self.engine = engine


class UnknownModelError(VoiceboxError):
    status_code = 404

    def __init__(self, model: str, valid: Iterable[str], set_aside: str = "") -> None:
        why = f": {set_aside}" if set_aside else ""
        super().__init__(f"unknown model {model!r}{why}; available models: {_choices(valid)}")
        self.model = model


class UnknownVoiceError(VoiceboxError):
    status_code = 404

    def __init__(self, voice: str, engine: str, valid: Iterable[str]) -> None:
        super().__init__(
            f"unknown voice {voice!r} for engine {engine!r}; its voices: {_choices(valid)}"
        )
        self.voice = voice


class UnsupportedLanguageError(VoiceboxError):
    status_code = 422

    def __init__(self, language: str, where: str, valid: Iterable[str]) -> None:
        super().__init__(
            f"language {language!r} is not supported by {where}; choose one of: {_choices(valid)}"
        )
        self.language = language


class NotFoundError(VoiceboxError):
    """A stored thing (profile, sample, generation) does not exist."""

    status_code = 404


class ConflictError(VoiceboxError):
    """The request clashes with what exists (a taken name, a bundled model to delete)."""

    status_code = 409


class PayloadTooLargeError(VoiceboxError):
    status_code = 413


class ReferenceAudioError(InvalidRequestError):
    """A reference clip is missing, undecodable, too short, too long or silent."""


class ModelNotDownloadedError(VoiceboxError):
    """The model's files are not on disk and the network may not be used."""

    status_code = 409


class EngineBusyError(VoiceboxError):
    """The engine's queue is full; retry later."""

    status_code = 503


class GenerationError(VoiceboxError):
    """The engine ran but produced no usable audio."""

    status_code = 500


class GenerationCancelledError(VoiceboxError):
    """A client cancelled the generation (or went away) before it finished."""

    status_code = 409


class StorageError(VoiceboxError):
    """The data directory cannot be written (read-only, full, missing)."""

    status_code = 507


class EngineWorkerError(EngineBusyError):
    """An isolated engine's worker process crashed, hung or could not start. The request
    failed; the worker starts again on the next request, and other engines are unaffected."""

    status_code = 503


class EngineInstallError(VoiceboxError):
    """An engine's installation is incomplete (a library or its bundled data is missing)."""

    status_code = 500


class ContractError(VoiceboxError):
    """A plugin broke the contract (bad metadata, wrong version, bad return value)."""

    status_code = 500
