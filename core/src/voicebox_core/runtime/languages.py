"""Display labels for the language codes in engine metadata (``en`` -> ``English``).

Labels come from ``langcodes`` (with ``language_data``, the CLDR names), installed with the
``[server]`` extra; without it, or for a code it does not know, the label is the code itself.
``auto`` (an engine that detects the language) is ``Automatic``.

``GET /engines`` labels every engine's codes on each call: the cache holds thousands, since one
engine may list over 600 languages (a smaller cache would evict them all on every listing).
"""

from __future__ import annotations

import functools

__all__ = ["language_label", "language_labels"]


@functools.lru_cache(maxsize=8192)
def language_label(code: str) -> str:
    if code == "auto":
        return "Automatic"
    try:
        import langcodes

        if not langcodes.tag_is_valid(code):
            return code
        label = str(langcodes.Language.get(code).display_name())
    except Exception:  # noqa: BLE001 - no langcodes, no language_data, an odd tag: the code it is
        return code
    return code if label.startswith("Unknown language") else label


def language_labels(codes: list[str] | tuple[str, ...]) -> dict[str, str]:
    return {code: language_label(code) for code in codes}
