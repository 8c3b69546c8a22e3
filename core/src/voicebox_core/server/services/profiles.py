"""Voice profiles: validation, storage of reference samples, the voice a profile speaks with."""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from voicebox_core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    ReferenceAudioError,
    UnknownVoiceError,
)
from voicebox_core.runtime.audio import load_reference_audio, save_audio
from voicebox_core.server.db import Profile, ProfileSample
from voicebox_core.server.schemas import ProfileBody, ProfileUpdate
from voicebox_core.server.state import ServerState
from voicebox_core.synthesis import Voice

__all__ = ["add_sample", "create", "delete", "delete_sample", "get", "list_all", "update",
           "voice_of", "as_dict"]

_BAD_NAME = re.compile(r"[/\\\x00-\x1f\x7f]|\.\.|^\.|^\s|\s$")


def check_name(name: str) -> str:
    if _BAD_NAME.search(name):
        raise InvalidRequestError(
            f"profile name {name!r} is not allowed: no slashes, '..', control characters, "
            "leading dot or surrounding spaces"
        )
    return name


def as_dict(profile: Profile) -> dict[str, Any]:
    return {
        "id": profile.id, "name": profile.name, "voice_type": profile.voice_type,
        "language": profile.language, "description": profile.description,
        "preset_engine": profile.preset_engine, "preset_voice_id": profile.preset_voice_id,
        "design_prompt": profile.design_prompt, "default_model": profile.default_model,
        "created_at": profile.created_at.isoformat(),
        "samples": [{"id": s.id, "reference_text": s.reference_text, "duration": round(s.duration, 3)}
                    for s in profile.samples],
    }


def _validate(state: ServerState, body: ProfileBody) -> None:
    check_name(body.name)
    if body.default_model:
        state.registry.model(body.default_model)
    if body.voice_type == "preset":
        if not body.preset_engine or not body.preset_voice_id:
            raise InvalidRequestError("a preset profile needs preset_engine and preset_voice_id")
        engine = state.registry.engine(body.preset_engine)
        if engine.preset(body.preset_voice_id) is None:
            raise UnknownVoiceError(body.preset_voice_id, engine.name,
                                    [v.voice_id for v in engine.preset_voices])
    if body.voice_type == "designed" and not (body.design_prompt or "").strip():
        raise InvalidRequestError("a designed profile needs a non-empty design_prompt")


def _commit(state: ServerState, session: Any, name: str) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError(f"a profile named {name!r} already exists; choose another name") from None


def create(state: ServerState, body: ProfileBody) -> dict[str, Any]:
    _validate(state, body)
    with state.sessions() as session:
        profile = Profile(**body.model_dump())
        session.add(profile)
        _commit(state, session, body.name)
        session.refresh(profile)
        return as_dict(profile)


def _load(session: Any, profile_id: str) -> Profile:
    profile = session.get(Profile, profile_id)
    if profile is None:
        raise NotFoundError(f"no profile with id {profile_id!r}; list them with GET /profiles")
    return profile


def get(state: ServerState, profile_id: str) -> dict[str, Any]:
    with state.sessions() as session:
        return as_dict(_load(session, profile_id))


def find(state: ServerState, id_or_name: str) -> Profile | None:
    with state.sessions() as session:
        profile = session.get(Profile, id_or_name) or session.scalars(
            select(Profile).where(Profile.name == id_or_name)).first()
        if profile is not None:
            _ = profile.samples  # load before the session closes
        return profile


def list_all(state: ServerState) -> list[dict[str, Any]]:
    with state.sessions() as session:
        return [as_dict(p) for p in session.scalars(select(Profile).order_by(Profile.created_at))]


def update(state: ServerState, profile_id: str, body: ProfileUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("name"):
        check_name(changes["name"])
    if changes.get("default_model"):
        state.registry.model(changes["default_model"])
    with state.sessions() as session:
        profile = _load(session, profile_id)
        for key, value in changes.items():
            setattr(profile, key, value)
        _commit(state, session, changes.get("name", profile.name))
        return as_dict(profile)


def delete(state: ServerState, profile_id: str) -> None:
    with state.sessions() as session:
        profile = _load(session, profile_id)
        paths = [Path(s.audio_path) for s in profile.samples]
        session.delete(profile)
        session.commit()
    for path in paths:
        path.unlink(missing_ok=True)


def add_sample(state: ServerState, profile_id: str, data: bytes, reference_text: str) -> dict[str, Any]:
    """Validate an uploaded clip (decodable, 2-30 s, not silent), store it as WAV, add the row.

    The file is written before the row and removed if the row fails: nothing half-done stays.
    """
    if len(data) > state.settings.max_upload_bytes:
        raise PayloadTooLargeError(f"upload is {len(data) / 2**20:.1f} MB; the limit is "
                       f"{state.settings.max_upload_bytes / 2**20:.0f} MB (VOICEBOX_MAX_UPLOAD_MB)")
    if not data:
        raise ReferenceAudioError("the uploaded file is empty; send a WAV, FLAC or OGG clip")
    with state.sessions() as session:
        profile = _load(session, profile_id)
        if profile.voice_type != "cloned":
            raise InvalidRequestError(f"profile {profile.name!r} is a {profile.voice_type} voice; "
                                      "only cloned profiles take samples")
    fd, tmp = tempfile.mkstemp(suffix=".upload", dir=state.samples_dir)
    target = state.samples_dir / f"{uuid.uuid4().hex}.wav"
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            audio, rate = load_reference_audio(tmp)
        except ReferenceAudioError as exc:
            message = str(exc).replace(repr(Path(tmp).name), "upload")
            if "could not be decoded" in message:  # libsndfile's text names our temp file
                message = "the uploaded file could not be decoded as audio; send WAV, FLAC or OGG"
            raise ReferenceAudioError(message) from None
        save_audio(target, audio.astype(np.float32), rate)
        with state.sessions() as session:
            sample = ProfileSample(profile_id=profile_id, audio_path=str(target),
                                   reference_text=reference_text.strip(), duration=len(audio) / rate)
            session.add(sample)
            session.commit()
            return {"id": sample.id, "profile_id": profile_id, "reference_text": sample.reference_text,
                    "duration": round(sample.duration, 3)}
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        Path(tmp).unlink(missing_ok=True)


def delete_sample(state: ServerState, profile_id: str, sample_id: str) -> None:
    with state.sessions() as session:
        sample = session.get(ProfileSample, sample_id)
        if sample is None or sample.profile_id != profile_id:
            raise NotFoundError(f"profile {profile_id!r} has no sample {sample_id!r}")
        path = Path(sample.audio_path)
        session.delete(sample)
        session.commit()
    path.unlink(missing_ok=True)


def voice_of(profile: Profile) -> Voice:
    if profile.voice_type == "preset":
        return Voice.preset(str(profile.preset_voice_id))
    if profile.voice_type == "designed":
        return Voice.design(str(profile.design_prompt))
    if not profile.samples:
        raise InvalidRequestError(f"profile {profile.name!r} has no samples yet; upload one with "
                                  f"POST /profiles/{profile.id}/samples")
    return Voice.clone([(s.audio_path, s.reference_text) for s in profile.samples])
