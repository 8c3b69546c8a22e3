"""Generation as Voicebox runs it, its status stream, streaming audio, and audio files."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, StreamingResponse

from voicebox_core.server.routes._deps import attachment, get_state
from voicebox_core.server.schemas import GenerateBody
from voicebox_core.server.services import generation, history, profiles, speech
from voicebox_core.server.state import ServerState

router = APIRouter(tags=["generation"])
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
WAV: dict[int | str, dict[str, Any]] = {200: {"content": {"audio/wav": {}}}}


@router.post("/generate")
async def generate(body: GenerateBody, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    """Answers at once with the generation (``loading_model`` or ``generating``); follow it on
    ``GET /generate/{id}/status``."""
    return generation.start(state, body)


@router.post("/generate/stream", response_class=StreamingResponse, responses=WAV)
async def generate_stream(body: GenerateBody, http: Request,
                          state: ServerState = Depends(get_state)) -> StreamingResponse:
    """WAV audio sent chunk by chunk as it is synthesised; nothing is stored."""
    resolved = generation.request_of(state, body)
    stream, close = await speech.open_stream(state, resolved.request, http=http)
    return speech.ClosingStream(stream, close, media_type="audio/wav")


@router.get("/generate/{generation_id}/status", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
def status(generation_id: str, state: ServerState = Depends(get_state)) -> StreamingResponse:
    return StreamingResponse(generation.status_events(state, generation_id),
                             media_type="text/event-stream", headers=SSE_HEADERS)


@router.post("/generate/{generation_id}/retry")
async def retry(generation_id: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return generation.retry(state, generation_id)


@router.post("/generate/{generation_id}/regenerate")
async def regenerate(generation_id: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return generation.regenerate(state, generation_id)


@router.post("/generate/{generation_id}/cancel")
async def cancel(generation_id: str, state: ServerState = Depends(get_state)) -> dict[str, str]:
    return generation.cancel(state, generation_id)


@router.get("/audio/{generation_id}", response_class=FileResponse, responses=WAV)
def audio(generation_id: str, state: ServerState = Depends(get_state)) -> FileResponse:
    return FileResponse(history.audio(state, generation_id), media_type="audio/wav")


@router.get("/samples/{sample_id}", response_class=FileResponse, responses=WAV)
def sample_audio(sample_id: str, state: ServerState = Depends(get_state)) -> FileResponse:
    return FileResponse(profiles.sample_path(state, sample_id), media_type="audio/wav",
                        headers=attachment(f"sample_{sample_id}.wav"))
