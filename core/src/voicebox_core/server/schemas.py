"""Request bodies. Responses are plain dicts built by the services."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DownloadBody", "GenerateBody", "ProfileBody", "ProfileUpdate", "SpeechBody"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DownloadBody(_Body):
    model_name: str = Field(min_length=1, max_length=200)


class ProfileBody(_Body):
    name: str = Field(min_length=1, max_length=100)
    voice_type: Literal["cloned", "preset", "designed"] = "cloned"
    language: str | None = Field(default=None, max_length=16)
    description: str = Field(default="", max_length=2000)
    preset_engine: str | None = Field(default=None, max_length=40)
    preset_voice_id: str | None = Field(default=None, max_length=100)
    design_prompt: str | None = Field(default=None, max_length=2000)
    default_model: str | None = Field(default=None, max_length=64)


class ProfileUpdate(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    language: str | None = Field(default=None, max_length=16)
    description: str | None = Field(default=None, max_length=2000)
    design_prompt: str | None = Field(default=None, max_length=2000)
    default_model: str | None = Field(default=None, max_length=64)


class GenerateBody(_Body):
    text: str = Field(max_length=1_000_000)
    profile_id: str | None = Field(default=None, max_length=100)
    engine: str | None = Field(default=None, max_length=40)
    model: str | None = Field(default=None, max_length=64)
    voice: str | None = Field(default=None, max_length=100, description="preset voice id")
    language: str | None = Field(default=None, max_length=16)
    seed: int | None = None
    instruct: str | None = Field(default=None, max_length=2000)


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
