"""voicebox-core: the contract every Voicebox engine plugin implements, and its host.

An engine author needs nothing beyond this module's ``__all__``::

    import voicebox_core as vb

    VOICEBOX_API_VERSION = vb.API_VERSION

    @vb.hookimpl
    def voicebox_register_engines(register):
        register(vb.EngineInfo(...))
"""

from voicebox_core import runtime
from voicebox_core.backend import TTSBackend
from voicebox_core.config import Capabilities, EngineInfo, ModelConfig, PresetVoice, VoiceKind
from voicebox_core.errors import (
    ConflictError,
    ContractError,
    EmptyTextError,
    EngineBusyError,
    EngineInstallError,
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
from voicebox_core.synthesis import Synthesis, SynthesisRequest, Synthesizer, Voice

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
    "Synthesis",
    "SynthesisRequest",
    "Synthesizer",
    "TTSBackend",
    "UnknownEngineError",
    "UnknownModelError",
    "UnknownVoiceError",
    "UnsupportedLanguageError",
    "Voice",
    "VoiceKind",
    "VoiceboxError",
    "__version__",
    "get_registry",
    "hookimpl",
    "runtime",
]
