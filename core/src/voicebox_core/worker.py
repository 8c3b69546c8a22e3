"""The worker side of an isolated engine, run with the environment's own Python.

    python -m voicebox_core.worker describe        the environment's plugins as JSON (one line)
    python -m voicebox_core.worker upstream DIST   DIST's ``upstream`` extra (installed --no-deps)
    python -m voicebox_core.worker serve ENGINE    one engine's backend, over the protocol of
                                                   voicebox_core.isolation.protocol

``serve`` is started by the host (voicebox_core.isolation.proxy) with the socket address and
key in ``VOICEBOX_WORKER_ADDRESS`` / ``VOICEBOX_WORKER_KEY`` and the host's process id in
``VOICEBOX_WORKER_PARENT``. It exits when the host closes the connection, when the host
process is gone, or on ``shutdown``; nothing of it outlives the server.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import threading
import time
from collections import OrderedDict
from typing import Any

__all__ = ["describe", "main", "upstream_requirements"]

#: Libraries whose versions ``engines list`` shows for an isolated environment.
KEY_LIBRARIES = ("torch", "transformers", "huggingface_hub", "numpy", "onnxruntime", "diffusers",
                 "accelerate", "tokenizers")
PROMPTS_KEPT = 32


def key_versions() -> dict[str, str]:
    import importlib_metadata

    found = {}
    for name in KEY_LIBRARIES:
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return found


def describe() -> dict[str, Any]:
    """Everything the host needs to list this environment's engines without importing it."""
    from dataclasses import asdict

    from voicebox_core import __version__
    from voicebox_core.doctor import requirement_problems
    from voicebox_core.isolation.metadata import engine_to_dict
    from voicebox_core.isolation.protocol import PROTOCOL_VERSION
    from voicebox_core.registry import Registry

    registry = Registry.discover(strict=False, isolated=False)
    plugins = []
    for plugin in registry.plugins:
        plugins.append({
            "name": plugin.name, "distribution": plugin.distribution, "version": plugin.version,
            "load_seconds": plugin.load_seconds, "heavy_imports": list(plugin.heavy_imports),
            "engines": [engine_to_dict(registry.engine(e)) for e in plugin.engines],
            "requirement_problems": [{"text": str(p), "fix": p.fix}
                                     for p in requirement_problems(plugin.distribution)],
        })
    return {"protocol": PROTOCOL_VERSION, "core": __version__, "python": sys.version.split()[0],
            "executable": sys.executable, "versions": key_versions(), "plugins": plugins,
            "failures": [asdict(f) for f in registry.failures]}


def upstream_requirements(distribution: str) -> list[str]:
    """The requirements of ``distribution``'s ``upstream`` extra, markers stripped: the
    packages its author says to install with ``--no-deps`` (their own pins are wrong)."""
    import importlib_metadata
    from packaging.requirements import Requirement

    found = []
    for text in importlib_metadata.distribution(distribution).requires or ():
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is None or not marker.evaluate({"extra": "upstream"}) or marker.evaluate({"extra": ""}):
            continue
        requirement.marker = None
        found.append(str(requirement))
    return found


# -- serve ------------------------------------------------------------------------------


