"""Profile export and import as Voicebox's ``.voicebox.zip``.

The archive holds ``manifest.json`` (``version``, ``profile``, ``has_avatar``),
``samples.json`` (sample file name -> reference text), ``samples/*.wav`` and an optional
``avatar.<ext>``. Voicebox writes and reads the profile's name, description and language; we
add the voice fields (``voice_type``, ``preset_engine``...), which Voicebox ignores.

An import is all or nothing: every clip is checked before anything is written, and a failure
removes what was written.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from voicebox_core.errors import InvalidRequestError, PayloadTooLargeError
from voicebox_core.server.db import Profile
from voicebox_core.server.schemas import ProfileBody
from voicebox_core.server.services import avatars, profiles
from voicebox_core.server.state import ServerState

__all__ = ["export_profile", "import_profile"]

_PROFILE_FIELDS = ("name", "description", "language", "voice_type", "preset_engine",
                   "preset_voice_id", "design_prompt", "default_engine", "personality")


def export_profile(state: ServerState, profile_id: str) -> tuple[bytes, str]:
    """The archive's bytes and a safe file name for it."""
    with state.sessions() as session:
        profile = profiles.load(session, profile_id)
        fields = {k: getattr(profile, k) for k in _PROFILE_FIELDS}
        samples = [(state.resolve(s.audio_path), s.id, s.reference_text) for s in profile.samples]
        avatar = state.resolve(profile.avatar_path) if profile.avatar_path else None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        has_avatar = avatar is not None and avatar.is_file()
        if has_avatar and avatar is not None:
            archive.write(avatar, f"avatar{avatar.suffix}")
        archive.writestr("manifest.json", json.dumps(
            {"version": "1.0", "profile": fields, "has_avatar": has_avatar}, indent=2))
        mapping = {}
        for path, sample_id, reference_text in samples:
            if not path.is_file():
                raise InvalidRequestError(f"sample {sample_id!r} of the profile is missing from the "
                                          "data directory; delete it before exporting")
            archive.write(path, f"samples/{sample_id}.wav")
            mapping[f"{sample_id}.wav"] = reference_text
        archive.writestr("samples.json", json.dumps(mapping, indent=2))
    safe = "".join(c for c in fields["name"] if c.isalnum() or c in " -_").strip() or "profile"
    return buffer.getvalue(), f"profile-{safe}.voicebox.zip"


def _unique_name(session: Any, name: str) -> str:
    taken = set(session.scalars(select(Profile.name)))
    candidate, counter = name, 1
    while candidate in taken:
        suffix = f" ({counter})"
        candidate, counter = name[: 100 - len(suffix)] + suffix, counter + 1
    return candidate


def _read(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise PayloadTooLargeError(f"{name} in the archive is {info.file_size / 2**20:.1f} MB "
                                   f"unpacked; the limit is {limit / 2**20:.0f} MB")
    return archive.read(name)


def _manifest(archive: zipfile.ZipFile, names: set[str]) -> tuple[dict[str, Any], dict[str, str]]:
    for required in ("manifest.json", "samples.json"):
        if required not in names:
            raise InvalidRequestError(f"the archive has no {required}; export a profile with "
                                      "GET /profiles/{id}/export to see the format")
    try:
        manifest = json.loads(_read(archive, "manifest.json", 2**20))
        mapping = json.loads(_read(archive, "samples.json", 2**20))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"the archive's JSON is invalid: {exc}") from None
    if not isinstance(manifest, dict) or "version" not in manifest or not isinstance(manifest.get("profile"), dict):
        raise InvalidRequestError("manifest.json needs 'version' and a 'profile' object")
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in mapping.items()):
        raise InvalidRequestError("samples.json must map sample file names to reference texts")
    return manifest, mapping


def import_profile(state: ServerState, data: bytes) -> dict[str, Any]:
    if len(data) > state.settings.max_import_bytes:
        raise PayloadTooLargeError(f"the archive is over the import limit of "
                                   f"{state.settings.max_import_bytes / 2**20:.0f} MB (VOICEBOX_MAX_IMPORT_MB)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InvalidRequestError("the upload is not a ZIP archive; send a .voicebox.zip export") from None
    with archive:
        names = set(archive.namelist())
        manifest, mapping = _manifest(archive, names)
        clips = []
        for filename, reference_text in mapping.items():
            if "/" in filename or "\\" in filename or not filename.endswith(".wav"):
                raise InvalidRequestError(f"sample name {filename!r} must be a plain .wav file name")
            if f"samples/{filename}" not in names:
                raise InvalidRequestError(f"samples.json names {filename!r} but samples/{filename} "
                                          "is not in the archive")
            clip = _read(archive, f"samples/{filename}", state.settings.max_upload_bytes)
            try:
                clips.append((profiles.decode_clip(state, clip), reference_text))
            except InvalidRequestError as exc:
                raise InvalidRequestError(f"sample {filename}: {exc}") from None
        avatar_name = next((n for n in sorted(names) if n.startswith("avatar.")), None)
        avatar = _read(archive, avatar_name, state.settings.max_avatar_bytes) if avatar_name else None
    fields = {k: v for k, v in manifest["profile"].items() if k in _PROFILE_FIELDS and v is not None}
    written: list[Path] = []
    with state.sessions() as session:
        fields["name"] = _unique_name(session, str(fields.get("name") or "Imported Profile"))
        try:
            body = ProfileBody(**fields)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise InvalidRequestError(f"the archive's profile is invalid: {problems}") from None
        if clips and body.voice_type != "cloned":
            raise InvalidRequestError(f"the archive holds samples for a {body.voice_type} profile; "
                                      "only cloned profiles take samples")
        values = profiles._validate(state, body)
        try:
            profile = Profile(**values)
            session.add(profile)
            session.flush()
            for (audio, rate), reference_text in clips:
                _sample, path = profiles.write_sample(state, profile.id, audio, rate, reference_text, session)
                written.append(path)
            if avatar is not None:
                written.append(avatars.store(state, profile.id, avatar, session))
            profiles._commit(session, body.name)
        except BaseException:
            session.rollback()
            for path in written:
                path.unlink(missing_ok=True)
            raise
        profile_id = profile.id
    return profiles.get(state, profile_id)
