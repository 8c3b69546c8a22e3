"""The FastAPI application: discovery at start, routes from the registry, errors as 4xx."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from voicebox_core import __version__
from voicebox_core.errors import EngineBusyError, VoiceboxError
from voicebox_core.registry import Registry
from voicebox_core.runtime.paths import data_dir as default_data_dir
from voicebox_core.server.db import dispose
from voicebox_core.server.routes import generation, history, meta, models, openai, profiles, tasks
from voicebox_core.server.services.generation import recover
from voicebox_core.server.state import ServerState, Settings

__all__ = ["create_app"]

log = logging.getLogger("voicebox.server")
OPEN_PATHS = {"/health", "/docs", "/openapi.json", "/docs/oauth2-redirect"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


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


def create_app(data_dir: Path | None = None, registry: Registry | None = None) -> FastAPI:
    """Build the app. Discovery runs here (server start), once."""
    settings = Settings.from_env(Path(data_dir) if data_dir else default_data_dir())
    state = ServerState(registry or Registry.discover(), settings)
    interrupted = recover(state)
    if interrupted:
        log.warning("%d generation(s) were running when the server last stopped; marked failed",
                    interrupted)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.progress.bind(asyncio.get_running_loop())
        yield
        await _stop_jobs(state)
        for engine, backend in state.registry.loaded_backends().items():
            try:
                backend.unload_model()
            except Exception:  # noqa: BLE001 - shutting down: log, go on
                log.exception("unloading %s failed", engine)
        dispose(state.sessions)

    app = FastAPI(title="Voicebox", version=__version__, lifespan=lifespan,
                  description="Text-to-speech engines discovered from installed plugins.")
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
        return _error(str(exc.detail), exc.status_code, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(f"internal error ({type(exc).__name__}); see the server log", 500)

    if settings.api_token:
        expected = f"Bearer {settings.api_token}".encode()

        @app.middleware("http")
        async def bearer_token(request: Request, call_next):  # type: ignore[no-untyped-def]
            given = request.headers.get("authorization", "").encode()
            if (request.method != "OPTIONS" and request.url.path not in OPEN_PATHS
                    and not hmac.compare_digest(given, expected)):
                return _error("missing or wrong bearer token: send "
                              "'Authorization: Bearer <VOICEBOX_API_TOKEN>'", 401)
            return await call_next(request)

    allowed = set(settings.cors_origins)

    @app.middleware("http")
    async def same_site_only(request: Request, call_next):  # type: ignore[no-untyped-def]
        """A web page of another origin must not drive the server: browsers send such pages'
        form posts without asking (no preflight), so a foreign ``Origin`` on a request that
        changes state is refused here. Clients that are not browsers send no ``Origin``."""
        origin = request.headers.get("origin")
        if request.method not in SAFE_METHODS and origin and origin not in allowed:
            return _error(f"cross-site request from origin {origin!r} refused; add it to "
                          "VOICEBOX_CORS_ORIGINS to allow it", 403)
        return await call_next(request)

    app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                       allow_methods=["*"], allow_headers=["*"])

    for module in (meta, models, profiles, generation, history, tasks, openai):
        app.include_router(module.router)
    return app
