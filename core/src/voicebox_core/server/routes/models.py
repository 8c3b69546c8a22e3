"""Model files and memory."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from voicebox_core.server.routes._deps import get_state
from voicebox_core.server.schemas import DownloadBody
from voicebox_core.server.services import models
from voicebox_core.server.state import ServerState

router = APIRouter(prefix="/models", tags=["models"])
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get("/status")
def status(state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return models.status(state)


@router.get("/cache-dir")
def cache_dir() -> dict[str, Any]:
    return models.cache_dir()


@router.post("/download", status_code=202)
async def download(body: DownloadBody, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return await models.download(state, body.model_name)


@router.post("/download/cancel")
def cancel_download(body: DownloadBody, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return models.cancel(state, body.model_name)


@router.get("/progress/{model_name}", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
def progress(model_name: str, state: ServerState = Depends(get_state)) -> StreamingResponse:
    model = state.registry.model(model_name)
    events = state.progress.events(model.model_name, lambda: models.idle_event(state, model))
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


@router.post("/{model_name}/load")
async def load(model_name: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return await models.load(state, model_name)


@router.post("/{model_name}/unload")
def unload(model_name: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return models.unload(state, model_name)


@router.delete("/{model_name}")
def delete(model_name: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return models.delete(state, model_name)
