"""Health, the engine listing (everything a front end needs, from metadata alone), and the
sidecar controls the Voicebox desktop app calls (``/shutdown``, ``/watchdog/disable``)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from typing import Any

from fastapi import APIRouter, Depends, Query

from voicebox_core import __version__
from voicebox_core.config import EngineInfo
from voicebox_core.runtime.device import accelerator
from voicebox_core.runtime.download import is_downloaded
from voicebox_core.runtime.languages import language_labels
from voicebox_core.server.routes._deps import get_state
from voicebox_core.server.services import aliases
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
        "language_labels": language_labels(info.languages),
        "lives": state.registry.lives(info.name),
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
    """Voicebox's ``HealthResponse`` (``status: healthy``), plus the engines and loaded models."""
    loaded = state.synthesizer.loaded_models()
    gpu, gpu_type = accelerator()
    first = state.registry.model(loaded[0]) if loaded else None
    variant = os.environ.get("VOICEBOX_BACKEND_VARIANT") or ("cuda" if gpu_type and "CUDA" in gpu_type else "cpu")
    return {
        "status": "healthy", "model_loaded": bool(loaded),
        "model_downloaded": any(is_downloaded(m) for m in state.registry.models),
        "model_size": first.model_size if first else None,
        "gpu_available": gpu, "gpu_type": gpu_type, "vram_used_mb": None,
        "backend_type": "voicebox-plugins", "backend_variant": variant, "supports_rocm": False,
        "version": __version__, "engines": len(state.registry.engines),
        "failed_plugins": len(state.registry.failures), "loaded_models": loaded,
    }


@router.get("/engines")
async def engines(deep: bool = Query(False, description="also import each engine's model library in a "
                                     "child process and report what is broken (slow the first time)"),
                  state: ServerState = Depends(get_state)) -> dict[str, Any]:
    health: dict[str, Any] = {}
    if deep:
        if state.deep_health is None:
            from voicebox_core.doctor import deep_check

            report = await asyncio.to_thread(deep_check, state.registry)
            state.deep_health = {h.engine: h.as_dict() for h in report}
        health = state.deep_health
    return {
        "engines": [{**engine_json(state, e), **({"health": health.get(e.name)} if deep else {})}
                    for e in state.registry.engines],
        "failed": [{"plugin": f.name, "distribution": f.distribution, "version": f.version,
                    "stage": f.stage, "error": f.error, "hint": f.hint}
                   for f in state.registry.failures],
        # What OpenAI's model and voice names mean here (VOICEBOX_OPENAI_MODEL, _VOICES).
        "openai_aliases": aliases.aliases(state.registry).as_dict(),
    }


@router.post("/shutdown")
def shutdown(state: ServerState = Depends(get_state)) -> dict[str, str]:
    """Stop the server gracefully (what the desktop app sends when it quits)."""
    if state.shutdown is not None:
        state.shutdown()
    return {"message": "Shutting down..."}


@router.post("/watchdog/disable")
def watchdog_disable(state: ServerState = Depends(get_state)) -> dict[str, str]:
    """Keep running after the parent process (``--parent-pid``) exits."""
    state.watchdog_disabled = True
    return {"message": "Watchdog disabled"}
