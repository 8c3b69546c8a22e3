"""Engine and model metadata: plain frozen data, importable without torch.

A plugin describes itself with one :class:`EngineInfo` per engine, each holding its
:class:`ModelConfig` entries and, for preset engines, its :class:`PresetVoice` list. The
registry validates them at registration; :func:`validate_engine` returns every problem at
once so a plugin author fixes them in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEVICES",
    "VOICE_KINDS",
    "Capabilities",
    "EngineInfo",
    "ModelConfig",
    "PresetVoice",
    "VoiceKind",
    "validate_engine",
]

VoiceKind = Literal["cloned", "preset", "designed"]
VOICE_KINDS: tuple[str, ...] = ("cloned", "preset", "designed")
DEVICES: tuple[str, ...] = ("cpu", "cuda", "mps")

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$", re.IGNORECASE)
_ENGINE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_LANGUAGE = re.compile(r"^(auto|[a-z]{2,3}(-[A-Za-z0-9]{2,8})?)$")


@dataclass(frozen=True)
class ModelConfig:
    """One downloadable, loadable model of an engine (one row of Voicebox's registry)."""

    model_name: str
    display_name: str
    engine: str
    hf_repo_id: str | None
    sample_rate: int
    languages: tuple[str, ...]
    model_size: str = "default"
    revision: str | None = None
    #: Files (glob patterns) whose presence proves the cached snapshot is complete; also
    #: what the download helper fetches. Empty means "the whole repository".
    files: tuple[str, ...] = ()
    #: Files (glob patterns) fetched later, on demand (voice packs): counted in the size on
    #: disk and deleted with the model, but not needed for it to count as downloaded.
    on_demand_files: tuple[str, ...] = ()
    size_mb: int = 0
    needs_trim: bool = False
    supports_instruct: bool = False
    #: Devices the model can run on; the device helper never picks another one.
    devices: tuple[str, ...] = ("cpu", "cuda")
    #: Platforms (``sys.platform`` prefixes) it is offered on; empty means all.
    platforms: tuple[str, ...] = ()
    description: str = ""
    license: str = ""
    #: True when the weights ship inside an installed package: nothing to download.
    bundled: bool = False
    #: Other repositories the model cannot run without (codec, tokenizer...). Downloaded,
    #: checked and sized together with the model, under the model's name; not listed as
    #: models of their own.
    requires: tuple[ModelConfig, ...] = ()


@dataclass(frozen=True)
class PresetVoice:
    """A built-in voice of a preset engine."""

    voice_id: str
    display_name: str
    #: The voice's own language: the default when a request names none.
    language: str
    gender: str = ""
    #: Model names this voice works with; empty means every model of the engine.
    models: tuple[str, ...] = ()
    #: Every language the voice speaks, when it speaks more than its own.
    languages: tuple[str, ...] = ()

    def speaks(self, language: str) -> bool:
        base = language.split("-")[0]
        return any(lang.split("-")[0] == base for lang in (self.language, *self.languages))


@dataclass(frozen=True)
class Capabilities:
    instruct: bool = False
    #: The backend implements ``generate_stream`` (voicebox_core.StreamingBackend): audio leaves
    #: as the model makes it, not a sentence at a time.
    streaming: bool = False
    #: The backend implements ``generate_timed`` (voicebox_core.TimedBackend): word start and
    #: end times from the model's own alignment, served as captions and timestamps.
    word_timestamps: bool = False
    multi_sample: bool = False
    #: Same seed, same text, same voice gives bit-identical audio on one machine.
    deterministic: bool = False
    #: Longest text the backend takes in one ``generate`` call; the core chunks above it.
    max_chunk_chars: int = 800
    #: The text length per ``generate`` call this engine is fastest with, measured
    #: (``benchmarks/chunk_bench.py``). The core then chunks whole requests and sentence
    #: streams alike at about this size (capped by ``max_chunk_chars``; a stream still sends
    #: its first sentence alone). None: whole requests at ``max_chunk_chars``, streams at
    #: about a sentence (``voicebox_core.synthesis.STREAM_CHUNK_CHARS``).
    chunk_chars: int | None = None
    #: Voices one ``generate`` call can speak with (a dialogue script): above 1, the core
    #: sends a request with several voices as ``{"voice_type": "dialogue", "speakers":
    #: [prompt, ...]}`` and text whose turns start with ``Speaker N:`` (N from 1).
    max_speakers: int = 1


@dataclass(frozen=True)
class EngineInfo:
    """Everything the host and a front end need to know about an engine, without running it.

    ``backend`` is ``"module:attribute"``; the core imports it only when the engine is
    first used and calls it with no arguments to build the backend, unless a plugin's
    ``voicebox_create_backend`` hook answers first.
    """

    name: str
    display_name: str
    models: tuple[ModelConfig, ...]
    voice_kinds: tuple[str, ...]
    backend: str
    description: str = ""
    preset_voices: tuple[PresetVoice, ...] = ()
    default_voice: str | None = None
    capabilities: Capabilities = field(default_factory=Capabilities)
    #: Reference clip limits for cloned voices, in seconds.
    reference_seconds: tuple[float, float] = (2.0, 30.0)
    homepage: str = ""
    #: ``"module:function"`` run by ``voicebox engines doctor --deep`` in a child process: the
    #: cheapest real use of the model library (import it as the backend does, check a
    #: version). It raises when the installation is broken. Empty: the doctor imports the
    #: backend's module only.
    check: str = ""

    @property
    def default_model(self) -> ModelConfig:
        return self.models[0]

    @property
    def languages(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for model in self.models:
            seen.update(dict.fromkeys(model.languages))
        return tuple(seen)

    def model(self, model_name: str) -> ModelConfig | None:
        return next((m for m in self.models if m.model_name == model_name), None)

    def preset(self, voice_id: str) -> PresetVoice | None:
        return next((v for v in self.preset_voices if v.voice_id == voice_id), None)


def validate_engine(info: object) -> list[str]:
    """Return every contract violation of ``info``, each naming the offending field."""
    if not isinstance(info, EngineInfo):
        return [f"registered object is a {type(info).__name__}, not voicebox_core.EngineInfo"]
    problems: list[str] = []
    where = f"engine {info.name!r}"
    if not _ENGINE.match(info.name):
        problems.append(f"{where}: field 'name' must match {_ENGINE.pattern}")
    if not info.display_name:
        problems.append(f"{where}: field 'display_name' is empty")
    if ":" not in info.backend:
        problems.append(f"{where}: field 'backend' must be 'module:attribute', got {info.backend!r}")
    if info.check and ":" not in info.check:
        problems.append(f"{where}: field 'check' must be 'module:function', got {info.check!r}")
    bad_kinds = [k for k in info.voice_kinds if k not in VOICE_KINDS]
    if not info.voice_kinds or bad_kinds:
        problems.append(f"{where}: field 'voice_kinds' must be a non-empty subset of {VOICE_KINDS}")
    if not info.models:
        problems.append(f"{where}: field 'models' is empty; declare at least one ModelConfig")
    if "preset" in info.voice_kinds and not info.preset_voices:
        problems.append(f"{where}: field 'preset_voices' is empty but voice_kinds has 'preset'")
    voice_ids = [v.voice_id for v in info.preset_voices]
    if len(set(voice_ids)) != len(voice_ids):
        problems.append(f"{where}: field 'preset_voices' repeats a voice_id")
    if info.default_voice is not None and info.default_voice not in voice_ids:
        problems.append(f"{where}: field 'default_voice' {info.default_voice!r} is not a preset voice")
    for index, voice in enumerate(info.preset_voices):
        problems.extend(_validate_voice(where, index, voice))
    if not isinstance(info.capabilities.max_chunk_chars, int) or info.capabilities.max_chunk_chars < 20:
        problems.append(f"{where}: field 'capabilities.max_chunk_chars' must be an integer of at least 20")
    chunk = info.capabilities.chunk_chars
    if chunk is not None and (not isinstance(chunk, int) or chunk < 20):
        problems.append(f"{where}: field 'capabilities.chunk_chars' must be None or an integer of at least 20")
    speakers = info.capabilities.max_speakers
    if not isinstance(speakers, int) or isinstance(speakers, bool) or speakers < 1:
        problems.append(f"{where}: field 'capabilities.max_speakers' must be an integer of at least 1")
    low, high = info.reference_seconds
    if not 0 < low < high:
        problems.append(f"{where}: field 'reference_seconds' must be (min, max) with 0 < min < max")
    for model in info.models:
        problems.extend(_validate_model(info, model))
    return problems


def _codes(where: str, field_name: str, value: object) -> list[str]:
    """Problems of a field that must hold language codes (a tuple of strings)."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        return [f"{where}: field {field_name!r} must be a tuple of language codes such as "
                f"('en', 'de'), not {type(value).__name__} {value!r}"]
    return [f"{where}: field {field_name!r} holds {lang!r}, not an ISO 639 code such as 'en' (or 'auto')"
            for lang in value if not isinstance(lang, str) or not _LANGUAGE.match(lang)]


def _validate_voice(where: str, index: int, voice: object) -> list[str]:
    if not isinstance(voice, PresetVoice):
        return [f"{where}: field 'preset_voices[{index}]' is a {type(voice).__name__}, not PresetVoice"]
    at = f"{where}: preset voice {voice.voice_id!r}"
    problems = []
    if not isinstance(voice.language, str) or not _LANGUAGE.match(voice.language):
        problems.append(f"{at}: field 'language' is {voice.language!r}, not an ISO 639 code such as 'en'")
    problems.extend(_codes(at, "languages", voice.languages))
    if isinstance(voice.models, str) or not isinstance(voice.models, (tuple, list)):
        problems.append(f"{at}: field 'models' must be a tuple of model names, not {voice.models!r}")
    return problems


_TYPES: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("model_name", str), ("display_name", str), ("engine", str), ("sample_rate", int),
    ("model_size", str), ("size_mb", (int, float)), ("needs_trim", bool), ("supports_instruct", bool),
    ("bundled", bool), ("files", (tuple, list)), ("on_demand_files", (tuple, list)),
)


def _validate_model(info: EngineInfo, model: object) -> list[str]:
    if not isinstance(model, ModelConfig):
        return [f"engine {info.name!r}: field 'models' holds a {type(model).__name__}, not ModelConfig"]
    where = f"model {model.model_name!r}"
    typed = [f"{where}: field {name!r} must be {_type_names(kind)}, not {type(getattr(model, name)).__name__} "
             f"{getattr(model, name)!r}" for name, kind in _TYPES
             if not isinstance(getattr(model, name), kind)
             or (kind is int and isinstance(getattr(model, name), bool))]
    codes = _codes(where, "languages", model.languages)
    if typed or (codes and (isinstance(model.languages, str) or not isinstance(model.languages, (tuple, list)))):
        return typed + codes  # the checks below compare values: types first
    problems = []
    if not _NAME.match(model.model_name):
        problems.append(f"{where}: field 'model_name' must match {_NAME.pattern}")
    if model.engine != info.name:
        problems.append(f"{where}: field 'engine' is {model.engine!r}, expected {info.name!r}")
    if not model.display_name:
        problems.append(f"{where}: field 'display_name' is empty")
    if not model.bundled and not model.hf_repo_id:
        problems.append(f"{where}: field 'hf_repo_id' is empty and the model is not bundled")
    if not 4000 <= model.sample_rate <= 192000:
        problems.append(f"{where}: field 'sample_rate' {model.sample_rate} is not an audio rate")
    if not model.languages:
        problems.append(f"{where}: field 'languages' is empty")
    problems.extend(codes)
    if not model.devices or any(d not in DEVICES for d in model.devices):
        problems.append(f"{where}: field 'devices' must be a non-empty subset of {DEVICES}")
    if model.size_mb < 0:
        problems.append(f"{where}: field 'size_mb' is negative")
    for required in model.requires:
        if not isinstance(required, ModelConfig) or not required.hf_repo_id:
            problems.append(f"{where}: field 'requires' must hold ModelConfigs with an hf_repo_id")
    return problems


def _type_names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({"str": "a string", "int": "an integer", "float": "a number", "bool": "True or False",
                        "tuple": "a tuple", "list": "a list"}.get(k.__name__, k.__name__) for k in kinds)
