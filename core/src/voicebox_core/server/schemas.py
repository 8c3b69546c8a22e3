"""Request bodies: Voicebox's own (``backend/models.py`` of the app) plus our additions.

Responses are plain dicts built by the services. Every body refuses unknown fields, so a
typo is a 422 that names it rather than a silently ignored option.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

__all__ = [
    "ERROR_RESPONSES",
    "DownloadBody",
    "ErrorResponse",
    "EffectsBody",
    "GenerateBody",
    "GenerationSettingsBody",
    "ProfileBody",
    "ProfileUpdate",
    "SampleUpdate",
    "SpeechBody",
]


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


#: Integers that are not booleans (JSON's ``135.0`` is one; ``false`` is not), in a range.
#: The bounds come before the validator so that the schema states them as JSON Schema's
#: ``minimum``/``maximum``: ``Field(ge=...)`` on an optional validated type makes pydantic
#: write its own ``ge``/``le`` into the schema, which no client reads.
Seed = Annotated[int, Field(ge=0, le=2**32 - 1), BeforeValidator(_no_bool)]
ChunkChars = Annotated[int, Field(ge=100, le=5000), BeforeValidator(_no_bool)]
CrossfadeMs = Annotated[int, Field(ge=0, le=500), BeforeValidator(_no_bool)]


class _Body(BaseModel):
    """Unknown fields are refused; booleans are not numbers and numbers not booleans."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: int


class ErrorResponse(BaseModel):
    """Every error: ``detail`` (what Voicebox's client shows) and ``error`` (OpenAI's shape)."""

    detail: str
    error: ErrorDetail


#: The error answers every route may give, documented once for all of them.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text} for status, text in (
        (400, "Bad request"), (401, "Missing or wrong bearer token (VOICEBOX_API_TOKEN)"),
        (403, "Cross-site request from an origin that is not allowed"),
        (404, "Unknown engine, model, voice, profile, sample or generation"),
        (405, "Method not allowed"),
        (409, "Conflicts with what exists (a taken name, a model not downloaded while offline...)"),
        (413, "Body or upload over its limit"),
        (422, "Invalid request: the message names the field and what to fix"),
        (503, "The engine's queue is full; retry after Retry-After seconds"),
        (507, "The data directory cannot be written (full, read-only)"),
    )
}

#: ISO 639 codes (or "auto"), as the engines declare them.
LANGUAGE = {"pattern": r"^(auto|[a-z]{2,3}(-[A-Za-z0-9]{2,8})?)$"}

#: What "speakable" means, for the schema (the server's own check says why in words).
SPEAKABLE = {"pattern": r"[^\W_]"}
#: Profile names: no path characters, no leading dot or surrounding space.
PROFILE_NAME = {"pattern": r"^(?!\.)(?!.*\.\.)[^\s/\\\x00-\x1f\x7f](?:[^/\\\x00-\x1f\x7f]*[^\s/\\\x00-\x1f\x7f])?$"}


class DownloadBody(_Body):
    model_name: str = Field(min_length=1, max_length=200)


_EMPTY = {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 0}]}
_GIVEN = {"type": "string", "minLength": 1}
#: What each voice type needs and refuses (the server's checks, stated in the schema).
_VOICE_RULES = {"allOf": [
    {"if": {"properties": {"voice_type": {"const": "preset"}}, "required": ["voice_type"]},
     "then": {"required": ["preset_engine", "preset_voice_id"],
              "properties": {"preset_engine": _GIVEN, "preset_voice_id": _GIVEN}},
     "else": {"properties": {"preset_engine": _EMPTY, "preset_voice_id": _EMPTY}}},
    {"if": {"properties": {"voice_type": {"const": "designed"}}, "required": ["voice_type"]},
     "then": {"required": ["design_prompt"],
              "properties": {"design_prompt": {"type": "string", "pattern": r"\S"}}}},
    {"if": {"properties": {"voice_type": {"enum": ["cloned", None]}}},
     "then": {"properties": {"design_prompt": _EMPTY}}},
]}


