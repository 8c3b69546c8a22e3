"""OpenAI's model and voice names, mapped to what is installed.

Voice-agent frameworks send OpenAI's names (``tts-1``, ``gpt-4o-mini-tts``; ``alloy``,
``nova``...) and some refuse any other voice before sending a request. Each OpenAI model name
means one model the operator chooses (``VOICEBOX_OPENAI_MODEL``, a model or engine name;
default: the first engine, by name, whose default model is ready and that has preset voices),
and each OpenAI voice name means one voice the operator chooses (``VOICEBOX_OPENAI_VOICES``, a
JSON object of OpenAI name to preset voice id or profile name; the default gives every OpenAI
name a preset voice of that model, the same gender where the engine says so). A real model,
engine, voice or profile of that name always wins over an alias. ``/engines`` and
``/v1/audio/voices`` show what each alias means.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from voicebox_core.errors import InvalidRequestError

__all__ = ["OPENAI_MODELS", "OPENAI_VOICES", "Aliases", "aliases", "check_configuration", "model_of", "voice_of"]

#: OpenAI's speech models.
OPENAI_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
#: OpenAI's voices, with the gender their descriptions give ("" where none).
OPENAI_VOICES = {"alloy": "", "ash": "male", "ballad": "male", "coral": "female", "echo": "male",
                 "fable": "", "nova": "female", "onyx": "male", "sage": "female", "shimmer": "female",
                 "verse": "male", "marin": "female", "cedar": "male"}


@dataclass(frozen=True)
class Aliases:
    #: OpenAI model name -> model name here.
    models: dict[str, str]
    #: OpenAI voice name -> preset voice id or profile name here (voices of ``models``' target).
    voices: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {"models": dict(self.models), "voices": dict(self.voices)}


def _configured(variable: str) -> dict[str, str]:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"{variable} is not valid JSON ({exc.msg}); give an object such as "
                                  '{"alloy": "<voice id or profile name>"}') from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise InvalidRequestError(f"{variable} must be a JSON object of names to names")
    return dict(data)


def check_configuration() -> None:
    """Raise at start, not at the first request, when the operator's aliases cannot be read."""
    _configured("VOICEBOX_OPENAI_VOICES")
    _configured("VOICEBOX_OPENAI_MODELS")


def _default_model(registry: Any) -> str | None:
    from voicebox_core.runtime.download import is_downloaded

    chosen = os.environ.get("VOICEBOX_OPENAI_MODEL", "").strip()
    if chosen:
        return registry.model(chosen).model_name
    engines = registry.engines
    for engine in engines:
        if engine.preset_voices and is_downloaded(engine.default_model):
            return engine.default_model.model_name
    return engines[0].default_model.model_name if engines else None


def _default_voices(engine: Any, model_name: str) -> dict[str, str]:
    """Every OpenAI voice name to one of the engine's preset voices for this model, spread over
    them (same gender first, then any), English voices first."""
    usable = [v for v in engine.preset_voices if not v.models or model_name in v.models]
    if not usable:
        return {}
    english = [v for v in usable if v.speaks("en")]
    pool = english or usable
    chosen: dict[str, str] = {}
    used: dict[str, int] = {}
    for name, gender in OPENAI_VOICES.items():
        same = [v for v in pool if gender and v.gender == gender] or pool
        voice = min(same, key=lambda v: (used.get(v.voice_id, 0), pool.index(v)))
        used[voice.voice_id] = used.get(voice.voice_id, 0) + 1
        chosen[name] = voice.voice_id
    return chosen


def model_of(registry: Any, name: str) -> str:
    """The model an OpenAI model name means (a real model or engine name is itself)."""
    if name in OPENAI_MODELS or name in _configured("VOICEBOX_OPENAI_MODELS"):
        try:
            registry.model(name)
        except Exception:  # noqa: BLE001 - not a real name: the alias
            return aliases(registry).models.get(name, name)
    return name


def voice_of(registry: Any, model_name: str, name: str) -> str | None:
    """The preset voice id or profile name an OpenAI voice name means for this model, or None
    when ``name`` is no alias."""
    if name not in OPENAI_VOICES and name not in _configured("VOICEBOX_OPENAI_VOICES"):
        return None
    configured = _configured("VOICEBOX_OPENAI_VOICES").get(name)
    if configured is not None:
        return configured  # the operator's choice: a preset voice id or a profile name
    model = registry.model(model_name)
    return _default_voices(registry.engine(model.engine), model.model_name).get(name)


def aliases(registry: Any) -> Aliases:
    """What OpenAI's names mean on this server now."""
    configured_models = _configured("VOICEBOX_OPENAI_MODELS")
    target = _default_model(registry)
    models = {name: target for name in OPENAI_MODELS if target is not None}
    for name, model in configured_models.items():
        models[name] = registry.model(model).model_name
    voices: dict[str, str] = {}
    if target is not None:
        model = registry.model(target)
        voices = _default_voices(registry.engine(model.engine), model.model_name)
    voices.update(_configured("VOICEBOX_OPENAI_VOICES"))
    return Aliases(models, voices)
