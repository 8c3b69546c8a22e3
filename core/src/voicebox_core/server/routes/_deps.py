from __future__ import annotations

from fastapi import Request, UploadFile

from voicebox_core.errors import PayloadTooLargeError
from voicebox_core.server.state import ServerState

CHUNK = 2**20


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.voicebox
    return state


async def read_upload(file: UploadFile, limit: int, what: str) -> bytes:
    """The uploaded file's bytes, read in chunks and refused once past ``limit``."""
    parts: list[bytes] = []
    size = 0
    while chunk := await file.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the {what} is over the limit of {limit / 2**20:.0f} MB")
        parts.append(chunk)
    return b"".join(parts)
