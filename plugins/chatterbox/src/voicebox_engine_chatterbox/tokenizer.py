"""The multilingual model's tokenizer, kept off the network.

Upstream's ``MTLTokenizer`` fetches ``Cangjie5_TC.json`` with ``hf_hub_download`` into a fresh
cache inside the snapshot (so never finding the copy it has), and its pkuseg word segmenter
downloads ``spacy_ontonotes.zip`` on every load. :func:`local_tokenizer_files` answers the
first from the snapshot and defers the second; :func:`ensure_chinese_segmenter` builds pkuseg
on first Chinese use, never downloading while offline (docs/audits/chatterbox.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from voicebox_core.runtime import is_offline

__all__ = ["ensure_chinese_segmenter", "local_tokenizer_files"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def local_tokenizer_files(snapshot: Path) -> Iterator[None]:
    """While the multilingual tokenizer is built, read Cangjie5_TC.json from the snapshot.

    Upstream calls ``hf_hub_download(..., cache_dir=<snapshot dir>)``: a fresh cache inside
    the snapshot, so it never finds the file it already has and goes to the network (about
    40 s of retries offline, or a download into the snapshot). Its pkuseg segmenter would
    download ``spacy_ontonotes.zip`` on every load; it is built on first Chinese use instead.
    """
    from chatterbox.models.tokenizers import tokenizer as module

    def local_only(repo_id: str, filename: str, **_: Any) -> str:
        candidate = snapshot / filename
        if candidate.is_file():
            return str(candidate)
        raise FileNotFoundError(f"{filename} is not in {snapshot}; Chinese will be spelled raw")

    converter = module.ChineseCangjieConverter
    original_download, original_segmenter = module.hf_hub_download, converter._init_segmenter
    module.hf_hub_download = local_only
    converter._init_segmenter = lambda self: setattr(self, "segmenter", None)
    try:
        yield
    finally:
        module.hf_hub_download = original_download
        converter._init_segmenter = original_segmenter


def _pkuseg_model_cached() -> bool:
    home = Path(os.path.expanduser(os.environ.get("PKUSEG_HOME", "~/.pkuseg")))
    return (home / "spacy_ontonotes.zip").is_file() or (home / "spacy_ontonotes").is_dir()


def ensure_chinese_segmenter(model: Any) -> None:
    """Build pkuseg (optional extra ``zh``) once, never downloading while offline."""
    converter = model.tokenizer.cangjie_converter
    if getattr(converter, "_voicebox_segmenter_tried", False):
        return
    converter._voicebox_segmenter_tried = True
    try:
        from spacy_pkuseg import pkuseg
    except ImportError:
        log.info("spacy-pkuseg is not installed: Chinese text is not word-segmented")
        return
    if is_offline() and not _pkuseg_model_cached():
        log.warning("offline and pkuseg's model is not in PKUSEG_HOME: Chinese text is not "
                    "word-segmented (run once online to fetch spacy_ontonotes.zip)")
        return
    try:
        converter.segmenter = pkuseg()
    except Exception as exc:  # noqa: BLE001 - a failed download must not fail the request
        log.warning("pkuseg could not load its model (%s): Chinese text is not word-segmented", exc)
        converter.segmenter = None
