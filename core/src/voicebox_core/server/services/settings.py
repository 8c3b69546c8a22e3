"""Server-side settings kept in the database: Voicebox's generation defaults."""

from __future__ import annotations

import json
from typing import Any

from voicebox_core.server.db import Setting
from voicebox_core.server.schemas import GenerationSettingsBody
from voicebox_core.server.state import ServerState

__all__ = ["GENERATION_DEFAULTS", "generation", "update_generation"]

GENERATION_DEFAULTS: dict[str, Any] = {
    "max_chunk_chars": 800, "crossfade_ms": 50, "normalize_audio": True, "autoplay_on_generate": True,
}


def generation(state: ServerState) -> dict[str, Any]:
    """Voicebox's ``GenerationSettings``; also the defaults of a /generate body."""
    with state.sessions() as session:
        stored = session.get(Setting, "generation")
        values = json.loads(stored.value) if stored is not None else {}
    return {**GENERATION_DEFAULTS, **{k: v for k, v in values.items() if k in GENERATION_DEFAULTS}}


def update_generation(state: ServerState, body: GenerationSettingsBody) -> dict[str, Any]:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    with state.sessions() as session:
        stored = session.get(Setting, "generation")
        values = {**(json.loads(stored.value) if stored is not None else {}), **changes}
        if stored is None:
            session.add(Setting(key="generation", value=json.dumps(values)))
        else:
            stored.value = json.dumps(values)
        session.commit()
    return generation(state)
