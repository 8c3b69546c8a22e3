"""Voice profiles, their samples and avatars, export and import (Voicebox's paths)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from fastapi.responses import FileResponse

from voicebox_core.errors import InvalidRequestError
from voicebox_core.server.routes._deps import attachment, get_state, read_upload
from voicebox_core.server.schemas import EffectsBody, ProfileBody, ProfileUpdate, SampleUpdate
from voicebox_core.server.services import archive, avatars, profiles
from voicebox_core.server.state import ServerState

router = APIRouter(prefix="/profiles", tags=["profiles"])


@router.post("", status_code=201)
def create(body: ProfileBody, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return profiles.create(state, body)


@router.get("")
def list_all(state: ServerState = Depends(get_state)) -> list[dict[str, Any]]:
    return profiles.list_all(state)


@router.post("/import", status_code=201)
async def import_profile(file: UploadFile = File(...),
                         state: ServerState = Depends(get_state)) -> dict[str, Any]:
    data = await read_upload(file, state.settings.max_import_bytes, "archive")
    return archive.import_profile(state, data)


@router.get("/presets/{engine}")
def presets(engine: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    info = state.registry.engine(engine)
    return {"engine": info.name, "voices": [
        {"voice_id": v.voice_id, "name": v.display_name, "gender": v.gender, "language": v.language,
         "languages": [v.language, *v.languages], "models": list(v.models)}
        for v in info.preset_voices]}


@router.put("/samples/{sample_id}")
def update_sample(sample_id: str, body: SampleUpdate,
                  state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return profiles.update_sample(state, sample_id, body.reference_text)


@router.delete("/samples/{sample_id}")
def delete_sample(sample_id: str, state: ServerState = Depends(get_state)) -> dict[str, str]:
    profiles.delete_sample(state, sample_id)
    return {"message": "Sample deleted successfully"}


@router.get("/{profile_id}")
def get(profile_id: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return profiles.get(state, profile_id)


@router.put("/{profile_id}")
def update(profile_id: str, body: ProfileUpdate, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return profiles.update(state, profile_id, body)


@router.delete("/{profile_id}")
def delete(profile_id: str, state: ServerState = Depends(get_state)) -> dict[str, str]:
    profiles.delete(state, profile_id)
    return {"message": "Profile deleted successfully"}


@router.post("/{profile_id}/samples", status_code=201)
async def add_sample(profile_id: str, file: UploadFile = File(...),
                     reference_text: str = Form("", max_length=5000),
                     state: ServerState = Depends(get_state)) -> dict[str, Any]:
    profiles.get(state, profile_id)  # 404 before reading the upload
    data = await read_upload(file, state.settings.max_upload_bytes, "upload (VOICEBOX_MAX_UPLOAD_MB)")
    return profiles.add_sample(state, profile_id, data, reference_text)


@router.get("/{profile_id}/samples")
def samples(profile_id: str, state: ServerState = Depends(get_state)) -> list[dict[str, Any]]:
    return profiles.samples(state, profile_id)


@router.delete("/{profile_id}/samples/{sample_id}")
def delete_own_sample(profile_id: str, sample_id: str,
                      state: ServerState = Depends(get_state)) -> dict[str, str]:
    profiles.delete_sample(state, sample_id, profile_id)
    return {"message": "Sample deleted successfully"}


@router.post("/{profile_id}/avatar")
async def upload_avatar(profile_id: str, file: UploadFile = File(...),
                        state: ServerState = Depends(get_state)) -> dict[str, Any]:
    profiles.get(state, profile_id)
    data = await read_upload(file, state.settings.max_avatar_bytes, "avatar image")
    return avatars.upload(state, profile_id, data)


@router.get("/{profile_id}/avatar", response_class=FileResponse,
            responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}})
def avatar(profile_id: str, state: ServerState = Depends(get_state)) -> FileResponse:
    return FileResponse(avatars.avatar_path(state, profile_id))


@router.delete("/{profile_id}/avatar")
def delete_avatar(profile_id: str, state: ServerState = Depends(get_state)) -> dict[str, str]:
    avatars.delete(state, profile_id)
    return {"message": "Avatar deleted successfully"}


@router.get("/{profile_id}/export", response_class=Response,
            responses={200: {"content": {"application/zip": {}}}})
def export(profile_id: str, state: ServerState = Depends(get_state)) -> Response:
    data, filename = archive.export_profile(state, profile_id)
    return Response(data, media_type="application/zip", headers=attachment(filename))


@router.put("/{profile_id}/effects")
def effects(profile_id: str, body: EffectsBody, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    """Only clearing is possible: effects need machinery outside the engine server."""
    if body.effects_chain:
        raise InvalidRequestError("effects chains need Voicebox's audio effects, which are not part "
                                  "of the engine server; send effects_chain: null to clear it")
    return profiles.get(state, profile_id)
