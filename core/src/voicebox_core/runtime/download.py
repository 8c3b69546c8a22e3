"""Model files: local overrides, Hugging Face cache checks, downloads with byte progress.

Resolution order for a model's directory (:func:`ensure_model`):

1. ``VOICEBOX_MODEL_PATH_<MODEL_NAME>`` (upper case, non-alphanumerics as ``_``), or
   ``$VOICEBOX_MODELS_DIR/<model_name>``: a local directory, used as is.
2. A complete snapshot already in the Hugging Face cache: used without any network call.
3. A download of just ``ModelConfig.files`` (or the whole repo), reporting bytes as they
   arrive, unless offline (``HF_HUB_OFFLINE=1`` or ``VOICEBOX_OFFLINE=1``).
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import inspect
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from voicebox_core.config import ModelConfig
from voicebox_core.errors import ModelNotDownloadedError, VoiceboxError

__all__ = [
    "DownloadProgress",
    "cached_snapshot",
    "check_obtainable",
    "delete_model",
    "download_progress",
    "ensure_model",
    "hf_cache_dir",
    "is_downloaded",
    "is_offline",
    "local_override",
    "model_disk_bytes",
    "model_path_variable",
    "throttled",
]


@dataclass(frozen=True)
class DownloadProgress:
    model_name: str
    filename: str
    downloaded: int
    total: int


ProgressCallback = Callable[[DownloadProgress], None]

_listener: contextvars.ContextVar[ProgressCallback | None] = contextvars.ContextVar(
    "voicebox_download_progress", default=None)


@contextlib.contextmanager
def download_progress(callback: ProgressCallback) -> Iterator[None]:
    """Within the block (and threads started by ``asyncio.to_thread`` in it), downloads that
    name no callback report to ``callback``: how the host hears a backend's downloads
    during ``load_model`` without the backend knowing about it."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)


def throttled(callback: ProgressCallback, interval: float = 0.1) -> ProgressCallback:
    """``callback``, called at most once per ``interval`` seconds; a file's last event (its
    bytes complete) always goes. How a worker or a replica relays progress to its host."""
    import time

    last = [0.0]

    def forward(progress: DownloadProgress) -> None:
        now = time.monotonic()
        if now - last[0] < interval and progress.downloaded < progress.total:
            return
        last[0] = now
        callback(progress)

    return forward


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def is_offline() -> bool:
    return _truthy("HF_HUB_OFFLINE") or _truthy("VOICEBOX_OFFLINE")


def hf_cache_dir() -> Path:
    """The hub cache, read from the environment at call time (tests change it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return Path(home).expanduser() / "hub"


def model_path_variable(config: ModelConfig) -> str:
    """The environment variable that points this model at a local folder of its files."""
    return "VOICEBOX_MODEL_PATH_" + re.sub(r"[^A-Za-z0-9]", "_", config.model_name).upper()


def local_override(config: ModelConfig) -> Path | None:
    """A user-supplied directory holding this model's files, if one is configured."""
    var = model_path_variable(config)
    if os.environ.get(var):
        path = Path(os.environ[var]).expanduser()
        if not path.is_dir():
            raise ModelNotDownloadedError(f"{var} points to {str(path)!r}, which is not a directory")
        return path
    root = os.environ.get("VOICEBOX_MODELS_DIR")
    if root and (Path(root).expanduser() / config.model_name).is_dir():
        return Path(root).expanduser() / config.model_name
    return None


def _repo_dir(config: ModelConfig) -> Path:
    return hf_cache_dir() / ("models--" + str(config.hf_repo_id).replace("/", "--"))


def _snapshot_dir(config: ModelConfig) -> Path | None:
    repo = _repo_dir(config)
    revision = config.revision or "main"
    ref = repo / "refs" / revision
    commit = ref.read_text().strip() if ref.is_file() else revision
    snapshot = repo / "snapshots" / commit
    return snapshot if snapshot.is_dir() else None


def _complete(snapshot: Path, patterns: tuple[str, ...]) -> bool:
    files = [p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()]
    if not files:
        return False
    return all(any(fnmatch.fnmatch(f, pattern) for f in files) for pattern in patterns)


def cached_snapshot(config: ModelConfig) -> Path | None:
    """The cached snapshot directory when every file the model needs is there, else None."""
    if not config.hf_repo_id:
        return None
    snapshot = _snapshot_dir(config)
    if snapshot is None or any((_repo_dir(config) / "blobs").glob("*.incomplete")):
        return None
    return snapshot if _complete(snapshot, config.files) else None


