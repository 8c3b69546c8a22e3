"""EngineInfo as JSON and back: how an isolated environment tells the host its engines."""

from __future__ import annotations

import dataclasses
from typing import Any

from voicebox_core.config import Capabilities, EngineInfo, ModelConfig, PresetVoice

__all__ = ["engine_from_dict", "engine_to_dict"]


def engine_to_dict(info: EngineInfo) -> dict[str, Any]:
    return dataclasses.asdict(info)


def _model(data: dict[str, Any]) -> ModelConfig:
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    values = {k: v for k, v in data.items() if k in fields}
    for name in ("languages", "files", "on_demand_files", "devices", "platforms"):
        if name in values:
            values[name] = tuple(values[name])
    values["requires"] = tuple(_model(r) for r in values.get("requires", ()))
    return ModelConfig(**values)


def engine_from_dict(data: dict[str, Any]) -> EngineInfo:
    """The EngineInfo ``engine_to_dict`` wrote (fields a newer core added are ignored)."""
    voice_fields = {f.name for f in dataclasses.fields(PresetVoice)}
    voices = []
    for voice in data.get("preset_voices", ()):
        values = {k: v for k, v in voice.items() if k in voice_fields}
        values["models"] = tuple(values.get("models", ()))
        values["languages"] = tuple(values.get("languages", ()))
        voices.append(PresetVoice(**values))
    cap_fields = {f.name for f in dataclasses.fields(Capabilities)}
    capabilities = Capabilities(**{k: v for k, v in (data.get("capabilities") or {}).items() if k in cap_fields})
    info_fields = {f.name for f in dataclasses.fields(EngineInfo)}
    values = {k: v for k, v in data.items() if k in info_fields}
    values.update(
        models=tuple(_model(m) for m in data["models"]),
        voice_kinds=tuple(data["voice_kinds"]),
        preset_voices=tuple(voices),
        capabilities=capabilities,
        reference_seconds=tuple(data.get("reference_seconds", (2.0, 30.0))),
    )
    return EngineInfo(**values)
