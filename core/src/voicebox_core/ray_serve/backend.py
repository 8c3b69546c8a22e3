"""The server side: a TTSBackend whose engine runs as a Ray Serve deployment.

:class:`RayBackend` is what ``Registry.backend(engine)`` returns for an engine deployed on Ray
(``voicebox serve --ray``). It speaks to the deployment through a Serve handle; Ray routes
each request to a replica. The Synthesizer, the server, the OpenAI, Voicebox and Wyoming faces
call it like any backend: a long text is chunked here and each chunk is one request, so a
stream's chunks leave as each is synthesised, spread over the replicas.

- Errors raised in a replica arrive as the same core error types (the isolation protocol's
  error form). A replica that dies mid-request (crash, ``kill -9``, its node lost) is retried
  once on another replica, then answered with :class:`EngineWorkerError` (503); a request
  unanswered after ``VOICEBOX_WORKER_TIMEOUT`` seconds is cancelled and answered the same way;
  Serve's back-pressure (``max_queued_requests``) is :class:`EngineBusyError` (503).
- A request whose client went away is cancelled in the replica too.
- Reference clips travel by content with each request that uses them (no storage is shared);
  a replica turns each clip into the engine's prompt once and keeps it.
- ``unload_model`` forgets the model here; replicas keep theirs (their memory is the
  cluster's, sized by the deployment's replicas), so this engine takes no place in the
  server's ``VOICEBOX_MAX_LOADED_MODELS``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from voicebox_core.errors import (
    EngineBusyError,
    EngineWorkerError,
    GenerationCancelledError,
    GenerationError,
)
from voicebox_core.isolation.proxy import request_timeout
from voicebox_core.ray_serve.config import DeploymentConfig
from voicebox_core.ray_serve.replica import LOAD_HEARTBEAT_S, clip_key

__all__ = ["RayBackend"]

log = logging.getLogger(__name__)

CLIPS_KEPT = 32
#: A load stream silent this long (several missed heartbeats) is taken as lost.
LOAD_SILENCE_S = 12 * LOAD_HEARTBEAT_S


class _ReplicaDied(Exception):
    pass


class RayBackend:
    """A TTSBackend for one engine's Ray Serve deployment."""

    #: Runs elsewhere: its memory is not this process's (the Synthesizer's LRU leaves it be).
    remote = True

    def __init__(self, engine: str, handle: Any, config: DeploymentConfig, app: str) -> None:
        self.engine = engine
        self.handle = handle
        self.config = config
        self.app = app
        #: Requests the deployment runs at once, at most: the server admits that many.
        self.concurrency = config.most_replicas * config.max_ongoing_requests
        #: What each replica said of itself in its last answer: {replica id: {pid, served, cancelled}}.
        self.replicas: dict[str, dict[str, int]] = {}
        self._model_size: str | None = None
        self._clips: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    # -- requests ----------------------------------------------------------------------------

    def _seen(self, answer: dict[str, Any]) -> None:
        if "replica" in answer:
            with self._lock:
                self.replicas[str(answer["replica"])] = {key: int(answer.get(key, 0))
                                                         for key in ("pid", "served", "cancelled")}

    def _answer(self, answer: dict[str, Any]) -> Any:
        from voicebox_core.isolation.protocol import error_from_wire

        self._seen(answer)
        if "error" in answer:
            raise error_from_wire(answer["error"], self.engine)
        return answer.get("result")

    def _ray_error(self, exc: BaseException, op: str) -> BaseException:
        """A Ray exception as the core error the server answers with."""
        from ray import exceptions as ray_errors
        from ray.serve import exceptions as serve_errors

        if isinstance(exc, serve_errors.BackPressureError):
            return EngineBusyError(f"engine {self.engine!r}: its Ray deployment {self.app} has "
                                   f"{self.config.max_queued_requests} requests queued; retry shortly")
        if isinstance(exc, (serve_errors.RequestCancelledError, ray_errors.TaskCancelledError)):
            return GenerationCancelledError("generation cancelled")
        if isinstance(exc, ray_errors.RayActorError):
            return _ReplicaDied(str(exc).splitlines()[0])
        if isinstance(exc, serve_errors.DeploymentUnavailableError) or "not found" in str(exc).lower():
            return EngineWorkerError(f"engine {self.engine!r}: its Ray deployment {self.app} is not "
                                     f"running ({str(exc).splitlines()[0]}); restart voicebox serve --ray")
        return GenerationError(f"engine {self.engine!r}: Ray failed during {op}: "
                               f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")

    async def _request(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """One request and its answer, retried once if the replica died under it."""
        died = ""
        for _attempt in range(2):
            response = self.handle.call.remote(op, args)
            try:
                return await asyncio.wait_for(_awaited(response), request_timeout())
            except asyncio.CancelledError:
                response.cancel()  # the client went away: the replica stops too
                raise
            except TimeoutError:
                response.cancel()
                raise EngineWorkerError(f"engine {self.engine!r}: its Ray deployment {self.app} did not "
                                        f"answer {op} within {request_timeout():.0f} s "
                                        "(VOICEBOX_WORKER_TIMEOUT); the request was cancelled") from None
            except Exception as exc:  # noqa: BLE001 - Ray's exceptions, mapped below
                mapped = self._ray_error(exc, op)
                if not isinstance(mapped, _ReplicaDied):
                    raise mapped from None
                died = str(mapped)
        raise EngineWorkerError(f"engine {self.engine!r}: its Ray replica died during {op} ({died}), "
                                "twice; Ray Serve starts replicas again, retry shortly")

    async def _call(self, op: str, args: dict[str, Any]) -> Any:
        return self._answer(await self._request(op, args))

    # -- clips by content ------------------------------------------------------------------------

    def _clip(self, path: str) -> dict[str, Any]:
        data = Path(path).read_bytes()
        key = clip_key(data)
        clip = {"data": data, "suffix": Path(path).suffix.lower() or ".wav"}
        with self._lock:
            self._clips[key] = clip
            self._clips.move_to_end(key)
            while len(self._clips) > CLIPS_KEPT:
                self._clips.popitem(last=False)
        return {"key": key, **clip}

    def _clips_of(self, prompt: Any) -> dict[str, dict[str, Any]]:
        if isinstance(prompt, dict) and prompt.get("voice_type") == "dialogue":
            found: dict[str, dict[str, Any]] = {}
            for speaker in prompt.get("speakers", ()):
                found.update(self._clips_of(speaker))
            return found
        if isinstance(prompt, dict) and prompt.get("voice_type") == "ray-clip":
            key = str(prompt["clip"])
            with self._lock:
                clip = self._clips.get(key)
            if clip is None:  # evicted here: read it again (a changed file is a new clip)
                clip = self._clip(str(prompt["path"]))
                if clip["key"] != key:
                    raise GenerationError(f"reference clip {prompt['path']} changed since its voice prompt "
                                          "was made; make the voice prompt again")
            return {key: {"data": clip["data"], "suffix": clip["suffix"]}}
        return {}

    # -- TTSBackend ----------------------------------------------------------------------------

    async def load_model(self, model_size: str = "default") -> None:
        """Load on a replica, relaying its download progress; every other replica loads the
        same model before its first request."""
        from voicebox_core.runtime.download import DownloadProgress, _listener

        listener = _listener.get()
        for attempt in range(2):
            stream = self.handle.options(stream=True).load.remote(model_size)
            # A replica's load stream speaks at least every LOAD_HEARTBEAT_S. A first one that
            # stays silent for LOAD_SILENCE_S was lost on its way (seen once in CI: the replica
            # loaded in half a second and nothing reached the server); a load is idempotent,
            # so it is asked once more, then waited for as long as any request.
            silence = min(LOAD_SILENCE_S, request_timeout()) if attempt == 0 else request_timeout()
            try:
                async for event in _bounded(stream, silence):
                    if "alive" in event:
                        continue
                    if "progress" in event:
                        if listener is not None:
                            listener(DownloadProgress(**event["progress"]))
                        continue
                    self._answer(event)
                    self._model_size = model_size
                    return
            except asyncio.CancelledError:
                stream.cancel()
                raise
            except TimeoutError:
                stream.cancel()
                if attempt == 0:
                    log.warning("engine %r: the load stream of %s went silent for %.0f s; asking again",
                                self.engine, self.app, silence)
                    continue
                raise EngineWorkerError(f"engine {self.engine!r}: its Ray deployment {self.app} did not "
                                        "finish loading within VOICEBOX_WORKER_TIMEOUT") from None
            except Exception as exc:  # noqa: BLE001 - Ray's exceptions, mapped
                mapped = self._ray_error(exc, "load_model")
                if not isinstance(mapped, _ReplicaDied):
                    raise mapped from None
        raise EngineWorkerError(f"engine {self.engine!r}: its Ray replica died while loading, twice; "
                                "retry shortly")

    def is_loaded(self) -> bool:
        return self._model_size is not None

    def unload_model(self) -> None:
        self._model_size = None

    def _size(self) -> str:
        return self._model_size or "default"

    async def create_voice_prompt(self, audio_path: str, reference_text: str,
                                  use_cache: bool = True) -> tuple[dict[str, Any], bool]:
        clip = self._clip(audio_path)
        result = await self._call("create_voice_prompt", {
            "model_size": self._size(), "use_cache": use_cache,
            "clip": {"data": clip["data"], "suffix": clip["suffix"], "text": reference_text}})
        prompt = {"voice_type": "ray-clip", "clip": clip["key"], "text": reference_text, "path": str(audio_path)}
        return prompt, bool(result["cached"])

    async def combine_voice_prompts(self, audio_paths: list[str], ref_texts: list[str]) -> tuple[Any, str]:
        clips = [{k: v for k, v in self._clip(p).items() if k != "key"} for p in audio_paths]
        result = await self._call("combine_voice_prompts", {"model_size": self._size(), "clips": clips,
                                                            "ref_texts": list(ref_texts)})
        return result["audio"], str(result["text"])

    async def generate(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                       seed: int | None = None, instruct: str | None = None) -> tuple[Any, int]:
        args = {"model_size": self._size(), "text": text, "voice_prompt": voice_prompt, "language": language,
                "seed": seed, "instruct": instruct, "clips": self._clips_of(voice_prompt)}
        result = await self._call("generate", args)
        return result["audio"], int(result["sample_rate"])

    async def generate_stream(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                              seed: int | None = None, instruct: str | None = None) -> AsyncIterator[Any]:
        """A streaming engine's chunks as its replica yields them (a Ray Serve stream); closing
        this iterator cancels the stream, which closes the engine's generator on the replica.
        A replica that dies mid-stream is replaced once, as ``generate`` is retried: the other
        replica speaks the text again and what was already sent is skipped (an engine without
        a seed says it slightly differently there, but the listener hears the whole text)."""
        args = {"model_size": self._size(), "text": text, "voice_prompt": voice_prompt, "language": language,
                "seed": seed, "instruct": instruct, "clips": self._clips_of(voice_prompt)}
        sent, died = 0, ""
        for _attempt in range(2):
            stream = self.handle.options(stream=True).frames.remote(args)
            finished, skip = False, sent
            try:
                async for event in _bounded(stream, request_timeout()):
                    if "frame" not in event:
                        finished = True
                        self._answer(event)
                        return
                    frame = event["frame"]
                    if skip:
                        cut = min(skip, len(frame))
                        frame, skip = frame[cut:], skip - cut
                    if len(frame):
                        sent += len(frame)
                        yield frame
                raise EngineWorkerError(f"engine {self.engine!r}: its Ray deployment {self.app} ended a stream "
                                        "without its answer")
            except TimeoutError:
                raise EngineWorkerError(f"engine {self.engine!r}: its Ray deployment {self.app} sent no audio "
                                        f"within {request_timeout():.0f} s (VOICEBOX_WORKER_TIMEOUT)") from None
            except (asyncio.CancelledError, GeneratorExit, EngineWorkerError):
                raise
            except Exception as exc:  # noqa: BLE001 - Ray's exceptions, mapped
                mapped = self._ray_error(exc, "generate_stream")
                if not isinstance(mapped, _ReplicaDied):
                    raise mapped from None
                died = str(mapped)
            finally:
                if not finished:
                    stream.cancel()
        raise EngineWorkerError(f"engine {self.engine!r}: its Ray replica died during a stream ({died}), twice; "
                                "Ray Serve starts replicas again, retry shortly")

    def _get_model_path(self, model_size: str) -> str:
        """Where a replica finds the model (a path on the replica's machine)."""
        async def ask() -> str:
            return str(await self._call("get_model_path", {"model_size": model_size}))

        return asyncio.run(ask())

    # -- what the server shows ----------------------------------------------------------------

    def lives(self) -> dict[str, Any]:
        config = self.config
        with self._lock:
            seen = {k: dict(v) for k, v in self.replicas.items()}
        return {"mode": "ray", "application": self.app, "replicas": config.num_replicas,
                "autoscaling": config.autoscaling, "num_cpus": config.num_cpus, "num_gpus": config.num_gpus,
                "max_ongoing_requests": config.max_ongoing_requests, "seen": seen}


async def _awaited(response: Any) -> Any:
    return await response


async def _bounded(stream: Any, timeout: float) -> Any:
    """The stream's items; TimeoutError when one takes longer than ``timeout`` seconds."""
    iterator = stream.__aiter__()
    while True:
        try:
            item = await asyncio.wait_for(iterator.__anext__(), timeout)
        except StopAsyncIteration:
            return
        yield item
