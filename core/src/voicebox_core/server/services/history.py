"""History: Voicebox's ``{items, total}`` listing, one generation, favorites, deletion, audio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select

from voicebox_core.errors import ConflictError, NotFoundError
from voicebox_core.server.db import Generation
from voicebox_core.server.services.generation import _get, profile_names, row, stop_job
from voicebox_core.server.state import ServerState
from voicebox_core.timing import to_srt, to_webvtt, words_from_json, words_to_json

__all__ = ["CAPTION_FORMATS", "audio", "captions", "delete", "delete_failed", "export_audio", "favorite", "get", "listing"]


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def listing(state: ServerState, limit: int, offset: int, profile_id: str | None,
            search: str | None) -> dict[str, Any]:
    """Newest first; ``search`` matches the text (case-insensitively, literally)."""
    where = []
    if profile_id:
        where.append(Generation.profile_id == profile_id)
    if search:
        where.append(Generation.text.ilike(_like(search), escape="\\"))
    with state.sessions() as session:
        total = session.scalar(select(func.count()).select_from(Generation).where(*where)) or 0
        query = (select(Generation).where(*where)
                 .order_by(Generation.created_at.desc(), Generation.id).limit(limit).offset(offset))
        rows = list(session.scalars(query))
        names = profile_names(session, {g.profile_id for g in rows if g.profile_id})
        return {"items": [row(g, names.get(g.profile_id or "")) for g in rows], "total": total}


def get(state: ServerState, generation_id: str) -> dict[str, Any]:
    with state.sessions() as session:
        generation = _get(session, generation_id)
        names = profile_names(session, {generation.profile_id} if generation.profile_id else set())
        return row(generation, names.get(generation.profile_id or ""))


def favorite(state: ServerState, generation_id: str) -> dict[str, bool]:
    with state.sessions() as session:
        generation = _get(session, generation_id)
        generation.is_favorited = not generation.is_favorited
        session.commit()
        return {"is_favorited": bool(generation.is_favorited)}


def delete(state: ServerState, generation_id: str) -> None:
    """Delete the row, then its audio; a running generation is stopped first."""
    stop_job(state, generation_id)
    with state.sessions() as session:
        generation = _get(session, generation_id)
        stored = generation.audio_path
        session.delete(generation)
        session.commit()
    if stored:
        state.resolve(stored).unlink(missing_ok=True)


def delete_failed(state: ServerState) -> int:
    with state.sessions() as session:
        failed = list(session.scalars(select(Generation).where(Generation.status == "failed")))
        paths = [g.audio_path for g in failed if g.audio_path and g.id not in state.jobs]
        ids = [g.id for g in failed if g.id not in state.jobs]
        session.execute(sql_delete(Generation).where(Generation.id.in_(ids)))
        session.commit()
    for stored in paths:
        state.resolve(stored).unlink(missing_ok=True)
    return len(ids)


def audio(state: ServerState, generation_id: str) -> Path:
    with state.sessions() as session:
        generation = session.get(Generation, generation_id)
        stored = generation.audio_path if generation is not None else ""
        status = generation.status if generation is not None else ""
    path = state.resolve(stored) if stored else None
    if path is None or not path.is_file():
        what = f"is {status}" if status and status != "completed" else "has no audio"
        raise NotFoundError(f"generation {generation_id!r} {what}; see GET /history")
    return path


def export_audio(state: ServerState, generation_id: str) -> tuple[Path, str]:
    """The audio file and a download name made from the text's first words."""
    path = audio(state, generation_id)
    with state.sessions() as session:
        text = _get(session, generation_id).text
    return path, _download_name(text, "wav")


def _download_name(text: str, extension: str) -> str:
    """A download's file name from the first words of the generation's text."""
    safe = "".join(c for c in text[:30] if c.isalnum() or c in " -_").strip() or "generation"
    return f"{safe}.{extension}"


#: Caption formats: media type and file extension.
CAPTION_FORMATS = {"vtt": ("text/vtt", "vtt"), "srt": ("application/x-subrip", "srt"), "json": ("application/json", "json")}


def captions(state: ServerState, generation_id: str, fmt: str) -> tuple[str, str, str]:
    """A generation's captions (WebVTT, SubRip, or its words as JSON) from the word times its
    engine gave: the text, its media type and a download name."""
    with state.sessions() as session:
        generation = _get(session, generation_id)
        if generation.status != "completed":
            raise ConflictError(f"generation {generation_id!r} is {generation.status}; captions come with its audio")
        if generation.words is None:
            raise ConflictError(
                f"generation {generation_id!r} was made by engine {generation.engine!r}, which gives no word "
                "timestamps, so it has no captions (engines with `word_timestamps` in GET /engines do)")
        words = words_from_json(json.loads(generation.words)) or ()
        text = generation.text
    media, extension = CAPTION_FORMATS[fmt]
    body = {"vtt": to_webvtt, "srt": to_srt}[fmt](words) if fmt != "json" else json.dumps(words_to_json(words))
    return body, media, _download_name(text, extension)
