"""Tasks in progress and the generation settings, as Voicebox's app reads them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from voicebox_core.server.routes._deps import get_state
from voicebox_core.server.schemas import GenerationSettingsBody
from voicebox_core.server.services import settings, tasks
from voicebox_core.server.state import ServerState

router = APIRouter(tags=["tasks"])


@router.get("/tasks/active")
def active(state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return tasks.active(state)


@router.post("/tasks/clear")
def clear(state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return tasks.clear(state)


@router.get("/settings/generation")
def generation_settings(state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return settings.generation(state)


@router.put("/settings/generation")
def update_generation_settings(body: GenerationSettingsBody,
                               state: ServerState = Depends(get_state)) -> dict[str, Any]:
    return settings.update_generation(state, body)
