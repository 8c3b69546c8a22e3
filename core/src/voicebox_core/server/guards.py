"""Request guards as pure ASGI middleware (Starlette's BaseHTTPMiddleware would hide client
disconnects from the routes): the bearer token, the same-site rule, and the reverse proxies
the operator trusts."""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
from collections.abc import Iterable
from typing import cast

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["AUTHORIZED", "BearerToken", "SameSiteOnly", "TrustedProxies"]

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


async def _deny(send: Send, scope: Scope, status: int, message: str) -> None:
    """Refuse a WebSocket handshake: an HTTP answer where the server can send one (ASGI's
    denial-response extension), else a close before accepting (the server answers 403)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        body = json.dumps({"detail": message, "error": {"message": message, "type": "invalid_request_error",
                                                        "code": status}}).encode()
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})


#: Where a WebSocket's scope says whether its handshake carried the token (a route that
#: takes the token in its first message, as ElevenLabs' ``stream-input`` does, checks it then).
AUTHORIZED = "voicebox.authorized"


class BearerToken:
    """Every route but the open ones needs the token: ``Authorization: Bearer <token>``, or
    ``xi-api-key: <token>`` (what ElevenLabs' clients send). A WebSocket may also give it as
    the ``xi_api_key`` query parameter; one without any is let through only to the paths of
    ``first_message`` (it must send the token in its first message) and marked unauthorised."""

    def __init__(self, app: ASGIApp, token: str, open_paths: Iterable[str],
                 first_message: re.Pattern[str] | None = None) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.token = token.encode()
        self.open_paths = frozenset(open_paths)
        self.first_message = first_message

    def _given(self, scope: Scope) -> bytes | None:
        """The token the request carries (None: it carries none)."""
        bearer = _header(scope, b"authorization")
        if bearer is not None:
            return bearer[7:] if bearer.startswith(b"Bearer ") else b"\0" + bearer
        key = _header(scope, b"xi-api-key")
        if key is not None:
            return key
        if scope["type"] == "websocket":
            from urllib.parse import parse_qs

            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if "xi_api_key" in query:
                return str(query["xi_api_key"][-1]).encode("latin-1")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            given = self._given(scope)
            if given is None and self.first_message is not None and self.first_message.match(scope["path"]):
                scope[AUTHORIZED] = False
            elif given is None or not hmac.compare_digest(given, self.token):
                await _deny(send, scope, 401, "missing or wrong token: send 'xi-api-key: <VOICEBOX_API_TOKEN>' "
                            "or 'Authorization: Bearer <VOICEBOX_API_TOKEN>'")
                return
            else:
                scope[AUTHORIZED] = True
        elif (scope["type"] == "http" and scope["method"] != "OPTIONS" and scope["path"] not in self.open_paths
                and not scope["path"].startswith(OPEN_PREFIXES)
                and not hmac.compare_digest(_header(scope, b"authorization") or b"", self.expected)
                and not hmac.compare_digest(_header(scope, b"xi-api-key") or b"\0", self.token)):
            await _refuse(send, 401, "missing or wrong bearer token: send "
                          "'Authorization: Bearer <VOICEBOX_API_TOKEN>' (or 'xi-api-key: <VOICEBOX_API_TOKEN>')")
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
        if scope["type"] == "websocket":  # no CORS for WebSockets: any page could open one
            origin = _header(scope, b"origin")
            host = (_header(scope, b"host") or b"").decode("latin-1")
            own = {f"http://{host}", f"https://{host}"}
            if origin is not None and origin.decode("latin-1") not in self.allowed | own:
                await _deny(send, scope, 403, f"cross-site WebSocket from origin {origin.decode('latin-1')!r} "
                            "refused; add it to VOICEBOX_CORS_ORIGINS to allow it")
                return
        elif scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            origin = _header(scope, b"origin")
            host = (_header(scope, b"host") or b"").decode("latin-1")
            own = {f"http://{host}", f"https://{host}"}  # the server's own page (GET /)
            if origin is not None and origin.decode("latin-1") not in self.allowed | own:
                await _refuse(send, 403, f"cross-site request from origin {origin.decode('latin-1')!r} "
                              "refused; add it to VOICEBOX_CORS_ORIGINS to allow it")
                return
        await self.app(scope, receive, send)


#: What a forwarded host may look like: a name or address and an optional port.
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


class TrustedProxies:
    """Behind a reverse proxy at an address the operator names (``VOICEBOX_FORWARDED_ALLOW_IPS``:
    addresses or networks, or ``*``), a request is taken as that proxy forwards it:
    ``X-Forwarded-Host`` becomes its ``Host`` (so :class:`SameSiteOnly` sees the origin the
    browser is on), and ``X-Forwarded-Proto`` / ``X-Forwarded-For`` set its scheme and client
    (uvicorn's own middleware, given the same addresses). From any other address those
    headers are ignored: no client may claim to be a proxy."""

    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        entries = [t.strip() for t in trusted if t.strip()]
        self.any = "*" in entries
        self.networks = [ipaddress.ip_network(e, strict=False) for e in entries if e != "*"]
        self.app = app
        self.proxied = cast(ASGIApp, ProxyHeadersMiddleware(app, trusted_hosts=entries))  # type: ignore[arg-type]

    def trusts(self, peer: str | None) -> bool:
        if peer is None:
            return False
        if self.any:
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.trusts((scope.get("client") or (None,))[0]):
            await self.app(scope, receive, send)
            return
        forwarded = _header(scope, b"x-forwarded-host")
        host = forwarded.decode("latin-1").split(",")[-1].strip() if forwarded else ""
        if _HOST.match(host):  # the value the nearest proxy (the trusted one) set
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
            scope = {**scope, "headers": [*headers, (b"host", host.encode("latin-1"))]}
        await self.proxied(scope, receive, send)  # X-Forwarded-Proto and -For, by uvicorn