def _offline_message(parent: ModelConfig, missing: list[ModelConfig]) -> str:
    """What an offline or frozen user can do: download while online, or hand over a folder
    (the variable of each missing repository, which may be a required one, not the parent)."""
    folders = "; and ".join(
        f"set {model_path_variable(c)} to a folder of {c.model_name!r}'s files "
        f"(or place it as $VOICEBOX_MODELS_DIR/{c.model_name})" for c in missing)
    return (
        f"model {parent.model_name!r} is not downloaded and the network is off "
        f"(HF_HUB_OFFLINE/VOICEBOX_OFFLINE); run `voicebox models download {parent.model_name}` "
        f"while online, or {folders}"
    )


def _missing(config: ModelConfig) -> list[ModelConfig]:
    """The repositories of a model that are neither overridden nor cached, itself first."""
    own = config.requires if config.bundled else (config, *config.requires)
    return [c for c in own if _ready(c) is None]


def _ready(config: ModelConfig) -> Path | None:
    return local_override(config) or cached_snapshot(config)


def is_downloaded(config: ModelConfig) -> bool:
    """Whether the model and every repository it requires can be used without the network."""
    return not _missing(config)


def check_obtainable(config: ModelConfig) -> None:
    """Raise :class:`ModelNotDownloadedError` now if the model is missing and cannot be
    downloaded (offline), so a caller can refuse before starting any work."""
    if (missing := _missing(config)) and is_offline():
        raise ModelNotDownloadedError(_offline_message(config, missing))


def ensure_model(config: ModelConfig, progress: ProgressCallback | None = None) -> Path:
    """The directory holding the model's files, downloading them (and the repositories it
    ``requires``) first if needed and allowed. Progress counts bytes over all of them."""
    progress = progress or _listener.get()
    if missing := _missing(config):
        _download_all(config, missing, progress)
    if (path := _ready(config)) is not None:
        return path
    raise ModelNotDownloadedError(
        f"model {config.model_name!r} ships in a package that is not installed; "
        "reinstall the engine's distribution"
    )


def _download_all(parent: ModelConfig, missing: list[ModelConfig], progress: ProgressCallback | None) -> None:
    for config in missing:
        if config.bundled or not config.hf_repo_id:
            raise ModelNotDownloadedError(
                f"model {config.model_name!r} ships in a package that is not installed; "
                "reinstall the engine's distribution"
            )
    if is_offline():
        raise ModelNotDownloadedError(_offline_message(parent, missing))
    current = parent  # the repository being asked for, for a refusal's message
    try:
        plans = []
        for current in missing:
            plans.append((current, _plan(current)))
        total = sum(size for _, files in plans for _, size in files)
        done = 0

        def report(filename: str, delta: int) -> None:
            nonlocal done
            done += delta
            if progress is not None:
                progress(DownloadProgress(parent.model_name, filename, min(done, total), total))

        for current, files in plans:
            _fetch(current, files, report)
        if progress is not None:
            progress(DownloadProgress(parent.model_name, "", total, total))
    except VoiceboxError:  # not downloaded, cancelled: already says what happened
        raise
    except Exception as exc:  # noqa: BLE001 - every other hub/network failure means the same to a user
        if (refusal := _refused(exc)) is not None:
            raise ModelNotDownloadedError(
                f"Hugging Face refused {current.hf_repo_id} for model {parent.model_name!r} ({refusal}): accept "
                f"its licence at https://huggingface.co/{current.hf_repo_id} while logged in, log in here (`hf auth login` "
                f"or HF_TOKEN), then run `voicebox models download {parent.model_name}`"
            ) from exc
        raise ModelNotDownloadedError(
            f"downloading model {parent.model_name!r} from {parent.hf_repo_id} failed "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            f"check the network, or point {model_path_variable(parent)} at a local copy"
        ) from exc
    for config in missing:
        if cached_snapshot(config) is None:
            raise ModelNotDownloadedError(
                f"model {config.model_name!r} downloaded but its files {config.files} are incomplete"
            )


