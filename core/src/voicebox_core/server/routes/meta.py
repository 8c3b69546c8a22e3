"""Health and the engine listing: everything a front end needs, from metadata alone."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends

from voicebox_core import __version__
from voicebox_core.config import EngineInfo
from voicebox_core.runtime.download import is_downloaded
from voicebox_core.server.routes._deps import get_state
from voicebox_core.server.state import ServerState

router = APIRouter(tags=["meta"])


def engine_json(state: ServerState, info: EngineInfo) -> dict[str, Any]:
    plugin = state.registry.plugin_of(info.name)
    return {
        "name": info.name, "display_name": info.display_name, "description": info.description,
        "distribution": plugin.distribution, "version": plugin.version,
        "load_ms": round(plugin.load_seconds * 1000, 2),
        "voice_kinds": list(info.voice_kinds), "languages": list(info.languages),
        "default_voice": info.default_voice, "default_model": info.default_model.model_name,
        "capabilities": dataclasses.asdict(info.capabilities),
        "reference_seconds": list(info.reference_seconds), "homepage": info.homepage,
        "preset_voices": [dataclasses.asdict(v) for v in info.preset_voices],
        "models": [
            {**{k: v for k, v in dataclasses.asdict(m).items() if k != "requires"},
             "requires": [r.hf_repo_id for r in m.requires], "downloaded": is_downloaded(m)}
            for m in info.models
        ],
    }


@router.get("/health")
def health(state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return {"status": "ok", "version": __version__, "engines": len(state.registry.engines),
            "failed_plugins": len(state.registry.failures),
            "loaded_models": state.synthesizer.loaded_models()}


@router.get("/engines")
def engines(state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return {
        "engines": [engine_json(state, e) for e in state.registry.engines],
        "failed": [{"plugin": f.name, "distribution": f.distribution, "version": f.version,
                    "stage": f.stage, "error": f.error, "hint": f.hint}
                   for f in state.registry.failures],
    }
