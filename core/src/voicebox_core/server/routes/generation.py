"""Generation, history and audio."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import FileResponse, StreamingResponse

from voicebox_core.server.routes._deps import get_state
from voicebox_core.server.schemas import GenerateBody
from voicebox_core.server.services import generation
from voicebox_core.server.state import ServerState

router = APIRouter(tags=["generation"])


@router.post("/generate")
async def generate(body: GenerateBody, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return await generation.generate(state, body)


@router.post("/generate/stream", response_class=StreamingResponse,
             responses={200: {"content": {"audio/wav": {}}}})
async def generate_stream(body: GenerateBody, state: ServerState = Depends(get_state)) -> StreamingResponse:
    request, _profile = generation.request_of(state, body)
    stream, _rate = await generation.stream_wav(state, request)
    return StreamingResponse(stream, media_type="audio/wav")


@router.get("/history")
def history(limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=2**31),
            profile_id: str | None = Query(None, max_length=100),
            state: ServerState = Depends(get_state)) -> list[dict[str, Any]]:
    return generation.history(state, limit, offset, profile_id)


@router.delete("/history/{generation_id}", status_code=204)
def delete(generation_id: str, state: ServerState = Depends(get_state)) -> Response:
    generation.delete(state, generation_id)
    return Response(status_code=204)


@router.get("/audio/{generation_id}", response_class=FileResponse,
            responses={200: {"content": {"audio/wav": {}}}})
def audio(generation_id: str, state: ServerState = Depends(get_state)) -> FileResponse:
    return FileResponse(generation.audio_path(state, generation_id), media_type="audio/wav")
