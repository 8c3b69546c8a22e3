from __future__ import annotations

from urllib.parse import quote

from fastapi import Request, UploadFile
from starlette.requests import HTTPConnection

from voicebox_core.errors import InvalidRequestError, PayloadTooLargeError
from voicebox_core.server.state import ServerState

CHUNK = 2**20


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.voicebox
    return state


def single_query_values(request: HTTPConnection) -> None:
    """Every query parameter here takes one value: a repeated one (``offset=1&offset=2``) is
    refused rather than silently reduced to its last value."""
    keys = [key for key, _ in request.query_params.multi_items()]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise InvalidRequestError(f"query parameter {', '.join(map(repr, repeated))} is given more "
                                  "than once; give each once")


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


def attachment(filename: str) -> dict[str, str]:
    """``Content-Disposition`` for a download named ``filename`` (RFC 6266): an ASCII
    ``filename`` for old clients and the exact name, UTF-8 encoded, in ``filename*``.
    Headers are Latin-1, so any other character would end the response in a 500."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    return {"Content-Disposition": f"attachment; filename=\"{fallback}\"; "
                                   f"filename*=UTF-8''{quote(filename, safe='')}"}
