"""Request bodies: Voicebox's own (``backend/models.py`` of the app) plus our additions.

Responses are plain dicts built by the services. Every body refuses unknown fields, so a
typo is a 422 that names it rather than a silently ignored option.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class _Body(BaseModel):
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

#: What "speakable" means, for the schema (the server's own check says why in words).
SPEAKABLE = {"pattern": r"[^\W_]"}
#: Profile names: no path characters, no leading dot or surrounding space.
PROFILE_NAME = {"pattern": r"^(?!\.)(?!.*\.\.)[^\s/\\\x00-\x1f\x7f](?:[^/\\\x00-\x1f\x7f]*[^\s/\\\x00-\x1f\x7f])?$"}


class DownloadBody(_Body):
    model_name: str = Field(min_length=1, max_length=200)


class ProfileBody(_Body):
    """Voicebox's ``VoiceProfileCreate`` (and ``default_model``, ours)."""

    name: str = Field(min_length=1, max_length=100, json_schema_extra=PROFILE_NAME)
    description: str | None = Field(default=None, max_length=2000)
    language: str | None = Field(default=None, max_length=16)
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
    language: str | None = Field(default=None, max_length=16)
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
    effects_chain: list[dict[str, Any]] | None = None


class GenerateBody(_Body):
    """Voicebox's ``GenerationRequest``; ``engine`` is any installed engine, and ``model``
    (a model name) and ``voice`` (a preset voice id, instead of a profile) are ours."""

    text: str = Field(min_length=1, max_length=1_000_000, json_schema_extra=SPEAKABLE)
    profile_id: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=16)
    seed: int | None = Field(default=None, ge=0, lt=2**32)
    model_size: str | None = Field(default=None, max_length=64)
    engine: str | None = Field(default=None, max_length=40)
    model: str | None = Field(default=None, max_length=64)
    voice: str | None = Field(default=None, max_length=100, description="preset voice id")
    instruct: str | None = Field(default=None, max_length=2000)
    personality: bool = False
    max_chunk_chars: int | None = Field(default=None, ge=100, le=5000)
    crossfade_ms: int | None = Field(default=None, ge=0, le=500)
    normalize: bool | None = None
    effects_chain: list[dict[str, Any]] | None = Field(default=None, max_length=50)


class GenerationSettingsBody(_Body):
    """Voicebox's ``GenerationSettingsUpdate``: every field optional."""

    max_chunk_chars: int | None = Field(default=None, ge=100, le=5000)
    crossfade_ms: int | None = Field(default=None, ge=0, le=500)
    normalize_audio: bool | None = None
    autoplay_on_generate: bool | None = None


class SpeechBody(BaseModel):
    """OpenAI's ``POST /v1/audio/speech``; unknown fields are ignored as OpenAI adds them."""

    model: str = Field(min_length=1, max_length=200)
    input: str = Field(min_length=1, max_length=1_000_000, json_schema_extra=SPEAKABLE)
    voice: str | None = Field(default=None, max_length=200)
    #: OpenAI's formats but ``aac``, which has no encoder here (libsndfile has none).
    response_format: Literal["mp3", "opus", "wav", "flac", "pcm"] = "mp3"
    speed: float = Field(default=1.0, json_schema_extra={"minimum": 0.25, "maximum": 4.0})
    instructions: str | None = Field(default=None, max_length=2000)
    stream_format: Literal["audio", "sse"] = "audio"
    language: str | None = Field(default=None, max_length=16)
    seed: int | None = Field(default=None, json_schema_extra={"minimum": 0, "maximum": 2**32 - 1})
