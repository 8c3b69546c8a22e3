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


@router.get("/status")
def status(state: ServerState = Depends(get_state)) -> list[dict[str, Any]]:
    return models.status(state)


@router.post("/download", status_code=202)
async def download(body: DownloadBody, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return await models.download(state, body.model_name)


@router.get("/progress/{model_name}")
def progress(model_name: str, state: ServerState = Depends(get_state)) -> StreamingResponse:
    state.registry.model(model_name)
    return StreamingResponse(state.progress.events(model_name), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


@router.post("/{model_name}/load")
async def load(model_name: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return await models.load(state, model_name)


@router.post("/{model_name}/unload")
def unload(model_name: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return models.unload(state, model_name)


@router.delete("/{model_name}")
def delete(model_name: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return models.delete(state, model_name)
