"""SQLite storage through SQLAlchemy 2: voice profiles, their samples, generations, settings.

A database made by an older server gains the columns it lacks when it is opened (SQLite's
``ALTER TABLE ... ADD COLUMN`` with each column's server default): nothing is lost.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    String,
    Text,
    TypeDecorator,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

__all__ = ["Base", "Generation", "Profile", "ProfileSample", "Setting", "dispose", "open_database"]


def _id() -> str:
    return uuid.uuid4().hex


def now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite has no time zones), always read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class Profile(Base):
    __tablename__ = "profiles"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    voice_type: Mapped[str] = mapped_column(String(16))  # cloned | preset | designed
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    description: Mapped[str | None] = mapped_column(Text, default="")
    preset_engine: Mapped[str | None] = mapped_column(String(40), default=None)
    preset_voice_id: Mapped[str | None] = mapped_column(String(100), default=None)
    design_prompt: Mapped[str | None] = mapped_column(Text, default=None)
    default_model: Mapped[str | None] = mapped_column(String(64), default=None)
    default_engine: Mapped[str | None] = mapped_column(String(40), default=None)
    personality: Mapped[str | None] = mapped_column(Text, default=None)
    avatar_path: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)
    samples: Mapped[list[ProfileSample]] = relationship(
        back_populates="profile", cascade="all, delete-orphan", order_by="ProfileSample.created_at")


class ProfileSample(Base):
    __tablename__ = "profile_samples"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_id)
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    #: Relative to the data directory (older rows may hold absolute paths).
    audio_path: Mapped[str] = mapped_column(Text)
    reference_text: Mapped[str] = mapped_column(Text, default="")
    duration: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=now)
    profile: Mapped[Profile] = relationship(back_populates="samples")


class Generation(Base):
    __tablename__ = "generations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_id)
    profile_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    engine: Mapped[str] = mapped_column(String(40))
    model_name: Mapped[str] = mapped_column(String(64))
    model_size: Mapped[str] = mapped_column(String(64))
    voice: Mapped[str] = mapped_column(Text, default="")
    #: The profile's name (or the voice) when the generation was made; kept if it is deleted.
    voice_label: Mapped[str] = mapped_column(Text, default="", server_default="")
    seed: Mapped[int | None] = mapped_column(default=None)
    instruct: Mapped[str | None] = mapped_column(Text, default=None)
    #: Relative to the data directory once completed; empty while running or failed.
    audio_path: Mapped[str] = mapped_column(Text, default="")
    duration: Mapped[float] = mapped_column(default=0.0)
    sample_rate: Mapped[int] = mapped_column(default=0)
    #: loading_model | generating | completed | failed
    status: Mapped[str] = mapped_column(String(16), default="completed", server_default="completed")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    is_favorited: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    source: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    #: The generation options, so a retry or a regeneration runs it again the same way.
    options: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    #: When each word is spoken, JSON ``[{"word", "start", "end"}, ...]`` in seconds, from an
    #: engine with word timestamps; NULL from any other (no captions rather than guessed ones).
    words: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=now, index=True)


class Setting(Base):
    """One JSON value per key (``generation``: the Voicebox generation defaults)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def _add_missing_columns(engine: Engine) -> None:
    inspector = inspect(engine)
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                kind = column.type.compile(engine.dialect)
                default = ""
                if column.server_default is not None:
                    value = str(column.server_default.arg).replace("'", "''")  # type: ignore[attr-defined]
                    default = f" DEFAULT '{value}'"
                connection.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{default}'))


def open_database(path: Path) -> sessionmaker[Any]:
    """Create the tables if needed and return a session factory for the file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(connection, _record):  # type: ignore[no-untyped-def]
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    Base.metadata.create_all(engine)
    _add_missing_columns(engine)
    return sessionmaker(engine, expire_on_commit=False)


def dispose(factory: sessionmaker[Any]) -> None:
    bind = factory.kw.get("bind")
    if isinstance(bind, Engine):
        bind.dispose()
