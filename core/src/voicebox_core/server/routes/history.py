"""History: listing with search, one generation, favorites, deletion, audio export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse

from voicebox_core.server.routes._deps import attachment, get_state
from voicebox_core.server.services import history
from voicebox_core.server.state import ServerState

router = APIRouter(prefix="/history", tags=["history"])


@router.get("")
def listing(limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=2**31),
            profile_id: str | None = Query(None, max_length=100),
            search: str | None = Query(None, max_length=500),
            state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return history.listing(state, limit, offset, profile_id, search)


@router.delete("/failed")
async def delete_failed(state: ServerState = Depends(get_state)) -> dict[str, int]:
    return {"deleted": history.delete_failed(state)}


@router.get("/{generation_id}")
def get(generation_id: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return history.get(state, generation_id)


@router.post("/{generation_id}/favorite")
def favorite(generation_id: str, state: ServerState = Depends(get_state)) -> dict[str, bool]:
    return history.favorite(state, generation_id)


@router.delete("/{generation_id}")
async def delete(generation_id: str, state: ServerState = Depends(get_state)) -> dict[str, str]:
    history.delete(state, generation_id)
    return {"message": "Generation deleted successfully"}


@router.get("/{generation_id}/export-audio", response_class=FileResponse,
            responses={200: {"content": {"audio/wav": {}}}})
def export_audio(generation_id: str, state: ServerState = Depends(get_state)) -> FileResponse:
    path, filename = history.export_audio(state, generation_id)
    return FileResponse(path, media_type="audio/wav", headers=attachment(filename))
