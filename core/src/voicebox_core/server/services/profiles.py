"""Voice profiles: validation, storage of reference samples, the voice a profile speaks with.

Shapes are Voicebox's ``VoiceProfileResponse`` and ``ProfileSampleResponse`` (plus our
``samples``, ``default_model`` and ``duration``). Files are written before rows and removed if
the row fails; a row is deleted before its files: nothing half-done stays.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from voicebox_core.config import EngineInfo
from voicebox_core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    ReferenceAudioError,
    UnknownVoiceError,
)
from voicebox_core.runtime.audio import load_reference_audio, save_audio
from voicebox_core.server.db import Generation, Profile, ProfileSample, now
from voicebox_core.server.schemas import ProfileBody, ProfileUpdate
from voicebox_core.server.state import ServerState
from voicebox_core.synthesis import Voice

__all__ = ["add_sample", "as_dict", "create", "delete", "delete_sample", "find", "get", "list_all",
           "sample_path", "update", "update_sample", "voice_of"]

_BAD_NAME = re.compile(r"[/\\\x00-\x1f\x7f]|\.\.|^\.|^\s|\s$")
_LANGUAGE = re.compile(r"^(auto|[a-z]{2,3}(-[A-Za-z0-9]{2,8})?)$")


def check_name(name: str) -> str:
    if _BAD_NAME.search(name):
        raise InvalidRequestError(
            f"profile name {name!r} is not allowed: no slashes, '..', control characters, "
            "leading dot or surrounding spaces"
        )
    return name


def _sample_dict(state: ServerState, sample: ProfileSample) -> dict[str, Any]:
    return {"id": sample.id, "profile_id": sample.profile_id, "audio_path": sample.audio_path,
            "reference_text": sample.reference_text, "duration": round(sample.duration, 3),
            "audio_url": f"/samples/{sample.id}", "created_at": sample.created_at.isoformat()}


def as_dict(state: ServerState, profile: Profile, generation_count: int = 0) -> dict[str, Any]:
    """Voicebox's ``VoiceProfileResponse``, with the samples themselves (ours)."""
    created = profile.created_at
    return {
        "id": profile.id, "name": profile.name, "description": profile.description or "",
        "language": profile.language or "en", "voice_type": profile.voice_type,
        "preset_engine": profile.preset_engine, "preset_voice_id": profile.preset_voice_id,
        "design_prompt": profile.design_prompt, "default_engine": profile.default_engine,
        "default_model": profile.default_model, "personality": profile.personality,
        "avatar_path": profile.avatar_path, "effects_chain": None,
        "generation_count": generation_count, "sample_count": len(profile.samples),
        "created_at": created.isoformat(), "updated_at": (profile.updated_at or created).isoformat(),
        "samples": [_sample_dict(state, s) for s in profile.samples],
    }


def _generation_counts(session: Any, profile_ids: list[str] | None = None) -> dict[str, int]:
    query = select(Generation.profile_id, func.count(Generation.id)).group_by(Generation.profile_id)
    if profile_ids is not None:
        query = query.where(Generation.profile_id.in_(profile_ids))
    return {pid: count for pid, count in session.execute(query) if pid}


def _engine_for(state: ServerState, name: str, kind: str, what: str) -> EngineInfo:
    engine = state.registry.engine(name)
    if kind not in engine.voice_kinds:
        raise InvalidRequestError(
            f"{what} {engine.name!r} takes {', '.join(engine.voice_kinds)} voices, not {kind}; "
            "engines for " + kind + " voices: "
            + (", ".join(e.name for e in state.registry.engines if kind in e.voice_kinds) or "none"))
    return engine


