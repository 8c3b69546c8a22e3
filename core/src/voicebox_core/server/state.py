"""What the server holds for its lifetime: registry, synthesizer, database, queues, jobs."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import sqlite3
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from voicebox_core.errors import EngineBusyError, InvalidRequestError, StorageError
from voicebox_core.registry import Registry
from voicebox_core.server.db import now, open_database
from voicebox_core.server.progress import ProgressManager
from voicebox_core.synthesis import Synthesizer

__all__ = ["DATABASE", "DEFAULT_CORS_ORIGINS", "STORAGE_ERRNOS", "EngineQueue", "Job", "ServerState",
           "Settings", "Ticket", "storage_failure", "storage_reason"]

#: OSError numbers that mean "the data directory cannot take this write".
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                            errno.EPERM})
#: The database's file name in the data directory.
DATABASE = "voicebox.db"


#: SQLite's primary result codes for the same faults: full, read-only, a write that failed.
SQLITE_STORAGE_CODES = frozenset({13, 8, 10})  # SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR


def storage_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return os.strerror(exc.errno).lower()
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def storage_failure(exc: BaseException, data_dir: Path) -> tuple[str, str] | None:
    """(what could not be written, why) when ``exc`` means the data directory cannot take a
    write (a full disk, a read-only one, a failed write, in a file or in the database);
    None for any other error."""
    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        return str(exc.filename or data_dir), storage_reason(exc)
    cause = getattr(exc, "orig", exc)  # SQLAlchemy wraps the sqlite3 error
    if isinstance(cause, sqlite3.Error) and (getattr(cause, "sqlite_errorcode", 0) & 0xFF) in SQLITE_STORAGE_CODES:
        return str(data_dir / DATABASE), storage_reason(cause)
    return None

#: The Voicebox desktop app's own origins (Tauri webviews on each OS, the Vite dev server and
#: the server's own port), allowed without configuration.
DEFAULT_CORS_ORIGINS: tuple[str, ...] = (
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
    "http://localhost:5173",
    "http://127.0.0.1:5173",
    "http://localhost:17493",
    "http://127.0.0.1:17493",
)


def _mb(name: str, default: str) -> int:
    return int(float(os.environ.get(name, default)) * 2**20)


def _proxies(value: str) -> tuple[str, ...]:
    entries = tuple(e.strip() for e in value.split(",") if e.strip())
    for entry in entries:
        try:
            if entry != "*":
                ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise InvalidRequestError(f"VOICEBOX_FORWARDED_ALLOW_IPS: {entry!r} is not an address or a "
                                      "network; give your reverse proxy's, e.g. 127.0.0.1 or 10.0.0.0/8"
                                      ) from None
    return entries


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    api_token: str | None = None
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    max_queue: int = 16
    max_upload_bytes: int = 50 * 2**20
    max_import_bytes: int = 100 * 2**20
    max_avatar_bytes: int = 5 * 2**20
    max_body_bytes: int = 8 * 2**20
    #: Reverse proxies whose X-Forwarded-* headers are believed (addresses, networks, or *).
    forwarded_allow_ips: tuple[str, ...] = ()
    #: Streaming-text WebSockets (ElevenLabs' ``stream-input``): how many may be open at once,
    #: the largest message, the most text held without a sentence end, and how long a send
    #: may wait for a client that does not read before its socket is closed.
    max_sockets: int = 64
    max_message_bytes: int = 64 * 2**10
    max_pending_chars: int = 2000
    send_timeout_s: float = 10.0

    @classmethod
    def from_env(cls, data_dir: Path) -> Settings:
        extra = tuple(o.strip() for o in os.environ.get("VOICEBOX_CORS_ORIGINS", "").split(",") if o.strip())
        return cls(
            data_dir=data_dir,
            api_token=os.environ.get("VOICEBOX_API_TOKEN") or None,
            cors_origins=tuple(dict.fromkeys((*DEFAULT_CORS_ORIGINS, *extra))),
            max_queue=int(os.environ.get("VOICEBOX_MAX_QUEUE", "16")),
            max_upload_bytes=_mb("VOICEBOX_MAX_UPLOAD_MB", "50"),
            max_import_bytes=_mb("VOICEBOX_MAX_IMPORT_MB", "100"),
            max_body_bytes=_mb("VOICEBOX_MAX_BODY_MB", "8"),
            forwarded_allow_ips=_proxies(os.environ.get("VOICEBOX_FORWARDED_ALLOW_IPS", "")),
            max_sockets=int(os.environ.get("VOICEBOX_MAX_SOCKETS", "64")),
            max_message_bytes=int(float(os.environ.get("VOICEBOX_MAX_MESSAGE_KB", "64")) * 2**10),
            max_pending_chars=int(os.environ.get("VOICEBOX_MAX_PENDING_CHARS", "2000")),
            send_timeout_s=float(os.environ.get("VOICEBOX_SEND_TIMEOUT_S", "10")),
        )


class Ticket:
    """A place in an engine's queue, taken before any response starts.

    ``async with ticket:`` waits for the engine; :meth:`release` gives the place back and is
    safe to call twice (a stream that never started releases it in its response wrapper).
    """

    def __init__(self, queue: EngineQueue) -> None:
        self._queue = queue
        self._released = False
        self._holding = False

    async def __aenter__(self) -> Ticket:
        try:
            await self._queue._slots.acquire()
            self._holding = True
            # A free engine is taken without suspending. Yield once, so that a burst of
            # requests lines up here and the loop serves others (and /health) between turns,
            # instead of running every request's synchronous part in one pass of the loop.
            await asyncio.sleep(0)
        except BaseException:  # cancelled while waiting: the place is given back
            self.release()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        if self._holding:
            self._queue._slots.release()
            self._holding = False
        if not self._released:
            self._released = True
            self._queue.waiting -= 1


class EngineQueue:
    """Runs at most ``slots`` requests on one engine at once (one, unless its backend serves
    several: a Ray deployment's replicas); refuses with 503 once ``limit`` are admitted."""

    def __init__(self, engine: str, limit: int, slots: int = 1) -> None:
        self.engine, self.limit, self.slots = engine, limit, max(1, slots)
        self.waiting = 0
        self._slots = asyncio.Semaphore(self.slots)

    def admit(self, bounded: bool = True) -> Ticket:
        """Take a place now, or raise :class:`EngineBusyError` (answered as 503 + Retry-After).
        ``bounded=False`` always takes one (a Wyoming client waits; it has no Retry-After)."""
        if bounded and self.waiting >= self.limit:
            raise EngineBusyError(
                f"engine {self.engine!r} has {self.waiting} requests queued (VOICEBOX_MAX_QUEUE="
                f"{self.limit}); retry shortly"
            )
        self.waiting += 1
        return Ticket(self)

    def turn(self) -> Ticket:
        """Admission and the engine in one ``async with`` (for work that starts no response)."""
        return self.admit()


@dataclass
class Job:
    """A background generation: its task, and whether it should stop between chunks."""

    generation_id: str
    profile_id: str | None
    text: str
    started_at: datetime = field(default_factory=now)
    task: asyncio.Task[None] | None = None
    running: bool = False
    stop_requested: bool = False

    def stopped(self) -> bool:
        return self.stop_requested


@dataclass
class ServerState:
    registry: Registry
    settings: Settings
    synthesizer: Synthesizer = field(init=False)
    sessions: sessionmaker[Any] = field(init=False)
    progress: ProgressManager = field(default_factory=ProgressManager)
    queues: dict[str, EngineQueue] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    #: Called to stop the server (``POST /shutdown``, the parent watchdog).
    shutdown: Callable[[], None] | None = None
    watchdog_disabled: bool = False
    #: Streaming-text WebSockets open now (at most ``settings.max_sockets``).
    open_sockets: int = 0
    #: Long-running services started with the HTTP server (``serve --wyoming``).
    services: list[Callable[[ServerState], Awaitable[None]]] = field(default_factory=list)
    #: ``GET /engines?deep=true``: the deep doctor's report, once per server process (an
    #: install takes a restart to be seen anyway).
    deep_health: dict[str, Any] | None = None
    #: Status-stream listeners per generation, woken when its row changes.
    watchers: dict[str, set[asyncio.Event]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from voicebox_core.server.services.aliases import check_configuration

        check_configuration()  # the operator's OpenAI aliases, read at start
        # One thread per engine, so its memory is reused (voicebox_core.threads);
        # VOICEBOX_ENGINE_THREADS=0 restores the shared pool (for comparison).
        self.registry.engine_threads = os.environ.get("VOICEBOX_ENGINE_THREADS", "1") != "0"
        self.synthesizer = Synthesizer(self.registry)
        data = self.settings.data_dir
        try:
            for folder in (self.audio_dir, self.samples_dir, self.avatars_dir):
                folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=data):
                pass
            self.sessions = open_database(data / DATABASE)
        except (OSError, SQLAlchemyError) as exc:
            raise StorageError(
                f"data directory {str(data)!r} cannot be written ({storage_reason(exc)}); "
                "free space, fix its permissions, or choose another with --data-dir") from None
        self.sweep()

    def sweep(self) -> int:
        """Remove what a killed server left half-written: upload spools, ``.part`` files."""
        removed = 0
        for folder in (self.audio_dir, self.samples_dir, self.avatars_dir):
            for pattern in ("*.upload", ".*.part", "*.part"):
                for leftover in folder.glob(pattern):
                    leftover.unlink(missing_ok=True)
                    removed += 1
        return removed

    @property
    def audio_dir(self) -> Path:
        return self.settings.data_dir / "generations"

    @property
    def samples_dir(self) -> Path:
        return self.settings.data_dir / "samples"

    @property
    def avatars_dir(self) -> Path:
        return self.settings.data_dir / "avatars"

    def stored(self, path: Path) -> str:
        """How a file under the data directory is written in the database: relative."""
        return path.relative_to(self.settings.data_dir).as_posix()

    def resolve(self, stored: str) -> Path:
        path = Path(stored)
        return path if path.is_absolute() else self.settings.data_dir / path

    def notify(self, generation_id: str) -> None:
        for event in self.watchers.get(generation_id, ()):
            event.set()

    def remote(self, engine: str) -> bool:
        """Whether the engine runs elsewhere (a Ray deployment): its models live in its
        replicas, and its work in progress can be cancelled without leaving a backend here
        half-driven."""
        return bool(getattr(self.registry.loaded_backends().get(engine), "remote", False))

    def queue(self, engine: str) -> EngineQueue:
        queue = self.queues.get(engine)
        if queue is None:
            slots = int(getattr(self.registry.loaded_backends().get(engine), "concurrency", 1) or 1)
            queue = self.queues[engine] = EngineQueue(engine, self.settings.max_queue + slots - 1, slots)
        return queue
