"""The replica side: one engine's backend inside a Ray Serve replica.

Ray builds :class:`EngineReplica` in each replica process, from the engine's plugin in the
replica's own Python environment (see :mod:`voicebox_core.ray_serve.deploy` for which one).
Requests arrive through a deployment handle as :meth:`EngineReplica.call` (one answer) or
:meth:`EngineReplica.load` (a stream: download progress, then the answer). Answers are plain
data: ``{"result": ...}`` or ``{"error": ERROR}`` (the isolation protocol's error form, so the
host raises the same core error type), with the replica's id, process and request count.

Reference clips arrive by content: a cloned voice's prompt is ``{"voice_type": "ray-clip",
"clip": SHA256, "text": T, ...}`` and the request carries the clip's bytes; each replica turns
a clip into the engine's prompt once and keeps the last :data:`PROMPTS_KEPT`. A replica needs
no storage shared with the server, and any replica can serve any request.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

__all__ = ["LOAD_HEARTBEAT_S", "PROMPTS_KEPT", "EngineReplica", "clip_key"]

PROMPTS_KEPT = 32
#: How often a load stream says it is alive when it has no download progress to send.
LOAD_HEARTBEAT_S = 5.0


def clip_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class EngineReplica:
    """A Ray Serve deployment class: one engine, built from its installed plugin."""

    def __init__(self, engine: str, core_version: str) -> None:
        os.environ["VOICEBOX_WORKER"] = "1"  # this process's discovery must not look for isolated envs
        from voicebox_core import __version__
        from voicebox_core.errors import ContractError
        from voicebox_core.registry import Registry

        if __version__ != core_version:
            raise ContractError(f"this replica has voicebox-core {__version__}, the server {core_version}; "
                                "install the same version in the engine's environment")
        registry = Registry.discover(strict=False, isolated=False)
        if engine not in {e.name for e in registry.engines}:
            reasons = "; ".join(f"{f.name}: {f.stage} failed: {f.error.splitlines()[0] if f.error else ''}"
                                for f in registry.failures)
            raise ContractError(f"engine {engine!r} is not installed in this replica's environment"
                                + (f" ({reasons})" if reasons else ""))
        self.engine = engine
        self.backend = registry.backend(engine)  # imports the model library now, not at the first request
        self.model_size: str | None = None
        self.served = 0
        self.cancelled = 0
        self.prompts: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self.clips = Path(tempfile.mkdtemp(prefix=f"voicebox-{engine}-clips-"))
        self._load_lock = asyncio.Lock()

    # -- answers ---------------------------------------------------------------------------

    def _identity(self) -> dict[str, Any]:
        try:
            from ray import serve

            replica = serve.get_replica_context().replica_id.unique_id
        except Exception:  # noqa: BLE001 - outside Serve (tests of this class alone)
            replica = f"pid-{os.getpid()}"
        return {"replica": replica, "pid": os.getpid(), "served": self.served, "cancelled": self.cancelled}

    def _error(self, exc: BaseException) -> dict[str, Any]:
        from voicebox_core.isolation.protocol import error_to_wire

        return {"error": error_to_wire(exc), **self._identity()}

    async def call(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """One request; every failure is the answer, never a Ray exception."""
        from voicebox_core.errors import GenerationCancelledError, InvalidRequestError
        from voicebox_core.worker import _as_array

        self.served += 1
        try:
            if op == "generate":
                await self._ensure(str(args["model_size"]))
                prompt = await self._resolve(args["voice_prompt"], args.get("clips") or {})
                audio, rate = await self.backend.generate(str(args["text"]), prompt, args.get("language", "en"),
                                                          args.get("seed"), args.get("instruct"))
                result: Any = {"audio": _as_array(audio), "sample_rate": int(rate)}
            elif op == "create_voice_prompt":
                await self._ensure(str(args["model_size"]))
                result = await self._prompt(args["clip"], bool(args.get("use_cache", True)))
            elif op == "combine_voice_prompts":
                await self._ensure(str(args["model_size"]))
                paths = [str(self._clip_file(clip)) for clip in args["clips"]]
                audio, text = await self.backend.combine_voice_prompts(paths, list(args["ref_texts"]))
                result = {"audio": _as_array(audio), "text": str(text)}
            elif op == "get_model_path":
                result = str(await asyncio.to_thread(self.backend._get_model_path, str(args["model_size"])))
            elif op == "identity":
                result = None
            else:
                raise InvalidRequestError(f"unknown replica operation {op!r}")
        except asyncio.CancelledError:
            self.cancelled += 1
            return self._error(GenerationCancelledError("generation cancelled"))
        except BaseException as exc:  # noqa: BLE001 - reported to the server as the same type
            return self._error(exc)
        return {"result": result, **self._identity()}

    async def load(self, model_size: str) -> AsyncIterator[dict[str, Any]]:
        """Load the model, streaming download progress (at most ten events a second)."""
        from dataclasses import asdict

        from voicebox_core.runtime.download import download_progress, throttled

        self.served += 1
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        def forward(progress: Any) -> None:
            loop.call_soon_threadsafe(events.put_nowait, {"progress": asdict(progress)})

        async def run() -> dict[str, Any]:
            try:
                with download_progress(throttled(forward)):
                    await self._ensure(model_size)
            except BaseException as exc:  # noqa: BLE001 - the stream's last event
                return self._error(exc)
            return {"result": None, **self._identity()}

        task = asyncio.create_task(run())
        try:
            while not task.done() or not events.empty():
                getter = asyncio.ensure_future(events.get())
                done, _ = await asyncio.wait({getter, task}, timeout=LOAD_HEARTBEAT_S,
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield getter.result()
                    continue
                getter.cancel()
                if not done:  # a load with no download to report still says it is under way
                    yield {"alive": True}
            yield task.result()
        finally:
            if not task.done():
                task.cancel()

    async def frames(self, args: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """``generate_stream`` of a streaming engine: each chunk an event as the engine yields
        it, then the answer (or the error). The server cancelling the stream closes the
        engine's generator."""
        from voicebox_core.worker import _as_array

        self.served += 1
        count, stream = 0, None
        try:
            await self._ensure(str(args["model_size"]))
            prompt = await self._resolve(args["voice_prompt"], args.get("clips") or {})
            stream = self.backend.generate_stream(str(args["text"]), prompt, args.get("language", "en"),
                                                  args.get("seed"), args.get("instruct"))
            async for chunk in stream:
                count += 1
                yield {"frame": _as_array(chunk)}
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        except Exception as exc:  # noqa: BLE001 - the stream's last event, the same type on the server
            yield self._error(exc)
            return
        finally:
            closing = getattr(stream, "aclose", None)
            if closing is not None:
                await closing()
        yield {"result": {"frames": count}, **self._identity()}

    # -- model and prompts -------------------------------------------------------------------

    async def _ensure(self, model_size: str) -> None:
        """This replica has the model the server loaded (a new or restarted replica loads it)."""
        async with self._load_lock:
            if self.model_size == model_size and self.backend.is_loaded():
                return
            if self.model_size not in (None, model_size):
                self.prompts.clear()  # prompts belong to the model that made them
            await self.backend.load_model(model_size)
            self.model_size = model_size

    def _clip_file(self, clip: dict[str, Any]) -> Path:
        data = bytes(clip["data"])
        key = clip_key(data)
        suffix = str(clip.get("suffix") or ".wav")
        if not suffix.startswith(".") or "/" in suffix or len(suffix) > 8:
            suffix = ".wav"
        path = self.clips / f"{key}{suffix}"
        if not path.exists():
            partial = path.with_suffix(path.suffix + ".part")
            partial.write_bytes(data)
            partial.replace(path)
        return path

    async def _prompt(self, clip: dict[str, Any], use_cache: bool) -> dict[str, Any]:
        key = (clip_key(bytes(clip["data"])), str(clip["text"]))
        cached = key in self.prompts
        if not cached or not use_cache:
            prompt, engine_cached = await self.backend.create_voice_prompt(
                str(self._clip_file(clip)), key[1], use_cache)
            self.prompts[key] = prompt
            cached = cached or bool(engine_cached)
        self.prompts.move_to_end(key)
        while len(self.prompts) > PROMPTS_KEPT:
            self.prompts.popitem(last=False)
        return {"cached": cached}

    async def _resolve(self, prompt: Any, clips: dict[str, dict[str, Any]]) -> Any:
        from voicebox_core.errors import GenerationError

        if isinstance(prompt, dict) and prompt.get("voice_type") == "dialogue":
            return {**prompt, "speakers": [await self._resolve(p, clips) for p in prompt.get("speakers", ())]}
        if isinstance(prompt, dict) and prompt.get("voice_type") == "ray-clip":
            key = (str(prompt["clip"]), str(prompt.get("text", "")))
            if key not in self.prompts:
                clip = clips.get(key[0])
                if clip is None:
                    raise GenerationError(f"reference clip {key[0][:12]} did not come with the request")
                await self._prompt({**clip, "text": key[1]}, True)
            self.prompts.move_to_end(key)
            return self.prompts[key]
        return prompt
