"""The host <-> worker protocol of isolated engines, version 1.

Transport: :mod:`multiprocessing.connection` (standard library, so present in every
environment at every version): the host listens on a fresh local socket (a Unix socket, a
named pipe on Windows) and the worker connects with a random key the host passed in its
environment; the library frames every message (length prefix) and authenticates the peer
(HMAC challenge). It is the well-kept framing both ends already have, and it carries bytes
without a base64 detour. Pickle is never used: ``send_bytes``/``recv_bytes`` carry our own
encoding, so a worker with other library versions cannot hand the host an object to run.

A message is one JSON frame (the header), then ``header["frames"]`` raw frames. Arrays in
a header are ``{"__ndarray__": i, "dtype": "<f4", "shape": [n]}``, naming raw frame ``i``.

Worker -> host, once at start::

    {"op": "hello", "protocol": 1, "ok": true, "engine": "myengine", "pid": 4242}
    {"op": "hello", "protocol": 1, "ok": false, "error": ERROR}

Host -> worker (``id`` chosen by the host, unique per connection)::

    {"id": 7, "op": "load_model", "args": {"model_size": "default"}}
    {"id": 8, "op": "create_voice_prompt", "args": {"audio_path": P, "reference_text": T, "use_cache": true}}
    {"id": 9, "op": "combine_voice_prompts", "args": {"audio_paths": [P...], "ref_texts": [T...]}}
    {"id": 10, "op": "generate", "args": {"text": T, "voice_prompt": PROMPT, "language": "en",
                                          "seed": 1, "instruct": null}}
    {"id": 11, "op": "unload_model"} / "is_loaded" / {"op": "get_model_path", "args": {"model_size": S}}
    {"id": 12, "op": "cancel", "args": {"target": 10}}     (no answer; the target answers cancelled)
    {"id": 13, "op": "shutdown"}                           (answered, then the worker exits)

Worker -> host, for a request::

    {"id": 7, "event": "progress", "progress": {"model_name": M, "filename": F, "downloaded": 1, "total": 9}}
    {"id": 7, "result": VALUE, "frames": n}
    {"id": 7, "error": ERROR}

``ERROR`` is ``{"type", "module", "message", "bases", "attrs"}``: the exception's class, its
module, ``str(exc)``, the names of the ``voicebox_core.errors`` classes it derives from, and
its JSON-able attributes. The host raises the same core error type (an engine's own subclass
of ``UnsupportedLanguageError`` arrives as ``UnsupportedLanguageError``).

Voice prompts stay in the worker: ``create_voice_prompt`` answers
``{"prompt": {"voice_type": "isolated", "handle": "<pid>:<n>"}, "cached": bool}`` and
``generate`` takes that dict back (preset and designed prompts, plain JSON, travel as they
are). A handle of an earlier worker process is refused, and the core asks again.
"""

from __future__ import annotations

import builtins
import json
import threading
from typing import Any

import voicebox_core.errors as errors

PROTOCOL_VERSION = 1

__all__ = ["PROTOCOL_VERSION", "decode_arrays", "encode_arrays", "error_from_wire", "error_to_wire",
           "receive", "send"]


def send(conn: Any, lock: threading.Lock, header: dict[str, Any], frames: list[bytes] | None = None) -> None:
    """Send one message; the lock keeps a header and its frames together."""
    frames = frames or []
    if frames:
        header = {**header, "frames": len(frames)}
    data = json.dumps(header, separators=(",", ":")).encode("utf-8")
    with lock:
        conn.send_bytes(data)
        for frame in frames:
            conn.send_bytes(frame)


def receive(conn: Any) -> tuple[dict[str, Any], list[bytes]]:
    """One message: its header and raw frames (only one thread may receive)."""
    header: dict[str, Any] = json.loads(conn.recv_bytes())
    frames = [conn.recv_bytes() for _ in range(int(header.get("frames", 0)))]
    return header, frames


def encode_arrays(value: Any, frames: list[bytes]) -> Any:
    """``value`` with every numpy array replaced by a reference to a raw frame."""
    import numpy as np

    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        frames.append(array.tobytes())
        return {"__ndarray__": len(frames) - 1, "dtype": array.dtype.str, "shape": list(array.shape)}
    if isinstance(value, dict):
        return {str(k): encode_arrays(v, frames) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_arrays(v, frames) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode_arrays(value: Any, frames: list[bytes]) -> Any:
    import numpy as np

    if isinstance(value, dict):
        if "__ndarray__" in value:
            raw = frames[int(value["__ndarray__"])]
            return np.frombuffer(raw, dtype=np.dtype(value["dtype"])).reshape(value["shape"]).copy()
        return {k: decode_arrays(v, frames) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_arrays(v, frames) for v in value]
    return value


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def error_to_wire(exc: BaseException) -> dict[str, Any]:
    cls = type(exc)
    bases = [c.__name__ for c in cls.__mro__
             if c.__module__ == errors.__name__ and issubclass(c, errors.VoiceboxError)]
    attrs = {k: v for k, v in vars(exc).items() if k != "message" and _jsonable(v)}
    return {"type": cls.__name__, "module": cls.__module__, "message": str(exc), "bases": bases,
            "attrs": attrs}


def error_from_wire(error: dict[str, Any], engine: str) -> BaseException:
    """The exception to raise in the host: the same core error type where there is one, the
    same built-in type for a built-in, else the worker's error named in a GenerationError."""
    message = str(error.get("message", ""))
    for name in error.get("bases") or ():
        cls = getattr(errors, name, None)
        if isinstance(cls, type) and issubclass(cls, errors.VoiceboxError):
            exc = cls.__new__(cls)
            errors.VoiceboxError.__init__(exc, message)
            exc.__dict__.update(error.get("attrs") or {})
            return exc
    if error.get("module") == "builtins":
        cls = getattr(builtins, str(error.get("type")), None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            try:
                return cls(message)
            except Exception:  # noqa: BLE001 - a built-in with other arguments: fall through
                pass
    return errors.GenerationError(f"engine {engine!r} failed in its isolated worker: "
                                  f"{error.get('module')}.{error.get('type')}: {message}")
