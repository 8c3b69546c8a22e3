"""ElevenLabs-compatible text-to-speech under ``/elevenlabs``: point a client's base URL at
``http://host:port/elevenlabs``. REST speech (whole, streamed, with timestamps), voices,
models, and the WebSocket ``stream-input``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response, WebSocket
from pydantic import BaseModel, ConfigDict, Field

from voicebox_core.server.routes._deps import get_state
from voicebox_core.server.schemas import SPEAKABLE, Seed
from voicebox_core.server.services import elevenlabs, speech, stream_input
from voicebox_core.server.state import ServerState

router = APIRouter(prefix="/elevenlabs", tags=["elevenlabs"])

#: ``output_format``: ElevenLabs' names of the formats served (the schema lists them).
OUTPUT_FORMAT = Query("mp3_44100_128", max_length=40, json_schema_extra={"enum": list(elevenlabs.OUTPUT_FORMATS)})


class TextToSpeechBody(BaseModel):
    """ElevenLabs' speech body; its fields without a meaning here (voice_settings,
    previous_text, pronunciation dictionaries...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    text: str = Field(min_length=1, max_length=1_000_000, json_schema_extra=SPEAKABLE)
    model_id: str | None = Field(default=None, max_length=200)
    language_code: str | None = Field(default=None, max_length=16)
    seed: Seed | None = None


def _request(state: ServerState, voice_id: str, body: TextToSpeechBody) -> Any:
    return elevenlabs.request(state, voice_id, body.model_id, body.text, body.language_code, body.seed)


_AUDIO: dict[int | str, dict[str, Any]] = {200: {"content": {media: {} for media in ("audio/mpeg", "audio/pcm", "audio/basic", "audio/ogg")}}}


@router.post("/v1/text-to-speech/{voice_id}", response_class=Response, responses=_AUDIO)
@router.post("/v1/text-to-speech/{voice_id}/stream", response_class=Response, responses=_AUDIO)
async def text_to_speech(voice_id: str, body: TextToSpeechBody, http: Request, output_format: str = OUTPUT_FORMAT,
                         state: ServerState = Depends(get_state)) -> Response:
    """Speech in ``output_format``, sent as it is made."""
    fmt = elevenlabs.output_format(output_format)
    stream, close = await elevenlabs.audio_stream(state, _request(state, voice_id, body), fmt, http)
    return speech.ClosingStream(stream, close, media_type=fmt.media_type)


@router.post("/v1/text-to-speech/{voice_id}/with-timestamps")
async def with_timestamps(voice_id: str, body: TextToSpeechBody, http: Request, output_format: str = OUTPUT_FORMAT,
                          state: ServerState = Depends(get_state)) -> dict[str, Any]:
    """The audio (base64) and when each character is spoken; ``alignment`` is null from an
    engine without word timestamps."""
    fmt = elevenlabs.output_format(output_format)
    return await elevenlabs.with_timestamps(state, _request(state, voice_id, body), fmt, http)


@router.post("/v1/text-to-speech/{voice_id}/stream/with-timestamps", response_class=Response,
             responses={200: {"content": {"application/x-ndjson": {}}}})
async def stream_with_timestamps(voice_id: str, body: TextToSpeechBody, http: Request,
                                 output_format: str = OUTPUT_FORMAT,
                                 state: ServerState = Depends(get_state)) -> Response:
    """A JSON object a line per chunk: its audio and its characters' times."""
    fmt = elevenlabs.output_format(output_format)
    lines, close = await elevenlabs.timestamp_stream(state, _request(state, voice_id, body), fmt, http)
    return speech.ClosingStream(lines, close, media_type="application/x-ndjson")


@router.websocket("/v1/text-to-speech/{voice_id}/stream-input")
async def stream_input_socket(socket: WebSocket, voice_id: str) -> None:
    await stream_input.serve(socket.app.state.voicebox, socket, voice_id)


@router.get("/v1/voices")
def list_voices(state: ServerState = Depends(get_state)) -> dict[str, Any]:
    """Preset voices of downloaded models and saved profiles."""
    return {"voices": elevenlabs.voices(state)}


@router.get("/v2/voices")
def search_voices(search: str | None = Query(None, max_length=200), page_size: int = Query(10, ge=1, le=100),
                  next_page_token: str | None = Query(None, max_length=20),
                  state: ServerState = Depends(get_state)) -> dict[str, Any]:
    """ElevenLabs' voice search: by name or id, a page at a time."""
    found = elevenlabs.voices(state, search=search)
    start = int(next_page_token) if next_page_token and next_page_token.isdigit() else 0
    page = found[start:start + page_size]
    more = start + page_size < len(found)
    return {"voices": page, "has_more": more, "total_count": len(found),
            "next_page_token": str(start + page_size) if more else None}


@router.get("/v1/voices/{voice_id}")
def get_voice(voice_id: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return elevenlabs.voice(state, voice_id)


@router.get("/v1/models")
def list_models(state: ServerState = Depends(get_state)) -> list[dict[str, Any]]:
    """Every downloaded model, as ElevenLabs lists its own (``word_timestamps``: whether
    its engine gives alignments)."""
    return elevenlabs.models(state)
