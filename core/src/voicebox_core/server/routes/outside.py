"""What the Voicebox app polls of its own machinery (dictation, audio effects, output
channels), none of which is part of the engine server: each answers in the app's shape with
what is true here, nothing, so its screens show an empty list or a model that is missing
instead of failing on a 404 every few seconds. Only ``GET`` is here: a write to one of these
paths is a 405 (``Allow: GET``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from voicebox_core.server.routes._deps import get_state
from voicebox_core.server.services import profiles
from voicebox_core.server.state import ServerState

router = APIRouter(tags=["voicebox app"])

#: Dictation off: the app arms its global shortcut only with ``hotkey_enabled``.
CAPTURE_SETTINGS: dict[str, Any] = {
    "stt_model": "turbo", "language": "auto", "auto_refine": False, "llm_model": "0.6B",
    "smart_cleanup": False, "self_correction": False, "preserve_technical": False,
    "allow_auto_paste": False, "default_playback_voice_id": None, "hotkey_enabled": False,
    "chord_push_to_talk_keys": [], "chord_toggle_to_talk_keys": [],
}


def _missing(model_name: str) -> dict[str, Any]:
    """A readiness row the app's checklist shows as "Not on this engine server (...)"."""
    return {"ready": False, "model_name": model_name, "display_name": "Not on this engine server",
            "size": "", "size_mb": None}


@router.get("/settings/captures")
def capture_settings() -> dict[str, Any]:
    """Voicebox's ``CaptureSettings``, dictation off (dictation is not part of the engine server)."""
    return CAPTURE_SETTINGS



@router.get("/capture/readiness")
def capture_readiness() -> dict[str, Any]:
    """Voicebox's ``CaptureReadinessResponse``: neither dictation model is here."""
    return {"stt": _missing("speech-to-text"), "llm": _missing("refinement")}


@router.get("/effects/available")
def available_effects() -> dict[str, list[Any]]:
    """Voicebox's ``AvailableEffectsResponse``: no effects here."""
    return {"effects": []}


@router.get("/effects/presets")
def effect_presets() -> list[Any]:
    """Voicebox's ``EffectPresetResponse[]``: no presets here."""
    return []



@router.get("/channels")
def channels() -> list[Any]:
    """Voicebox's audio output channels: none here (the app plays through its default output)."""
    return []



@router.get("/profiles/{profile_id}/channels")
def profile_channels(profile_id: str, state: ServerState = Depends(get_state)) -> dict[str, list[str]]:
    """``{channel_ids}`` of a profile: none (404 for a profile that does not exist)."""
    profiles.get(state, profile_id)
    return {"channel_ids": []}
