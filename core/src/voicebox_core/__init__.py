"""voicebox-core: the contract every Voicebox engine plugin implements, and its host.

An engine author needs nothing beyond this module's ``__all__``::

    import voicebox_core as vb

    VOICEBOX_API_VERSION = vb.API_VERSION

    @vb.hookimpl
    def voicebox_register_engines(register):
        register(vb.EngineInfo(...))
"""

import typing as _typing

from voicebox_core.backend import StreamingBackend, TimedBackend, TTSBackend
from voicebox_core.config import Capabilities, EngineInfo, ModelConfig, PresetVoice, VoiceKind
from voicebox_core.errors import (
    ConflictError,
    ContractError,
    EmptyTextError,
    EngineBusyError,
    EngineInstallError,
    EngineWorkerError,
    GenerationCancelledError,
    GenerationError,
    InvalidRequestError,
    ModelNotDownloadedError,
    NotFoundError,
    PayloadTooLargeError,
    ReferenceAudioError,
    StorageError,
    UnknownEngineError,
    UnknownModelError,
    UnknownVoiceError,
    UnsupportedLanguageError,
    VoiceboxError,
)
from voicebox_core.hookspecs import API_VERSION, hookimpl
from voicebox_core.registry import PluginFailure, PluginRecord, Registry, get_registry
from voicebox_core.timing import TimedChunk, WordTime

if _typing.TYPE_CHECKING:
    from voicebox_core import runtime
    from voicebox_core.synthesis import Synthesis, SynthesisRequest, Synthesizer, Voice

#: Imported on first use: they bring numpy, soundfile and huggingface_hub, which
#: discovery, ``voicebox engines list`` and ``--help`` never need.
_LAZY = {"runtime": "voicebox_core.runtime", "Synthesis": "voicebox_core.synthesis",
         "SynthesisRequest": "voicebox_core.synthesis", "Synthesizer": "voicebox_core.synthesis",
         "Voice": "voicebox_core.synthesis"}


def __getattr__(name: str) -> _typing.Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        value = module if name == "runtime" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'voicebox_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY} - {"_typing"})

__version__ = "0.1.0"

__all__ = [
    "API_VERSION",
    "Capabilities",
    "ConflictError",
    "ContractError",
    "EmptyTextError",
    "EngineBusyError",
    "EngineInfo",
    "EngineInstallError",
    "EngineWorkerError",
    "GenerationCancelledError",
    "GenerationError",
    "InvalidRequestError",
    "ModelConfig",
    "ModelNotDownloadedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PluginFailure",
    "PluginRecord",
    "PresetVoice",
    "ReferenceAudioError",
    "Registry",
    "StorageError",
    "StreamingBackend",
    "Synthesis",
    "SynthesisRequest",
    "Synthesizer",
    "TTSBackend",
    "TimedBackend",
    "TimedChunk",
    "UnknownEngineError",
    "UnknownModelError",
    "UnknownVoiceError",
    "UnsupportedLanguageError",
    "Voice",
    "VoiceKind",
    "VoiceboxError",
    "WordTime",
    "__version__",
    "get_registry",
    "hookimpl",
    "runtime",
]
