"""OpenAI-compatible speech: ``/v1/audio/speech``, ``/v1/models``, ``/v1/audio/voices``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from voicebox_core.runtime.download import is_downloaded
from voicebox_core.server.routes._deps import get_state
from voicebox_core.server.schemas import SpeechBody
from voicebox_core.server.services import aliases, profiles, speech
from voicebox_core.server.state import ServerState

router = APIRouter(prefix="/v1", tags=["openai"])


@router.post("/audio/speech", response_model=None, response_class=Response,
             responses={200: {"content": {**{media: {} for media in speech.SPEECH_FORMATS.values()},
                                          "text/event-stream": {}}}})
async def create_speech(body: SpeechBody, http: Request, state: ServerState = Depends(get_state)) -> Response:
    if body.stream_format == "sse":
        events, close = await speech.speech_sse(state, body, http)
        return speech.ClosingStream(events, close, media_type="text/event-stream",
                                    headers={"X-Sample-Rate": str(body.sample_rate or speech.OPENAI_PCM_RATE)})
    if body.response_format in ("wav", "pcm"):
        request = speech.speech_request(state, body)
        wav = body.response_format == "wav"  # a header says its rate: the engine's own
        rate = state.registry.model(request.model).sample_rate if wav else body.sample_rate or speech.OPENAI_PCM_RATE
        stream, close = await speech.open_stream(state, request, body.response_format, body.speed, http,
                                                 None if wav else rate)
        return speech.ClosingStream(stream, close, media_type=speech.SPEECH_FORMATS[body.response_format],
                                    headers={"X-Sample-Rate": str(rate)})
    data, media_type = await speech.speech(state, body, http)
    return Response(data, media_type=media_type)


@router.get("/models")
def list_models(all: bool = Query(False, description="also models not downloaded"),  # noqa: A002
                state: ServerState = Depends(get_state)) -> dict[str, Any]:
    data = [{"id": m.model_name, "object": "model", "created": 0,
             "owned_by": state.registry.plugin_of(m.engine).distribution, "engine": m.engine,
             "ready": is_downloaded(m)}
            for m in state.registry.models if all or is_downloaded(m)]
    for alias, target in aliases.aliases(state.registry).models.items():  # OpenAI's names
        model = state.registry.model(target)
        if all or is_downloaded(model):
            data.append({"id": alias, "object": "model", "created": 0, "owned_by": "voicebox", "engine": model.engine,
                         "alias_of": model.model_name, "ready": is_downloaded(model)})
    return {"object": "list", "data": data}


@router.get("/models/{model_id}")
def retrieve_model(model_id: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    """OpenAI's ``models.retrieve``: a model by model or engine name."""
    model = state.registry.model(aliases.model_of(state.registry, model_id))
    return {"id": model_id, "object": "model", "created": 0,
            "owned_by": state.registry.plugin_of(model.engine).distribution, "engine": model.engine,
            "model_name": model.model_name, "ready": is_downloaded(model)}


@router.get("/audio/voices")
def list_voices(all: bool = Query(False, description="also voices whose model is not downloaded"),  # noqa: A002
                state: ServerState = Depends(get_state)) -> dict[str, Any]:
    voices = []
    for engine in state.registry.engines:
        for voice in engine.preset_voices:
            models = [state.registry.model(n) for n in voice.models] or list(engine.models)
            ready = any(is_downloaded(m) for m in models)
            if all or ready:
                voices.append({"id": voice.voice_id, "name": voice.display_name, "kind": "preset",
                               "engine": engine.name, "language": voice.language,
                               "languages": [voice.language, *voice.languages],
                               "gender": voice.gender, "ready": ready})
    for profile in profiles.list_all(state):
        voices.append({"id": profile["id"], "name": profile["name"], "kind": "profile",
                       "engine": profile["preset_engine"] or profile["default_engine"],
                       "language": profile["language"], "voice_type": profile["voice_type"],
                       "ready": True})
    table = aliases.aliases(state.registry)
    model = next(iter(table.models.values()), None)
    engine = state.registry.model(model).engine if model else None
    for alias, target in table.voices.items():  # OpenAI's voice names, with what they mean here
        voices.append({"id": alias, "name": alias, "kind": "alias", "alias_of": target, "engine": engine,
                       "model": model, "ready": True})
    return {"voices": voices}
