"""Model files and memory: status, background downloads with progress, load, unload, delete.

Shapes are Voicebox's (``ModelStatus``, ``{message}`` answers) with our fields added.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from voicebox_core.config import ModelConfig
from voicebox_core.errors import ConflictError, VoiceboxError
from voicebox_core.runtime.download import (
    delete_model,
    download_progress,
    ensure_model,
    hf_cache_dir,
    is_downloaded,
    model_disk_bytes,
)
from voicebox_core.server.state import ServerState

__all__ = ["cache_dir", "cancel", "delete", "download", "ensure_loaded", "idle_event", "load",
           "status", "unload"]

log = logging.getLogger("voicebox.server")
_tasks: set[asyncio.Task[None]] = set()


def _status(state: ServerState, model: ModelConfig) -> dict[str, Any]:
    downloading = state.progress.downloading(model.model_name)
    downloaded = is_downloaded(model) and not downloading
    on_disk = round(model_disk_bytes(model) / 2**20, 2) if downloaded else 0.0
    return {
        "model_name": model.model_name, "display_name": model.display_name,
        "hf_repo_id": model.hf_repo_id, "downloaded": downloaded, "downloading": downloading,
        "size_mb": on_disk if downloaded else None,
        "loaded": model.model_name in state.synthesizer.loaded_models(),
        "engine": model.engine, "model_size": model.model_size, "bundled": model.bundled,
        "expected_size_mb": model.size_mb, "size_on_disk_mb": on_disk,
    }


def status(state: ServerState) -> dict[str, Any]:
    return {"models": [_status(state, m) for m in state.registry.models]}


def idle_event(state: ServerState, model: ModelConfig) -> dict[str, Any]:
    """What a progress stream says of a model that is not downloading."""
    downloaded = is_downloaded(model)
    return {"model_name": model.model_name, "current": 0, "total": 0,
            "progress": 100.0 if downloaded else 0.0, "filename": "", "status": "idle",
            "downloaded": downloaded, "timestamp": _now_iso()}


def _now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


def _error_text(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, VoiceboxError) else f"{type(exc).__name__}: {exc}"


async def download(state: ServerState, model_name: str) -> dict[str, Any]:
    """Start a background download; progress goes to GET /models/progress/{model_name}.
    A remote engine's model is fetched where it runs: loaded in a replica, whose download
    progress is relayed here."""
    model = state.registry.model(model_name)
    if state.remote(model.engine):
        if not state.progress.downloading(model.model_name):
            state.progress.publish(model.model_name, "downloading", filename="connecting")
            task = asyncio.create_task(_fetch_remote(state, model))
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)
        return {"message": f"model {model.model_name} is loading in its replicas", **_status(state, model),
                "status": "downloading"}
    if is_downloaded(model):
        state.progress.publish(model.model_name, "complete")
        return {"message": f"model {model.model_name} is already downloaded",
                **_status(state, model), "status": "complete"}
    if not state.progress.downloading(model.model_name):
        state.progress.publish(model.model_name, "downloading", filename="connecting")
        task = asyncio.create_task(_download(state, model))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
    return {"message": f"model {model.model_name} download started",
            **_status(state, model), "status": "downloading"}


async def _download(state: ServerState, model: ModelConfig) -> None:
    try:
        await asyncio.to_thread(ensure_model, model, state.progress.callback(model.model_name))
    except Exception as exc:  # noqa: BLE001 - reported to listeners, never lost
        state.progress.publish(model.model_name, "error", error=_error_text(exc))
        return
    last = state.progress.state(model.model_name) or {}
    state.progress.publish(model.model_name, "complete", last.get("total", 0), last.get("total", 0))


async def _fetch_remote(state: ServerState, model: ModelConfig) -> None:
    try:
        with download_progress(state.progress.callback(model.model_name)):
            await state.synthesizer.load(model.model_name)
    except Exception as exc:  # noqa: BLE001 - reported to listeners, never lost
        state.progress.publish(model.model_name, "error", error=_error_text(exc))
        return
    last = state.progress.state(model.model_name) or {}
    state.progress.publish(model.model_name, "complete", last.get("total", 0), last.get("total", 0))


async def ensure_loaded(state: ServerState, model: ModelConfig) -> None:
    """Load ``model``; a download it needs reports progress under the model's name."""
    if model.model_name in state.synthesizer.loaded_models():
        await state.synthesizer.load(model.model_name)  # refresh LRU order, reload if dropped
        return
    fetching = not is_downloaded(model)
    if fetching and not state.progress.downloading(model.model_name):
        state.progress.publish(model.model_name, "downloading", filename="connecting")
    try:
        with download_progress(state.progress.callback(model.model_name)):
            await state.synthesizer.load(model.model_name)
    except BaseException as exc:
        if fetching:
            state.progress.publish(model.model_name, "error", error=_error_text(exc))
        raise
    if fetching:
        last = state.progress.state(model.model_name) or {}
        state.progress.publish(model.model_name, "complete", last.get("total", 0), last.get("total", 0))


def cancel(state: ServerState, model_name: str) -> dict[str, Any]:
    model = state.registry.model(model_name)
    running = state.progress.downloading(model.model_name)
    if state.progress.cancel(model.model_name):
        what = "cancellation requested" if running else "dismissed"
        return {"message": f"download task for {model.model_name} {what}", "cancelled": True}
    return {"message": f"no download task found for {model.model_name}", "cancelled": False}


async def load(state: ServerState, model_name: str) -> dict[str, Any]:
    model = state.registry.model(model_name)
    await ensure_loaded(state, model)
    return {"message": f"model {model.model_name} loaded", **_status(state, model)}


def unload(state: ServerState, model_name: str) -> dict[str, Any]:
    model = state.registry.model(model_name)
    was_loaded = state.synthesizer.unload(model.model_name)
    message = f"model {model.model_name} {'unloaded' if was_loaded else 'is not loaded'}"
    return {"message": message, **_status(state, model)}


def delete(state: ServerState, model_name: str) -> dict[str, Any]:
    model = state.registry.model(model_name)
    if model.bundled:
        raise ConflictError(f"model {model.model_name!r} ships inside its engine's package; "
                            "uninstall the engine instead")
    if state.progress.downloading(model.model_name):
        raise ConflictError(f"model {model.model_name!r} is downloading; cancel it first with "
                            "POST /models/download/cancel")
    state.synthesizer.unload(model.model_name)
    removed = delete_model(model)
    message = f"model {model.model_name} {'deleted' if removed else 'was not downloaded'}"
    return {"message": message, **_status(state, model), "deleted": removed}


def cache_dir() -> dict[str, Any]:
    return {"path": str(hf_cache_dir())}
