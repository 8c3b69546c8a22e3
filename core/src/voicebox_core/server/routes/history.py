"""History: listing with search, one generation, favorites, deletion, audio export, captions."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, Response

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


@router.get("/{generation_id}/captions", response_class=Response,
            responses={200: {"content": {media: {} for media, _ in history.CAPTION_FORMATS.values()}},
                       409: {"description": "not completed, or its engine gives no word timestamps"}})
def captions(generation_id: str, format: Literal["vtt", "srt", "json"] = Query(  # noqa: A002
                 "vtt", description="WebVTT, SubRip, or the words as JSON [{word, start, end}] in seconds"),
             state: ServerState = Depends(get_state)) -> Response:
    """Captions of a generation from its engine's word timestamps (engines with
    ``word_timestamps`` in ``GET /engines``); 409 for one made by an engine without them."""
    body, media, filename = history.captions(state, generation_id, format)
    return Response(body, media_type=media, headers=attachment(filename))
