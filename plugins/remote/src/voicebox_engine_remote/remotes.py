"""The configured remote servers: one JSON file in the data dir, read at discovery (no network).

``voicebox engines add-remote`` writes it (atomically); ``plugin.py`` turns each entry into an
engine. It holds the NAME of the environment variable with a server's API key, never the key.
Only the standard library here: discovery imports this module.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from voicebox_core.runtime.paths import data_dir

__all__ = [
    "CONFIG_FILE",
    "ENGINE_NAME",
    "PCM_RATE",
    "Remote",
    "RemoteModel",
    "RemoteVoice",
    "config_path",
    "load",
    "model_name_of",
    "public_url",
    "save",
]

CONFIG_FILE = "remote-engines.json"
#: OpenAI's raw PCM (``response_format: "pcm"``): 24 kHz, 16-bit, mono. Every remote model
#: is asked for it, so each declares this one rate.
PCM_RATE = 24000
#: An engine name, as voicebox_core.config validates it.
ENGINE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_MODEL_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RemoteModel:
    """A model the remote serves: its own id, and the languages it is offered for here."""

    id: str
    languages: tuple[str, ...] = ("en",)


@dataclass(frozen=True)
class RemoteVoice:
    id: str
    name: str = ""
    language: str = "en"
    gender: str = ""
    #: Ids of the remote models it speaks with; empty: all of them.
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class Remote:
    """One remote server, an engine named ``name`` here."""

    name: str
    url: str
    models: tuple[RemoteModel, ...]
    voices: tuple[RemoteVoice, ...]
    api_key_env: str | None = None
    #: Seconds a request may take (connect at most 10 of them).
    timeout: float = 120.0
    #: Extra tries when the connection fails before any answer (never after one).
    retries: int = 2

    @property
    def public_url(self) -> str:
        return public_url(self.url)

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "api_key_env": self.api_key_env, "timeout": self.timeout,
                "retries": self.retries,
                "models": [{"id": m.id, "languages": list(m.languages)} for m in self.models],
                "voices": [{"id": v.id, "name": v.name, "language": v.language, "gender": v.gender,
                            "models": list(v.models)} for v in self.voices]}

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> Remote:
        return cls(
            name=name, url=str(data["url"]), api_key_env=data.get("api_key_env") or None,
            timeout=float(data.get("timeout", 120.0)), retries=int(data.get("retries", 2)),
            models=tuple(RemoteModel(str(m["id"]), tuple(m.get("languages") or ("en",))) for m in data["models"]),
            voices=tuple(RemoteVoice(str(v["id"]), str(v.get("name") or v["id"]), str(v.get("language") or "en"),
                                     str(v.get("gender") or ""), tuple(v.get("models") or ()))
                         for v in data["voices"]))


def public_url(url: str) -> str:
    """``url`` without user name or password: what messages and listings show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def model_name_of(engine: str, remote_id: str) -> str:
    """This side's model name of a remote model: ``ENGINE-ID``, other characters as ``-``, at
    most 64 (a long id keeps a hash of itself, so two never meet)."""
    name = f"{engine}-{_MODEL_CHARS.sub('-', remote_id).strip('-.')}"
    if len(name) > 64:
        import hashlib  # openssl: a few ms that discovery spends only on a long id

        name = f"{name[:55]}-{hashlib.sha1(remote_id.encode()).hexdigest()[:8]}"
    return name


def config_path() -> Path:
    return data_dir() / CONFIG_FILE


def load(path: Path | None = None) -> dict[str, Remote]:
    """Every configured remote by engine name; none when the file does not exist. A file that
    cannot be read raises ValueError saying which file and how to fix it."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text)
        return {name: Remote.from_dict(name, entry) for name, entry in data["engines"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not a remote-engine configuration ({type(exc).__name__}: {exc}); "
                         "fix it, or delete it and add the servers again (voicebox engines add-remote)") from None


def save(remotes: dict[str, Remote], path: Path | None = None) -> Path:
    """Write every remote at once: a temporary file renamed over the old one, so a reader (a
    starting server) sees the old file or the new one, never half of one."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    data = {"version": 1, "engines": {name: r.as_dict() for name, r in sorted(remotes.items())}}
    partial.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path
