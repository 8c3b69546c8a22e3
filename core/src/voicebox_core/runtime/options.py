"""Engine options from an environment variable holding a JSON object (tests use them to shrink
a model's work: fewer diffusion steps, a tiny config), checked before any model work."""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from typing import Any

from voicebox_core.errors import InvalidRequestError

__all__ = ["env_options"]


def env_options(variable: str, allowed: Collection[str] | None = None, described: str | None = None) -> dict[str, Any]:
    """The JSON object in ``$variable`` (``{}`` when unset or blank).

    Raises :class:`~voicebox_core.errors.InvalidRequestError` naming the variable when it is not
    JSON, not an object, or (``allowed`` given) names an option outside ``allowed``; the message
    says the variable "must be a JSON object" followed by ``described`` (default: "of" and the
    allowed names).
    """
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"{variable} is not valid JSON: {exc}") from None
    if described is None:
        described = f"of {sorted(allowed)}" if allowed is not None else ""
    unknown = sorted(set(options) - set(allowed)) if isinstance(options, dict) and allowed is not None else []
    if not isinstance(options, dict) or unknown:
        found = f"; it has unknown {unknown}" if unknown else ""
        raise InvalidRequestError(f"{variable} must be a JSON object {described}".rstrip() + found)
    return options
