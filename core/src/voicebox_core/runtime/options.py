"""Engine options from an environment variable holding a JSON object (tests use them to shrink
a model's work: fewer diffusion steps, a tiny config), checked before any model work."""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from typing import Any

from voicebox_core.errors import InvalidRequestError

__all__ = ["env_options"]


def env_options(variable: str, allowed: Collection[str] | None = None) -> dict[str, Any]:
    """The JSON object in ``$variable`` (``{}`` when unset or blank).

    Raises :class:`~voicebox_core.errors.InvalidRequestError` naming the variable when it is not
    JSON, not an object, or (``allowed`` given) names an option outside ``allowed``.
    """
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"{variable} is not valid JSON: {exc}") from None
    if not isinstance(options, dict):
        raise InvalidRequestError(f"{variable} must be a JSON object, not {type(options).__name__}")
    if allowed is not None and (unknown := sorted(set(options) - set(allowed))):
        raise InvalidRequestError(f"{variable} has unknown options {unknown}; it takes {sorted(allowed)}")
    return options
