"""The FastAPI application: discovery at start, routes from the registry, errors as 4xx."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voicebox_core import __version__
from voicebox_core.errors import EngineBusyError, VoiceboxError
from voicebox_core.registry import Registry
from voicebox_core.runtime.paths import data_dir as default_data_dir
from voicebox_core.server.db import dispose
from voicebox_core.server.guards import BearerToken, SameSiteOnly, TrustedProxies
from voicebox_core.server.limits import BodyLimit, route_limits
from voicebox_core.server.routes import (
    elevenlabs,
    generation,
    history,
    meta,
    models,
    openai,
    outside,
    profiles,
    tasks,
)
from voicebox_core.server.routes._deps import single_query_values
from voicebox_core.server.schemas import ERROR_RESPONSES
from voicebox_core.server.services import profiles as profile_service
from voicebox_core.server.services.generation import recover
from voicebox_core.server.state import ServerState, Settings, storage_failure

__all__ = ["create_app"]

log = logging.getLogger("voicebox.server")
OPEN_PATHS = {"/", "/health", "/docs", "/openapi.json", "/docs/oauth2-redirect"}
WEB = Path(__file__).resolve().parent / "web"


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def _error(message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """``detail`` for Voicebox clients, ``error.message`` for OpenAI's client libraries."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"detail": message, "error": {"message": message, "type": kind, "code": status}},
                        status_code=status, headers=headers)


async def _stop_jobs(state: ServerState) -> None:
    tasks_left = [job.task for job in state.jobs.values() if job.task is not None]
    for job in list(state.jobs.values()):
        job.stop_requested = True
        if job.task is not None:
            job.task.cancel()
    if tasks_left:
        await asyncio.wait(tasks_left, timeout=10)


class ErrorsAnswered:
    """Pure ASGI middleware, innermost: an error no handler took is answered here, and not
    raised further. (Starlette's last-resort handler answers and then re-raises; uvicorn then
    logs "Exception in ASGI application" and closes the connection, so a keep-alive client's
    next request was reset.) Once a response has started nothing else can be sent: that
    error goes on up and the response ends short."""

    def __init__(self, app: ASGIApp, answer: Callable[[Scope, Exception], JSONResponse]) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started:
                raise
            await self.answer(scope, exc)(scope, receive, send)


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods ``path`` takes, as the schema says them: those of its most concrete path
    template (OpenAPI matches ``/profiles/import`` before ``/profiles/{profile_id}``). A path
    the schema does not list (the web page) is asked of the router itself."""
    given = path.rstrip("/").split("/")
    found: dict[int, set[str]] = {}
    for template, operations in app.openapi()["paths"].items():
        parts = template.split("/")
        if len(parts) == len(given) and all(p.startswith("{") or p == g for p, g in zip(parts, given, strict=True)):
            found.setdefault(template.count("{"), set()).update(m.upper() for m in operations)
    if found:
        return sorted(found[min(found)])

    def served(method: str) -> bool:
        scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
        return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)

    return [m for m in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT") if served(m)]


def create_app(data_dir: Path | None = None, registry: Registry | None = None) -> FastAPI:
    """Build the app. Discovery runs here (server start), once."""
    settings = Settings.from_env(Path(data_dir) if data_dir else default_data_dir())
    state = ServerState(registry or Registry.discover(environments=settings.data_dir / "engines"), settings)
    interrupted = recover(state)
    if interrupted:
        log.warning("%d generation(s) were running when the server last stopped; marked failed",
                    interrupted)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.progress.bind(asyncio.get_running_loop())
        services = [asyncio.create_task(start(state)) for start in state.services]
        yield
        for task in services:
            task.cancel()
        await _stop_jobs(state)
        for engine, backend in state.registry.loaded_backends().items():
            try:
                backend.unload_model()
            except Exception:  # noqa: BLE001 - shutting down: log, go on
                log.exception("unloading %s failed", engine)
        state.registry.close()  # every isolated engine's worker ends with the server
        dispose(state.sessions)

    app = FastAPI(title="Voicebox", version=__version__, lifespan=lifespan, responses=ERROR_RESPONSES,
                  description="Text-to-speech engines discovered from installed plugins.",
                  dependencies=[Depends(single_query_values)])
    app.state.voicebox = state

    @app.exception_handler(VoiceboxError)
    async def voicebox_error(request: Request, exc: VoiceboxError) -> JSONResponse:
        headers = {"Retry-After": "5"} if isinstance(exc, EngineBusyError) else None
        if exc.status_code >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc)
        return _error(str(exc), exc.status_code, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(_validation_message(exc), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # every method of every route on this path, not the first's
            methods = _allowed_methods(app, request.url.path)
            headers["Allow"] = ", ".join(methods)
            return _error(f"method {request.method} is not allowed here; use {', '.join(methods)}", 405,
                          headers)
        return _error(str(exc.detail), exc.status_code, headers or None)

    def unexpected_error(scope: Scope, exc: Exception) -> JSONResponse:
        """507 for storage (a full or read-only disk, in a file or the database), else 500."""
        failure = storage_failure(exc, settings.data_dir)
        if failure is not None:
            where, reason = failure
            log.error("%s %s: storage: %s", scope["method"], scope["path"], exc)
            return _error(f"the server cannot write to {where!r} ({reason}); "
                          "nothing was saved: free space or fix the data directory, then retry", 507)
        log.error("unexpected error on %s %s", scope["method"], scope["path"], exc_info=exc)
        return _error(f"internal error ({type(exc).__name__}); see the server log", 500)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:  # from a middleware
        return unexpected_error(request.scope, exc)

    app.add_middleware(ErrorsAnswered, answer=unexpected_error)

    upload_path = re.compile(r"^/profiles/([^/]+)/(?:samples|avatar)/?$")

    def precheck(method: str, path: str) -> tuple[int, str] | None:
        match = upload_path.match(path) if method == "POST" else None
        if match and match.group(1) != "import" and profile_service.find_by_id(state, match.group(1)) is None:
            return 404, f"no profile with id {match.group(1)!r}; list them with GET /profiles"
        return None

    app.add_middleware(BodyLimit, precheck=precheck, limit_for=route_limits(
        settings.max_body_bytes, settings.max_upload_bytes, settings.max_avatar_bytes,
        settings.max_import_bytes))
    # Added last, run first: a stranger without the token is refused before any lookup or
    # limit could tell them what exists (CORS stays outside, so a browser reads the 401).
    app.add_middleware(SameSiteOnly, allowed=settings.cors_origins)
    if settings.api_token:
        app.add_middleware(BearerToken, token=settings.api_token, open_paths=OPEN_PATHS,
                           first_message=re.compile(r"^/elevenlabs/v1/text-to-speech/[^/]+/stream-input$"))
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                       allow_methods=["*"], allow_headers=["*"])
    if settings.forwarded_allow_ips:  # first of all: every guard sees the request as the proxy got it
        app.add_middleware(TrustedProxies, trusted=settings.forwarded_allow_ips)

    for module in (meta, models, profiles, generation, history, tasks, openai, elevenlabs, outside):
        app.include_router(module.router)

    # The web page: static files shipped in this package, built from /engines in the browser.
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/web", StaticFiles(directory=WEB), name="web")

    def openapi() -> dict[str, Any]:
        """FastAPI's schema, plus what it cannot say itself: an uploaded file is never empty."""
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            for name, component in schema.get("components", {}).get("schemas", {}).items():
                for prop in component.get("properties", {}).values() if name.startswith("Body_") else ():
                    if prop.get("format") == "binary" or prop.get("contentMediaType") == "application/octet-stream":
                        prop["minLength"] = 1
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