def _validate(state: ServerState, body: ProfileBody) -> dict[str, Any]:
    """Check a create body; return the values to store (defaults filled in)."""
    check_name(body.name)
    values = body.model_dump()
    if body.language is not None and not _LANGUAGE.match(body.language):
        raise InvalidRequestError(f"language {body.language!r} is not an ISO 639 code such as 'en'")
    if body.default_model:
        model = state.registry.model(body.default_model)
        if body.default_engine and body.default_engine != model.engine:
            raise InvalidRequestError(f"default_model {model.model_name!r} belongs to engine "
                                      f"{model.engine!r}, not default_engine {body.default_engine!r}")
    if body.voice_type == "preset":
        if not body.preset_engine or not body.preset_voice_id:
            raise InvalidRequestError("a preset profile needs preset_engine and preset_voice_id")
        engine = _engine_for(state, body.preset_engine, "preset", "preset_engine")
        voice = engine.preset(body.preset_voice_id)
        if voice is None:
            raise UnknownVoiceError(body.preset_voice_id, engine.name,
                                    [v.voice_id for v in engine.preset_voices])
        if body.default_engine and body.default_engine != engine.name:
            raise InvalidRequestError(f"a preset profile speaks with its preset_engine "
                                      f"{engine.name!r}; leave default_engine out or set it to that")
        values["default_engine"] = engine.name
        values["language"] = body.language or voice.language
        return values
    if body.preset_engine or body.preset_voice_id:
        raise InvalidRequestError(f"a {body.voice_type} profile takes no preset_engine or "
                                  "preset_voice_id; use voice_type 'preset' for a preset voice")
    if body.voice_type == "designed":
        if not (body.design_prompt or "").strip():
            raise InvalidRequestError("a designed profile needs a non-empty design_prompt")
    elif body.design_prompt:
        raise InvalidRequestError("a cloned profile takes no design_prompt; use voice_type 'designed'")
    if body.default_engine:
        _engine_for(state, body.default_engine, body.voice_type, "default_engine")
    values["language"] = body.language or "en"
    return values


def _commit(session: Any, name: str) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError(f"a profile named {name!r} already exists; choose another name") from None


def create(state: ServerState, body: ProfileBody) -> dict[str, Any]:
    values = _validate(state, body)
    with state.sessions() as session:
        profile = Profile(**values)
        session.add(profile)
        _commit(session, body.name)
        session.refresh(profile)
        return as_dict(state, profile)


def load(session: Any, profile_id: str) -> Profile:
    profile = session.get(Profile, profile_id)
    if profile is None:
        raise NotFoundError(f"no profile with id {profile_id!r}; list them with GET /profiles")
    return profile


def get(state: ServerState, profile_id: str) -> dict[str, Any]:
    with state.sessions() as session:
        profile = load(session, profile_id)
        return as_dict(state, profile, _generation_counts(session, [profile.id]).get(profile.id, 0))


def find_by_id(state: ServerState, profile_id: str) -> Profile | None:
    with state.sessions() as session:
        profile: Profile | None = session.get(Profile, profile_id)
        return profile


def find(state: ServerState, id_or_name: str) -> Profile | None:
    with state.sessions() as session:
        profile = session.get(Profile, id_or_name) or session.scalars(
            select(Profile).where(Profile.name == id_or_name)).first()
        if profile is not None:
            _ = profile.samples  # load before the session closes
        return profile


def list_all(state: ServerState) -> list[dict[str, Any]]:
    with state.sessions() as session:
        counts = _generation_counts(session)
        query = select(Profile).order_by(Profile.created_at.desc())
        return [as_dict(state, p, counts.get(p.id, 0)) for p in session.scalars(query)]


