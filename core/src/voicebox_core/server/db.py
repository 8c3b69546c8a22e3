"""SQLite storage through SQLAlchemy 2: voice profiles, their samples, generations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import ForeignKey, String, Text, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

__all__ = ["Base", "Generation", "Profile", "ProfileSample", "open_database"]


def _id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Profile(Base):
    __tablename__ = "profiles"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    voice_type: Mapped[str] = mapped_column(String(16))  # cloned | preset | designed
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    preset_engine: Mapped[str | None] = mapped_column(String(40), default=None)
    preset_voice_id: Mapped[str | None] = mapped_column(String(100), default=None)
    design_prompt: Mapped[str | None] = mapped_column(Text, default=None)
    default_model: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    samples: Mapped[list[ProfileSample]] = relationship(
        back_populates="profile", cascade="all, delete-orphan", order_by="ProfileSample.created_at")


class ProfileSample(Base):
    __tablename__ = "profile_samples"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_id)
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    audio_path: Mapped[str] = mapped_column(Text)
    reference_text: Mapped[str] = mapped_column(Text, default="")
    duration: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    profile: Mapped[Profile] = relationship(back_populates="samples")


class Generation(Base):
    __tablename__ = "generations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_id)
    profile_id: Mapped[str | None] = mapped_column(String(32), default=None)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    engine: Mapped[str] = mapped_column(String(40))
    model_name: Mapped[str] = mapped_column(String(64))
    model_size: Mapped[str] = mapped_column(String(64))
    voice: Mapped[str] = mapped_column(Text, default="")
    seed: Mapped[int | None] = mapped_column(default=None)
    instruct: Mapped[str | None] = mapped_column(Text, default=None)
    audio_path: Mapped[str] = mapped_column(Text)
    duration: Mapped[float] = mapped_column(default=0.0)
    sample_rate: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=_now)


def open_database(path: Path) -> sessionmaker:  # type: ignore[type-arg]
    """Create the tables if needed and return a session factory for the file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(connection, _record):  # type: ignore[no-untyped-def]
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    Base.metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)


def dispose(factory: sessionmaker) -> None:  # type: ignore[type-arg]
    bind = factory.kw.get("bind")
    if isinstance(bind, Engine):
        bind.dispose()