class _Worker:
    def __init__(self, conn: Any, engine: str) -> None:
        self.conn = conn
        self.engine = engine
        self.lock = threading.Lock()
        self.backend: Any = None
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.prompts: OrderedDict[str, Any] = OrderedDict()
        self.counter = itertools.count(1)

    def send(self, header: dict[str, Any], frames: list[bytes] | None = None) -> None:
        from voicebox_core.isolation.protocol import send

        send(self.conn, self.lock, header, frames)

    def start(self) -> bool:
        from voicebox_core.errors import ContractError
        from voicebox_core.isolation.protocol import PROTOCOL_VERSION, error_to_wire
        from voicebox_core.registry import Registry

        hello: dict[str, Any] = {"op": "hello", "protocol": PROTOCOL_VERSION, "engine": self.engine,
                                 "pid": os.getpid()}
        try:
            registry = Registry.discover(strict=False, isolated=False)
            if self.engine not in {e.name for e in registry.engines}:
                reasons = "; ".join(f"{f.name} ({f.distribution} {f.version}): {f.stage} failed: "
                                    f"{f.error.splitlines()[0] if f.error else ''}" for f in registry.failures)
                raise ContractError(f"engine {self.engine!r} is not registered in this environment"
                                    + (f"; {reasons}" if reasons else ""))
            # Building the backend imports its module (the model library) here, at start:
            # an import failure is the worker's hello, not the first request's surprise.
            self.backend = registry.backend(self.engine)
        except BaseException as exc:  # noqa: BLE001 - reported to the host, then exit
            self.send({**hello, "ok": False, "error": error_to_wire(exc)})
            return False
        self.send({**hello, "ok": True})
        return True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[tuple[dict[str, Any], list[bytes]]] = asyncio.Queue()

        def read() -> None:
            from voicebox_core.isolation.protocol import receive

            while True:
                try:
                    message = receive(self.conn)
                except (EOFError, OSError):
                    os._exit(0)  # the host is gone: nothing here may outlive it
                loop.call_soon_threadsafe(inbox.put_nowait, message)

        threading.Thread(target=read, name="voicebox-worker-reader", daemon=True).start()
        while True:
            header, frames = await inbox.get()
            op = header.get("op")
            if op == "cancel":
                task = self.tasks.get(int(header.get("args", {}).get("target", -1)))
                if task is not None:
                    task.cancel()
                continue
            if op == "shutdown":
                for task in self.tasks.values():
                    task.cancel()
                await asyncio.to_thread(self._unload)
                self.send({"id": header.get("id"), "result": None})
                # Now, not after asyncio.run's wait for a cancelled generation's thread.
                os._exit(0)
            rid = int(header["id"])
            task = asyncio.create_task(self.handle(rid, op, header.get("args") or {}, frames))
            self.tasks[rid] = task
            task.add_done_callback(lambda _t, rid=rid: self.tasks.pop(rid, None))

    def _unload(self) -> None:
        if self.backend is not None and self.backend.is_loaded():
            self.backend.unload_model()

    async def handle(self, rid: int, op: str | None, args: dict[str, Any], frames: list[bytes]) -> None:
        from voicebox_core.errors import GenerationCancelledError, InvalidRequestError
        from voicebox_core.isolation.protocol import decode_arrays, encode_arrays, error_to_wire

        try:
            result: Any
            out: list[bytes] = []
            if op == "load_model":
                result = await self.load_model(rid, str(args.get("model_size", "default")))
            elif op == "unload_model":
                await asyncio.to_thread(self._unload)
                result = None
            elif op == "is_loaded":
                result = bool(self.backend.is_loaded())
            elif op == "get_model_path":
                result = str(await asyncio.to_thread(self.backend._get_model_path, str(args["model_size"])))
            elif op == "create_voice_prompt":
                prompt, cached = await self.backend.create_voice_prompt(
                    str(args["audio_path"]), str(args["reference_text"]), bool(args.get("use_cache", True)))
                result = {"prompt": self.keep(prompt), "cached": bool(cached)}
            elif op == "combine_voice_prompts":
                audio, text = await self.backend.combine_voice_prompts(list(args["audio_paths"]),
                                                                       list(args["ref_texts"]))
                result = encode_arrays({"audio": _as_array(audio), "text": str(text)}, out)
            elif op == "generate_stream":
                result = await self.generate_stream(rid, args, frames)
            elif op == "generate":
                prompt = self.resolve(decode_arrays(args["voice_prompt"], frames))
                audio, rate = await self.backend.generate(str(args["text"]), prompt, args.get("language", "en"),
                                                          args.get("seed"), args.get("instruct"))
                result = encode_arrays({"audio": _as_array(audio), "sample_rate": int(rate)}, out)
            else:
                raise InvalidRequestError(f"unknown worker operation {op!r}")
            self.send({"id": rid, "result": result}, out)
        except asyncio.CancelledError:
            self.send({"id": rid, "error": error_to_wire(GenerationCancelledError("generation cancelled"))})
        except BaseException as exc:  # noqa: BLE001 - every failure is the request's answer
            self.send({"id": rid, "error": error_to_wire(exc)})

    async def generate_stream(self, rid: int, args: dict[str, Any], frames: list[bytes]) -> dict[str, int]:
        """Each chunk the engine yields goes to the host at once (an event of the request); the
        answer counts them. A cancel from the host closes the engine's generator. ``timed``:
        ``generate_timed``'s chunks, with their words."""
        from voicebox_core.isolation.protocol import decode_arrays, encode_arrays

        from voicebox_core.timing import words_to_json

        prompt = self.resolve(decode_arrays(args["voice_prompt"], frames))
        timed = bool(args.get("timed"))
        method = self.backend.generate_timed if timed else self.backend.generate_stream
        stream = method(str(args["text"]), prompt, args.get("language", "en"), args.get("seed"), args.get("instruct"))
        count = 0
        try:
            async for chunk in stream:
                out: list[bytes] = []
                frame = ({"audio": _as_array(chunk.audio), "words": words_to_json(chunk.words)} if timed
                         else {"audio": _as_array(chunk)})
                self.send({"id": rid, "event": "frame", "frame": encode_arrays(frame, out)}, out)
                count += 1
        finally:
            closing = getattr(stream, "aclose", None)
            if closing is not None:
                await closing()
        return {"frames": count}

    async def load_model(self, rid: int, model_size: str) -> None:
        from dataclasses import asdict

        from voicebox_core.runtime.download import download_progress, throttled

        def forward(progress: Any) -> None:
            self.send({"id": rid, "event": "progress", "progress": asdict(progress)})

        with download_progress(throttled(forward)):
            await self.backend.load_model(model_size)

    def keep(self, prompt: Any) -> dict[str, Any]:
        handle = f"{os.getpid()}:{next(self.counter)}"
        self.prompts[handle] = prompt
        while len(self.prompts) > PROMPTS_KEPT:
            self.prompts.popitem(last=False)
        return {"voice_type": "isolated", "handle": handle}

    def resolve(self, prompt: Any) -> Any:
        from voicebox_core.errors import GenerationError

        if isinstance(prompt, dict) and prompt.get("voice_type") == "dialogue":
            return {**prompt, "speakers": [self.resolve(p) for p in prompt.get("speakers", ())]}
        if isinstance(prompt, dict) and prompt.get("voice_type") == "isolated":
            handle = str(prompt.get("handle"))
            if handle not in self.prompts:
                raise GenerationError(f"voice prompt {handle} is not held by this worker (it restarted, "
                                      "or the prompt was evicted); create the voice prompt again")
            self.prompts.move_to_end(handle)
            return self.prompts[handle]
        return prompt


