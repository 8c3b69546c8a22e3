"""Request-body limits enforced while the body arrives, before anything is spooled.

A body larger than its route's limit is answered 413 as soon as that is known: from
``Content-Length`` before a byte is read, or mid-stream for a chunked body. Uploads (a sample,
an avatar, a profile archive) have their own limits; every other body is JSON and gets
``VOICEBOX_MAX_BODY_MB``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "route_limits"]

#: Room for the multipart framing around an upload's file.
MULTIPART_SLACK = 2**20


def route_limits(json_bytes: int, upload: int, avatar: int, archive: int) -> Callable[[str, str], tuple[int, str]]:
    """(limit, what it is called) for a method and path."""
    uploads = [
        (re.compile(r"^/profiles/[^/]+/samples/?$"), upload + MULTIPART_SLACK,
         "a sample upload (VOICEBOX_MAX_UPLOAD_MB)"),
        (re.compile(r"^/profiles/[^/]+/avatar/?$"), avatar + MULTIPART_SLACK, "an avatar image"),
        (re.compile(r"^/profiles/import/?$"), archive + MULTIPART_SLACK,
         "a profile archive (VOICEBOX_MAX_IMPORT_MB)"),
    ]

    def limit_for(method: str, path: str) -> tuple[int, str]:
        if method == "POST":
            for pattern, limit, what in uploads:
                if pattern.match(path):
                    return limit, what
        return json_bytes, "a request body (VOICEBOX_MAX_BODY_MB)"

    return limit_for


def _too_large(limit: int, what: str) -> tuple[dict[str, object], bytes]:
    return _answer(413, f"{what} is over its limit of {limit / 2**20:.1f} MB; send less")


def _answer(status: int, message: str) -> tuple[dict[str, object], bytes]:
    body = json.dumps({"detail": message, "error": {"message": message, "type": "invalid_request_error",
                                                    "code": status}}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         (b"connection", b"close")]}
    return start, body


class BodyLimit:
    """Pure ASGI middleware: counts body bytes as they arrive and stops at the limit."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], tuple[int, str]],
                 precheck: Callable[[str, str], tuple[int, str] | None] | None = None) -> None:
        self.app = app
        self.limit_for = limit_for
        #: (status, message) that answers a request before its body is read (an upload to a
        #: profile that does not exist is a 404, whatever its size).
        self.precheck = precheck

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.precheck(scope["method"], scope["path"]) if self.precheck else None
        if refused is not None:
            start, body = _answer(*refused)
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        limit, what = self.limit_for(scope["method"], scope["path"])
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            start, body = _too_large(limit, what)
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0
        exceeded = False

        async def counted() -> Message:
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}  # the app stops reading; we answer
            return message

        async def guarded(message: Message) -> None:
            if not exceeded:
                await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded:
                raise
        if exceeded:
            start, body = _too_large(limit, what)
            await send(start)
            await send({"type": "http.response.body", "body": body})
