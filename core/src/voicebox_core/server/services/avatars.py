"""Profile avatars: a PNG, JPEG or WebP image, checked with Pillow, stored at most 512 px."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from voicebox_core.errors import InvalidRequestError, NotFoundError, PayloadTooLargeError
from voicebox_core.runtime.files import atomic_file
from voicebox_core.server.db import now
from voicebox_core.server.services import profiles
from voicebox_core.server.state import ServerState

__all__ = ["avatar_path", "delete", "store", "upload"]

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "MPO": ".jpg", "WEBP": ".webp"}
MAX_SIDE = 512
MAX_PIXELS = 40_000_000  # far above any photo; stops decompression bombs before decoding


def _normalised(state: ServerState, data: bytes) -> tuple[bytes, str]:
    """The image re-encoded (EXIF orientation applied, at most MAX_SIDE px), and its suffix."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > state.settings.max_avatar_bytes:
        raise PayloadTooLargeError(f"the image is over the avatar limit of "
                                   f"{state.settings.max_avatar_bytes // 2**20} MB")
    if not data:
        raise InvalidRequestError("the uploaded image is empty; send a PNG, JPEG or WebP file")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in FORMATS:
                raise InvalidRequestError(f"image format {image.format} is not accepted; "
                                          "send PNG, JPEG or WebP")
            if image.width * image.height > MAX_PIXELS:
                raise InvalidRequestError(f"the image is {image.width}x{image.height} pixels; "
                                          "send one under 40 megapixels")
            suffix = FORMATS[image.format]
            image.load()
            picture = ImageOps.exif_transpose(image)
            picture.thumbnail((MAX_SIDE, MAX_SIDE))
            if suffix == ".jpg" and picture.mode not in ("RGB", "L"):
                picture = picture.convert("RGB")
            out = io.BytesIO()
            picture.save(out, format="JPEG" if suffix == ".jpg" else image.format)
            return out.getvalue(), suffix
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        raise InvalidRequestError("the uploaded file is not a readable image; send PNG, JPEG or WebP") from None


def store(state: ServerState, profile_id: str, data: bytes, session: Any) -> Path:
    """Write the avatar for a profile in ``session`` (not committed); returns the new file."""
    encoded, suffix = _normalised(state, data)
    target = state.avatars_dir / f"{profile_id}-{now().strftime('%Y%m%d%H%M%S%f')}{suffix}"
    with atomic_file(target) as handle:
        handle.write(encoded)
    profile = profiles.load(session, profile_id)
    profile.avatar_path = state.stored(target)
    profile.updated_at = now()
    return target


def upload(state: ServerState, profile_id: str, data: bytes) -> dict[str, Any]:
    with state.sessions() as session:
        profile = profiles.load(session, profile_id)
        old = profile.avatar_path
        target = store(state, profile_id, data, session)
        try:
            session.commit()
        except BaseException:
            target.unlink(missing_ok=True)
            raise
    if old:
        state.resolve(old).unlink(missing_ok=True)
    return profiles.get(state, profile_id)


def avatar_path(state: ServerState, profile_id: str) -> Path:
    with state.sessions() as session:
        profile = profiles.load(session, profile_id)
        stored = profile.avatar_path
    path = state.resolve(stored) if stored else None
    if path is None or not path.is_file():
        raise NotFoundError(f"profile {profile_id!r} has no avatar; upload one with "
                            f"POST /profiles/{profile_id}/avatar")
    return path


def delete(state: ServerState, profile_id: str) -> None:
    with state.sessions() as session:
        profile = profiles.load(session, profile_id)
        if not profile.avatar_path:
            raise NotFoundError(f"profile {profile_id!r} has no avatar to delete")
        path = state.resolve(profile.avatar_path)
        profile.avatar_path = None
        profile.updated_at = now()
        session.commit()
    path.unlink(missing_ok=True)