def update(state: ServerState, profile_id: str, body: ProfileUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    with state.sessions() as session:
        profile = load(session, profile_id)
        for fixed in ("voice_type", "preset_engine", "preset_voice_id"):
            if fixed in changes and changes.pop(fixed) not in (None, getattr(profile, fixed)):
                raise InvalidRequestError(
                    f"{fixed} of profile {profile.name!r} is {getattr(profile, fixed)!r} and cannot "
                    "change; create a new profile for another voice")
        merged = ProfileBody(**{
            "name": profile.name, "description": profile.description, "language": profile.language,
            "voice_type": profile.voice_type, "preset_engine": profile.preset_engine,
            "preset_voice_id": profile.preset_voice_id, "design_prompt": profile.design_prompt,
            "default_engine": profile.default_engine, "personality": profile.personality,
            "default_model": profile.default_model,
            **{k: (v or None) if k in ("default_engine", "default_model") else v
               for k, v in changes.items()},
        })
        values = _validate(state, merged)
        for key in changes:
            setattr(profile, key, values[key])
        profile.updated_at = now()
        _commit(session, values["name"])
        return as_dict(state, profile, _generation_counts(session, [profile.id]).get(profile.id, 0))


def delete(state: ServerState, profile_id: str) -> None:
    with state.sessions() as session:
        profile = load(session, profile_id)
        paths = [state.resolve(s.audio_path) for s in profile.samples]
        if profile.avatar_path:
            paths.append(state.resolve(profile.avatar_path))
        session.delete(profile)
        session.commit()
    for path in paths:
        path.unlink(missing_ok=True)


# -- samples -------------------------------------------------------------------------------


def _check_upload(state: ServerState, data: bytes) -> None:
    if len(data) > state.settings.max_upload_bytes:
        raise PayloadTooLargeError(f"upload is over the limit of "
                                   f"{state.settings.max_upload_bytes / 2**20:.0f} MB (VOICEBOX_MAX_UPLOAD_MB)")
    if not data:
        raise ReferenceAudioError("the uploaded file is empty; send a WAV, FLAC or OGG clip")


def decode_clip(state: ServerState, data: bytes) -> tuple[np.ndarray, int]:
    """Decode and check an uploaded reference clip (2-30 s, not silent)."""
    _check_upload(state, data)
    fd, tmp = tempfile.mkstemp(suffix=".upload", dir=state.samples_dir)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            return load_reference_audio(tmp)
        except ReferenceAudioError as exc:
            message = str(exc).replace(repr(Path(tmp).name), "upload").replace(tmp, "upload")
            if "could not be decoded" in message:  # libsndfile's text names our temp file
                message = "the uploaded file could not be decoded as audio; send WAV, FLAC or OGG"
            raise ReferenceAudioError(message) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def cloned_profile(session: Any, profile_id: str) -> Profile:
    profile = load(session, profile_id)
    if profile.voice_type != "cloned":
        raise InvalidRequestError(f"profile {profile.name!r} is a {profile.voice_type} voice; "
                                  "only cloned profiles take samples")
    return profile


def write_sample(state: ServerState, profile_id: str, audio: np.ndarray, rate: int,
                 reference_text: str, session: Any) -> tuple[ProfileSample, Path]:
    """Write the clip and add (not commit) its row; the caller commits or removes the file."""
    sample_id = uuid.uuid4().hex
    target = state.samples_dir / f"{sample_id}.wav"
    save_audio(target, audio.astype(np.float32), rate)
    sample = ProfileSample(id=sample_id, profile_id=profile_id, audio_path=state.stored(target),
                           reference_text=reference_text.strip(), duration=len(audio) / rate)
    session.add(sample)
    return sample, target


def add_sample(state: ServerState, profile_id: str, data: bytes, reference_text: str) -> dict[str, Any]:
    """Validate an uploaded clip (decodable, 2-30 s, not silent), store it as WAV, add the row."""
    with state.sessions() as session:
        cloned_profile(session, profile_id)
    audio, rate = decode_clip(state, data)
    with state.sessions() as session:
        profile = cloned_profile(session, profile_id)
        target: Path | None = None
        try:
            sample, target = write_sample(state, profile_id, audio, rate, reference_text, session)
            profile.updated_at = now()
            session.commit()
        except BaseException:
            if target is not None:
                target.unlink(missing_ok=True)
            raise
        return _sample_dict(state, sample)


def samples(state: ServerState, profile_id: str) -> list[dict[str, Any]]:
    with state.sessions() as session:
        return [_sample_dict(state, s) for s in load(session, profile_id).samples]


def _sample(session: Any, sample_id: str, profile_id: str | None = None) -> ProfileSample:
    sample = session.get(ProfileSample, sample_id)
    if sample is None or (profile_id is not None and sample.profile_id != profile_id):
        where = f"profile {profile_id!r} has" if profile_id else "there is"
        raise NotFoundError(f"{where} no sample {sample_id!r}; list them with "
                            "GET /profiles/{profile_id}/samples")
    return sample


def update_sample(state: ServerState, sample_id: str, reference_text: str) -> dict[str, Any]:
    with state.sessions() as session:
        sample = _sample(session, sample_id)
        sample.reference_text = reference_text.strip()
        sample.profile.updated_at = now()
        session.commit()
        return _sample_dict(state, sample)


def delete_sample(state: ServerState, sample_id: str, profile_id: str | None = None) -> None:
    with state.sessions() as session:
        sample = _sample(session, sample_id, profile_id)
        path = state.resolve(sample.audio_path)
        sample.profile.updated_at = now()
        session.delete(sample)
        session.commit()
    path.unlink(missing_ok=True)


def sample_path(state: ServerState, sample_id: str) -> Path:
    with state.sessions() as session:
        sample = _sample(session, sample_id)
        path = state.resolve(sample.audio_path)
    if not path.is_file():
        raise NotFoundError(f"the audio of sample {sample_id!r} is missing from the data directory")
    return path


def voice_of(state: ServerState, profile: Profile) -> Voice:
    if profile.voice_type == "preset":
        return Voice.preset(str(profile.preset_voice_id))
    if profile.voice_type == "designed":
        return Voice.design(str(profile.design_prompt))
    if not profile.samples:
        raise InvalidRequestError(f"profile {profile.name!r} has no samples yet; upload one with "
                                  f"POST /profiles/{profile.id}/samples")
    return Voice.clone([(str(state.resolve(s.audio_path)), s.reference_text) for s in profile.samples])