class ProfileBody(_Body):
    """Voicebox's ``VoiceProfileCreate`` (and ``default_model``, ours)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_VOICE_RULES)

    name: str = Field(min_length=1, max_length=100, json_schema_extra=PROFILE_NAME)
    description: str | None = Field(default=None, max_length=2000)
    language: str | None = Field(default=None, max_length=16, json_schema_extra=LANGUAGE)
    voice_type: Literal["cloned", "preset", "designed"] = "cloned"
    preset_engine: str | None = Field(default=None, max_length=40)
    preset_voice_id: str | None = Field(default=None, max_length=100)
    design_prompt: str | None = Field(default=None, max_length=2000)
    default_engine: str | None = Field(default=None, max_length=40)
    personality: str | None = Field(default=None, max_length=2000)
    default_model: str | None = Field(default=None, max_length=64)


class ProfileUpdate(_Body):
    """``PUT /profiles/{id}``: Voicebox sends the whole create body; any subset is fine.

    ``voice_type``, ``preset_engine`` and ``preset_voice_id`` may be repeated as they are
    but not changed (a voice of another kind is another profile).
    """

    name: str | None = Field(default=None, min_length=1, max_length=100, json_schema_extra=PROFILE_NAME)
    description: str | None = Field(default=None, max_length=2000)
    language: str | None = Field(default=None, max_length=16, json_schema_extra=LANGUAGE)
    voice_type: Literal["cloned", "preset", "designed"] | None = None
    preset_engine: str | None = Field(default=None, max_length=40)
    preset_voice_id: str | None = Field(default=None, max_length=100)
    design_prompt: str | None = Field(default=None, max_length=2000)
    default_engine: str | None = Field(default=None, max_length=40)
    personality: str | None = Field(default=None, max_length=2000)
    default_model: str | None = Field(default=None, max_length=64)


class SampleUpdate(_Body):
    reference_text: str = Field(max_length=5000)


class EffectsBody(_Body):
    effects_chain: list[dict[str, Any]] | None = Field(default=None, json_schema_extra={"maxItems": 0})


class GenerateBody(_Body):
    """Voicebox's ``GenerationRequest``; ``engine`` is any installed engine, and ``model``
    (a model name) and ``voice`` (a preset voice id, instead of a profile) are ours."""

    #: Which voice: a profile, or an engine or model (its default or ``voice``); given, not null.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": [name], "properties": {name: {"type": "string"}}}
        for name in ("profile_id", "engine", "model")]})

    text: str = Field(min_length=1, max_length=1_000_000, json_schema_extra=SPEAKABLE)
    profile_id: str | None = Field(default=None, min_length=1, max_length=100)
    language: str | None = Field(default=None, max_length=16, json_schema_extra=LANGUAGE)
    seed: Seed | None = None
    model_size: str | None = Field(default=None, min_length=1, max_length=64)
    engine: str | None = Field(default=None, min_length=1, max_length=40)
    model: str | None = Field(default=None, min_length=1, max_length=64)
    voice: str | None = Field(default=None, min_length=1, max_length=100, description="preset voice id")
    instruct: str | None = Field(default=None, max_length=2000)
    #: Rewriting in character needs Voicebox's LLM: only ``false`` is accepted here.
    personality: StrictBool = Field(default=False, json_schema_extra={"const": False})
    max_chunk_chars: ChunkChars | None = None
    crossfade_ms: CrossfadeMs | None = None
    normalize: StrictBool | None = None
    #: Effects need Voicebox's effects machinery: only an empty chain (or none) is accepted.
    effects_chain: list[dict[str, Any]] | None = Field(default=None, max_length=50,
                                                       json_schema_extra={"maxItems": 0})


class GenerationSettingsBody(_Body):
    """Voicebox's ``GenerationSettingsUpdate``: every field optional."""

    max_chunk_chars: ChunkChars | None = None
    crossfade_ms: CrossfadeMs | None = None
    normalize_audio: StrictBool | None = None
    autoplay_on_generate: StrictBool | None = None


class SpeechBody(BaseModel):
    """OpenAI's ``POST /v1/audio/speech``; unknown fields are ignored as OpenAI adds them."""

    model: str = Field(min_length=1, max_length=200)
    input: str = Field(min_length=1, max_length=1_000_000, json_schema_extra=SPEAKABLE)
    voice: str | None = Field(default=None, max_length=200)
    #: OpenAI's six formats (``aac`` by FFmpeg's encoder through PyAV).
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(default=1.0, json_schema_extra={"minimum": 0.25, "maximum": 4.0})
    instructions: str | None = Field(default=None, max_length=2000)
    stream_format: Literal["audio", "sse"] = "audio"
    #: Rate of ``pcm`` and of SSE audio (ours: OpenAI's is always 24 kHz, the default); the
    #: engine's own rate is in ``X-Sample-Rate`` of any response and in /v1/models.
    sample_rate: int | None = Field(default=None, json_schema_extra={"minimum": 8000, "maximum": 48000})
    language: str | None = Field(default=None, max_length=16, json_schema_extra=LANGUAGE)
    seed: Seed | None = None
