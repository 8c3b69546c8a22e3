"""Tiny models laid out as a Hugging Face cache snapshot, for offline tests.

The layout is the one ``huggingface_hub`` reads with ``HF_HUB_OFFLINE=1``::

    <hub>/models--<org>--<name>/
        refs/main                  the commit hash an unset ``revision`` resolves to
        snapshots/<commit>/<file>  symlinks to blobs/<sha256> (the real cache's layout)
        blobs/<sha256>

````ModelConfig.revision`` None means "main": ``refs/main`` must name the snapshot. A config
whose ``revision`` is a commit hash is found at ``snapshots/<revision>``: pass that as
``commit``; one whose ``revision`` is a branch or tag is found through ``refs/<revision>``:
pass that as ``ref``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["FAKE_COMMIT", "write_tiny_snapshot"]

FAKE_COMMIT = "0" * 39 + "1"

Files = Mapping[str, bytes | str | os.PathLike[str]] | Callable[[Path], object]


def write_tiny_snapshot(hub: str | os.PathLike[str], repo_id: str, files: Files,
                        commit: str = FAKE_COMMIT, blobs: bool = True, ref: str = "main") -> Path:
    """Write ``files`` as the snapshot ``commit`` of ``repo_id`` in the cache ``hub``.

    ``files`` maps relative paths to contents (bytes, text, or a file to copy), or is a
    function that writes the files into the snapshot folder it is given (a model's own
    ``save_pretrained``). With ``blobs`` (default) each file becomes a symlink to its blob,
    as in a real cache. ``refs/<ref>`` names ``commit``. Calling it again for the same
    commit adds files to the snapshot. Returns the snapshot folder: what ``VOICEBOX_MODEL_PATH_<MODEL>``
    may also point at.
    """
    repo = Path(hub) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    if callable(files):
        files(snapshot)
    else:
        for relative, content in files.items():
            target = snapshot / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            elif isinstance(content, str):
                target.write_text(content, encoding="utf-8")
            else:
                target.write_bytes(Path(content).read_bytes())
    if blobs:
        store = repo / "blobs"
        store.mkdir(exist_ok=True)
        for path in sorted(p for p in snapshot.rglob("*") if p.is_file() and not p.is_symlink()):
            blob = store / hashlib.sha256(path.read_bytes()).hexdigest()
            if blob.exists():
                path.unlink()
            else:
                path.replace(blob)
            path.symlink_to(os.path.relpath(blob, path.parent))
    (repo / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
    (repo / "refs" / ref).write_text(commit)
    return snapshot
