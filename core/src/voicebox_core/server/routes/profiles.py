"""Voice profiles and their reference samples."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile

from voicebox_core.server.routes._deps import get_state
from voicebox_core.server.schemas import ProfileBody, ProfileUpdate
from voicebox_core.server.services import profiles
from voicebox_core.server.state import ServerState

router = APIRouter(prefix="/profiles", tags=["profiles"])


@router.post("", status_code=201)
def create(body: ProfileBody, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return profiles.create(state, body)


@router.get("")
def list_all(state: ServerState = Depends(get_state)) -> list[dict[str, Any]]:
    return profiles.list_all(state)


@router.get("/presets/{engine}")
def presets(engine: str, state: ServerState = Depends(get_state)) -> list[dict[str, Any]]:
    return [dataclasses.asdict(v) for v in state.registry.engine(engine).preset_voices]


@router.get("/{profile_id}")
def get(profile_id: str, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return profiles.get(state, profile_id)


@router.put("/{profile_id}")
def update(profile_id: str, body: ProfileUpdate, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return profiles.update(state, profile_id, body)


@router.delete("/{profile_id}", status_code=204)
def delete(profile_id: str, state: ServerState = Depends(get_state)) -> Response:
    profiles.delete(state, profile_id)
    return Response(status_code=204)


@router.post("/{profile_id}/samples", status_code=201)
async def add_sample(profile_id: str, file: UploadFile = File(...),
                     reference_text: str = Form("", max_length=5000),
                     state: ServerState = Depends(get_state)) -> dict[str, Any]:
    data = await file.read(state.settings.max_upload_bytes + 1)
    return profiles.add_sample(state, profile_id, data, reference_text)


@router.get("/{profile_id}/samples")
def samples(profile_id: str, state: ServerState = Depends(get_state)) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = profiles.get(state, profile_id)["samples"]
    return result


@router.delete("/{profile_id}/samples/{sample_id}", status_code=204)
def delete_sample(profile_id: str, sample_id: str, state: ServerState = Depends(get_state)) -> Response:
    profiles.delete_sample(state, profile_id, sample_id)
    return Response(status_code=204)
