from __future__ import annotations

from fastapi import Request

from voicebox_core.server.state import ServerState


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.voicebox
    return state
