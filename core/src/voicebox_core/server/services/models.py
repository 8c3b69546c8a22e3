"""Model files and memory: status, background downloads with progress, load, unload, delete."""

from __future__ import annotations

import asyncio
from typing import Any

from voicebox_core.config import ModelConfig
from voicebox_core.errors import ConflictError, VoiceboxError
from voicebox_core.runtime.download import (
    delete_model,
    download_progress,
    ensure_model,
    is_downloaded,
    model_disk_bytes,
)
from voicebox_core.server.state import ServerState

__all__ = ["delete", "download", "load", "status", "unload"]

_tasks: set[asyncio.Task[None]] = set()


def _status(state: ServerState, model: ModelConfig) -> dict[str, Any]:
    return {
        "model_name": model.model_name, "display_name": model.display_name,
        "engine": model.engine, "model_size": model.model_size, "hf_repo_id": model.hf_repo_id,
        "bundled": model.bundled, "downloaded": is_downloaded(model),
        "downloading": state.progress.downloading(model.model_name),
        "loaded": model.model_name in state.synthesizer.loaded_models(),
        "size_mb": model.size_mb,
        "size_on_disk_mb": round(model_disk_bytes(model) / 2**20, 2),
    }


def status(state: ServerState) -> list[dict[str, Any]]:
    return [_status(state, m) for m in state.registry.models]


async def download(state: ServerState, model_name: str) -> dict[str, Any]:
    """Start a background download; progress goes to GET /models/progress/{model_name}."""
    model = state.registry.model(model_name)
    if is_downloaded(model):
        state.progress.publish(model.model_name, "complete")
        return {**_status(state, model), "status": "complete"}
    if not state.progress.downloading(model.model_name):
        state.progress.publish(model.model_name, "downloading")
        task = asyncio.create_task(_download(state, model))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
    return {**_status(state, model), "status": "downloading"}


async def _download(state: ServerState, model: ModelConfig) -> None:
    try:
        await asyncio.to_thread(ensure_model, model, state.progress.callback(model.model_name))
    except Exception as exc:  # noqa: BLE001 - reported to listeners, never lost
        message = str(exc) if isinstance(exc, VoiceboxError) else f"{type(exc).__name__}: {exc}"
        state.progress.publish(model.model_name, "error", error=message)
        return
    last = state.progress.state(model.model_name) or {}
    state.progress.publish(model.model_name, "complete", last.get("total", 0), last.get("total", 0))


async def load(state: ServerState, model_name: str) -> dict[str, Any]:
    model = state.registry.model(model_name)
    with download_progress(state.progress.callback(model.model_name)):
        await state.synthesizer.load(model.model_name)
    return _status(state, model)


def unload(state: ServerState, model_name: str) -> dict[str, Any]:
    model = state.registry.model(model_name)
    state.synthesizer.unload(model.model_name)
    return _status(state, model)


def delete(state: ServerState, model_name: str) -> dict[str, Any]:
    model = state.registry.model(model_name)
    if model.bundled:
        raise ConflictError(f"model {model.model_name!r} ships inside its engine's package; "
                      "uninstall the engine instead")
    state.synthesizer.unload(model.model_name)
    removed = delete_model(model)
    return {**_status(state, model), "deleted": removed}
