"""What the server holds for its lifetime: registry, synthesizer, database, queues."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from voicebox_core.errors import EngineBusyError
from voicebox_core.registry import Registry
from voicebox_core.server.db import open_database
from voicebox_core.server.progress import ProgressManager
from voicebox_core.synthesis import Synthesizer

__all__ = ["EngineQueue", "ServerState", "Settings"]


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    api_token: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_queue: int = 16
    max_upload_bytes: int = 50 * 2**20

    @classmethod
    def from_env(cls, data_dir: Path) -> Settings:
        origins = tuple(o.strip() for o in os.environ.get("VOICEBOX_CORS_ORIGINS", "").split(",") if o.strip())
        return cls(
            data_dir=data_dir,
            api_token=os.environ.get("VOICEBOX_API_TOKEN") or None,
            cors_origins=origins,
            max_queue=int(os.environ.get("VOICEBOX_MAX_QUEUE", "16")),
            max_upload_bytes=int(float(os.environ.get("VOICEBOX_MAX_UPLOAD_MB", "50")) * 2**20),
        )


class EngineQueue:
    """Serialises work on one engine; refuses with 503 once ``limit`` requests wait."""

    def __init__(self, engine: str, limit: int) -> None:
        self.engine, self.limit = engine, limit
        self.waiting = 0
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self.waiting >= self.limit:
            raise EngineBusyError(
                f"engine {self.engine!r} has {self.waiting} requests queued (VOICEBOX_MAX_QUEUE="
                f"{self.limit}); retry shortly"
            )
        self.waiting += 1
        try:
            async with self._lock:
                yield
        finally:
            self.waiting -= 1


@dataclass
class ServerState:
    registry: Registry
    settings: Settings
    synthesizer: Synthesizer = field(init=False)
    sessions: sessionmaker = field(init=False)  # type: ignore[type-arg]
    progress: ProgressManager = field(default_factory=ProgressManager)
    queues: dict[str, EngineQueue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.synthesizer = Synthesizer(self.registry)
        self.sessions = open_database(self.settings.data_dir / "voicebox.db")
        for folder in (self.audio_dir, self.samples_dir):
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def audio_dir(self) -> Path:
        return self.settings.data_dir / "generations"

    @property
    def samples_dir(self) -> Path:
        return self.settings.data_dir / "samples"

    def queue(self, engine: str) -> EngineQueue:
        return self.queues.setdefault(engine, EngineQueue(engine, self.settings.max_queue))
