"""Voice-prompt cache: memory first, then disk, keys always prefixed with the engine name."""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import threading
from pathlib import Path
from typing import Any

from voicebox_core.runtime.paths import data_dir

__all__ = ["VoicePromptCache", "prompt_cache"]


class VoicePromptCache:
    """Maps ``<engine>_<md5(audio bytes + reference text)>`` to a voice prompt."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._memory: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def directory(self) -> Path:
        return self._directory or data_dir() / "cache" / "voice_prompts"

    @staticmethod
    def key(engine: str, audio_path: str | os.PathLike[str], reference_text: str) -> str:
        digest = hashlib.md5(Path(audio_path).read_bytes())
        digest.update(reference_text.encode("utf-8"))
        return f"{engine}_{digest.hexdigest()}"

    def keys(self) -> list[str]:
        with self._lock:
            on_disk = {p.stem for p in self.directory.glob("*.prompt")} if self.directory.is_dir() else set()
            return sorted(set(self._memory) | on_disk)

    def get(self, key: str) -> Any | None:
        with self._lock:
            if key in self._memory:
                return self._memory[key]
        path = self.directory / f"{key}.prompt"
        if not path.is_file():
            return None
        try:
            value = pickle.loads(path.read_bytes())
        except Exception:  # noqa: BLE001 - a corrupt entry is a miss, never a crash
            path.unlink(missing_ok=True)
            return None
        with self._lock:
            self._memory[key] = value
        return value

    def put(self, key: str, value: Any, *, persist: bool = True) -> None:
        with self._lock:
            self._memory[key] = value
        if not persist:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".part", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.directory / f"{key}.prompt")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def clear(self, engine: str | None = None) -> None:
        prefix = f"{engine}_" if engine else ""
        with self._lock:
            for key in [k for k in self._memory if k.startswith(prefix)]:
                del self._memory[key]
        if self.directory.is_dir():
            for path in self.directory.glob(f"{prefix}*.prompt"):
                path.unlink(missing_ok=True)


#: The process-wide cache every backend shares.
prompt_cache = VoicePromptCache()
