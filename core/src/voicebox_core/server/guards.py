"""Request guards as pure ASGI middleware (Starlette's BaseHTTPMiddleware would hide client
disconnects from the routes): the bearer token and the same-site rule."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["BearerToken", "SameSiteOnly"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


#: The web page's static files: the page asks for the token itself.
OPEN_PREFIXES = ("/web/",)


async def _refuse(send: Send, status: int, message: str) -> None:
    kind = "invalid_request_error"
    body = json.dumps({"detail": message, "error": {"message": message, "type": kind, "code": status}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope.get("headers", ()) if k == name), None)


class BearerToken:
    """Every route but the open ones needs ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str, open_paths: Iterable[str]) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] != "OPTIONS" and scope["path"] not in self.open_paths
                and not scope["path"].startswith(OPEN_PREFIXES)
                and not hmac.compare_digest(_header(scope, b"authorization") or b"", self.expected)):
            await _refuse(send, 401, "missing or wrong bearer token: send "
                          "'Authorization: Bearer <VOICEBOX_API_TOKEN>'")
            return
        await self.app(scope, receive, send)


class SameSiteOnly:
    """A web page of another origin must not drive the server: browsers send such pages'
    form posts without asking (no preflight), so a foreign ``Origin`` on a request that
    changes state is refused. Clients that are not browsers send no ``Origin``."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            origin = _header(scope, b"origin")
            host = (_header(scope, b"host") or b"").decode("latin-1")
            own = {f"http://{host}", f"https://{host}"}  # the server's own page (GET /)
            if origin is not None and origin.decode("latin-1") not in self.allowed | own:
                await _refuse(send, 403, f"cross-site request from origin {origin.decode('latin-1')!r} "
                              "refused; add it to VOICEBOX_CORS_ORIGINS to allow it")
                return
        await self.app(scope, receive, send)