def _as_array(audio: Any) -> Any:
    import numpy as np

    if hasattr(audio, "detach"):  # a torch tensor
        audio = audio.detach().cpu().numpy()
    return np.asarray(audio)


def _watch_parent(parent: int) -> None:
    """Exit when the host process is gone (POSIX: we are re-parented)."""
    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(0)
            time.sleep(0.5)

    if os.name == "posix" and parent > 0:
        threading.Thread(target=watch, name="voicebox-worker-parent", daemon=True).start()


def serve(engine: str) -> int:
    from multiprocessing.connection import Client

    address = os.environ["VOICEBOX_WORKER_ADDRESS"]
    key = bytes.fromhex(os.environ["VOICEBOX_WORKER_KEY"])
    _watch_parent(int(os.environ.get("VOICEBOX_WORKER_PARENT", "0")))
    conn = Client(address, authkey=key)
    os.dup2(2, 1)  # a library's print goes to the worker log, never into the protocol
    worker = _Worker(conn, engine)
    if not worker.start():
        return 1
    asyncio.run(worker.run())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    os.environ["VOICEBOX_WORKER"] = "1"  # this process's discovery must not look for isolated envs
    if args[:1] == ["describe"]:
        print(json.dumps(describe()))
        return 0
    if args[:1] == ["upstream"] and len(args) == 2:
        print(json.dumps(upstream_requirements(args[1])))
        return 0
    if args[:1] == ["serve"] and len(args) == 2:
        return serve(args[1])
    print("usage: python -m voicebox_core.worker describe | upstream DIST | serve ENGINE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