def _refused(exc: BaseException) -> str | None:
    """Why the Hub refused a repository (a gated one, or no login), or None for any other failure."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return {401: "not logged in, or no such repository",
            403: "a gated repository whose licence this account has not accepted"}.get(int(status or 0))


def _plan(config: ModelConfig) -> list[tuple[str, int]]:
    """The files to fetch and their sizes (model_info works on huggingface_hub 0.x to 2.x)."""
    import huggingface_hub

    info = huggingface_hub.HfApi().model_info(
        str(config.hf_repo_id), revision=config.revision, files_metadata=True, token=None)
    patterns = config.files or ("*",)
    return [(f.rfilename, int(f.size or 0)) for f in info.siblings or ()
            if any(fnmatch.fnmatch(f.rfilename, p) for p in patterns)]


_byte_listener: contextvars.ContextVar[Callable[[int], None] | None] = contextvars.ContextVar(
    "voicebox_download_bytes", default=None)


def _count_bytes_on_old_hub() -> None:
    """huggingface_hub < 1 has no ``tqdm_class`` on ``hf_hub_download``: its byte bar comes
    from ``huggingface_hub.utils.tqdm._get_progress_bar_context``, which may also disable it
    (a frozen app's log level: the seed's "progress stuck at 0%"). Swap in, once, a subclass
    that tells this thread's listener every update, disabled or not."""
    module = sys.modules.get("huggingface_hub.utils.tqdm")
    if module is None or getattr(module.tqdm, "_voicebox_counts", False):
        return
    original = module.tqdm

    class _Counting(original):  # type: ignore[misc, valid-type]
        _voicebox_counts = True

        def update(self, n: float | None = 1) -> bool | None:
            listener = _byte_listener.get()
            if listener is not None:
                listener(int(n or 0))
            return original.update(self, n)  # type: ignore[no-any-return]

    module.tqdm = _Counting


def _fetch(config: ModelConfig, files: list[tuple[str, int]], report: Callable[[str, int], None]) -> None:
    import huggingface_hub
    from huggingface_hub.utils import tqdm as hf_tqdm

    takes_class = "tqdm_class" in inspect.signature(huggingface_hub.hf_hub_download).parameters
    if not takes_class:
        _count_bytes_on_old_hub()
    for filename, _size in files:

        class _Bytes(hf_tqdm):  # type: ignore[misc, valid-type]
            def update(self, n: float | None = 1, _name: str = filename) -> bool | None:
                report(_name, int(n or 0))
                return super().update(n)  # type: ignore[no-any-return]

        extra = {"tqdm_class": _Bytes} if takes_class else {}
        token = _byte_listener.set(None if takes_class else (lambda n, _name=filename: report(_name, n)))
        try:
            huggingface_hub.hf_hub_download(
                str(config.hf_repo_id), filename, revision=config.revision,
                cache_dir=hf_cache_dir(), token=None, **extra,
            )
        finally:
            _byte_listener.reset(token)


def model_disk_bytes(config: ModelConfig) -> int:
    """Bytes the model's files take on disk (0 when not downloaded)."""
    return sum(_own_disk_bytes(c) for c in (config, *config.requires))


def _own_disk_bytes(config: ModelConfig) -> int:
    directory = _ready(config)
    if directory is None:
        return 0
    patterns = (*config.files, *config.on_demand_files) if config.files else ("*",)
    total = 0
    for path in directory.rglob("*"):
        rel = path.relative_to(directory).as_posix()
        if path.is_file() and any(fnmatch.fnmatch(rel, p) for p in patterns):
            total += path.stat().st_size  # follows the snapshot symlink to its blob
    return total


def delete_model(config: ModelConfig) -> bool:
    """Remove the model's cached files (only its own when it shares a repo). True if any existed.

    Repositories in ``requires`` stay: other models may share them (a codec, a tokenizer).
    """
    if not config.hf_repo_id:
        return False
    repo = _repo_dir(config)
    if not repo.is_dir():
        return False
    if not config.files:
        shutil.rmtree(repo)
        return True
    removed = False
    for snapshot in (repo / "snapshots").glob("*"):
        for path in list(snapshot.rglob("*")):
            rel = path.relative_to(snapshot).as_posix()
            own = (*config.files, *config.on_demand_files)
            if path.is_file() and any(fnmatch.fnmatch(rel, p) for p in own):
                blob = path.resolve()
                path.unlink()
                if blob != path and blob.is_file():
                    blob.unlink()
                removed = True
    return removed
