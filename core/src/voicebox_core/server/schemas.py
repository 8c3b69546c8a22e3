"""Request bodies: Voicebox's own (``backend/models.py`` of the app) plus our additions.

Responses are plain dicts built by the services. Every body refuses unknown fields, so a
typo is a 422 that names it rather than a silently ignored option.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DownloadBody",
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


class DownloadBody(_Body):
    model_name: str = Field(min_length=1, max_length=200)


class ProfileBody(_Body):
    """Voicebox's ``VoiceProfileCreate`` (and ``default_model``, ours)."""

    name: str = Field(min_length=1, max_length=100)
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

    name: str | None = Field(default=None, min_length=1, max_length=100)
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

    text: str = Field(min_length=1, max_length=1_000_000)
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
    input: str = Field(max_length=1_000_000)
    voice: str | None = Field(default=None, max_length=200)
    response_format: Literal["mp3", "wav", "flac", "pcm", "opus", "aac"] = "mp3"
    speed: float = 1.0
    instructions: str | None = Field(default=None, max_length=2000)
    stream_format: Literal["audio", "sse"] = "audio"
    language: str | None = Field(default=None, max_length=16)
    seed: int | None = None
