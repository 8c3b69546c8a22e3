"""The host side of an isolated engine: a worker process and a TTSBackend that talks to it.

:class:`IsolatedBackend` is what ``Registry.backend(engine)`` returns for an engine that lives
in its own environment: the Synthesizer, the server and the CLI call it like any backend.
Each call is a request to the engine's worker (one long-lived process per engine, started on
first use); see :mod:`voicebox_core.isolation.protocol`.

Faults stay in the worker. A worker that exits (crash, ``kill -9``, the out-of-memory killer)
or does not answer within ``VOICEBOX_WORKER_TIMEOUT`` seconds (default 600; any progress
event resets it) fails the requests it had with :class:`EngineWorkerError` (503, the engine's
name, the cause and the last line of its log), is killed if still running, and is started
again on the next request. ``unload_model`` ends the worker, which frees all its memory.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import os
import secrets
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable
from multiprocessing.connection import Listener
from typing import Any

from voicebox_core.errors import EngineWorkerError
from voicebox_core.isolation.envs import IsolatedEnv, worker_environment
from voicebox_core.isolation.protocol import (
    PROTOCOL_VERSION,
    decode_arrays,
    encode_arrays,
    error_from_wire,
    receive,
    send,
)

__all__ = ["IsolatedBackend", "WorkerProcess", "stop_all_workers"]

_live: weakref.WeakSet[WorkerProcess] = weakref.WeakSet()


def request_timeout() -> float:
    return float(os.environ.get("VOICEBOX_WORKER_TIMEOUT", "600"))


def start_timeout() -> float:
    return float(os.environ.get("VOICEBOX_WORKER_START_TIMEOUT", "180"))


def _exit_cause(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == getattr(signal, "SIGKILL", 9):
            return f"was killed ({name}: out of memory, or killed by hand)"
        return f"was killed by {name}"
    return f"exited with status {code}"


class WorkerProcess:
    """One worker: the process, its connection, a reader thread, the requests in flight."""

    def __init__(self, env: IsolatedEnv, engine: str) -> None:
        self.env = env
        self.engine = engine
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: Any = None
        self.pid = 0
        self.started_at = 0.0
        self.dead: str | None = None  # why it is gone; None while it runs
        self._send_lock = threading.Lock()
        self._pending: dict[int, Callable[[dict[str, Any], list[bytes]], None]] = {}
        self._pending_lock = threading.Lock()
        self._ids = itertools.count(1)

    # -- life --------------------------------------------------------------------------

    def start(self) -> WorkerProcess:
        """Spawn the worker and wait for its hello (import failures arrive as the hello)."""
        started = time.perf_counter()
        key = secrets.token_bytes(32)
        listener = Listener(authkey=key)
        env = worker_environment()
        env.update(VOICEBOX_WORKER_ADDRESS=str(listener.address), VOICEBOX_WORKER_KEY=key.hex(),
                   VOICEBOX_WORKER_PARENT=str(os.getpid()))
        log = open(self.env.log(self.engine), "wb")
        try:
            self.proc = subprocess.Popen(
                [str(self.env.python), "-m", "voicebox_core.worker", "serve", self.engine],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        except OSError as exc:
            listener.close()
            raise EngineWorkerError(f"engine {self.engine!r}: its worker could not start ({exc}); "
                                    f"reinstall it: voicebox engines install {self.env.requirement} --isolated") from None
        finally:
            log.close()
        accepted: list[Any] = []
        thread = threading.Thread(target=lambda: _accept(listener, accepted), daemon=True)
        thread.start()
        deadline = time.monotonic() + start_timeout()
        while thread.is_alive() and self.proc.poll() is None and time.monotonic() < deadline:
            thread.join(0.05)
        listener.close()
        if not accepted:
            self.kill()
            raise self._failure("could not start", "starting")
        self.conn = accepted[0]
        if not self.conn.poll(max(0.1, deadline - time.monotonic())):
            self.kill()
            raise self._failure("did not say hello", "starting")
        try:
            hello, _ = receive(self.conn)
        except (EOFError, OSError):
            self.kill()
            raise self._failure("could not start", "starting") from None
        if not hello.get("ok"):
            self.kill()
            error = hello.get("error") or {}
            raise EngineWorkerError(
                f"engine {self.engine!r}: its isolated worker could not load the engine: "
                f"{error.get('type', 'Error')}: {error.get('message', '')} (environment {self.env.root}; "
                f"details: {self.env.log(self.engine)})")
        if hello.get("protocol") != PROTOCOL_VERSION:
            self.kill()
            raise EngineWorkerError(f"engine {self.engine!r}: its environment speaks worker protocol "
                                    f"{hello.get('protocol')}, this host {PROTOCOL_VERSION}; reinstall it: "
                                    f"voicebox engines install {self.env.requirement} --isolated")
        self.pid = int(hello.get("pid", self.proc.pid))
        self.started_at = time.perf_counter() - started
        threading.Thread(target=self._read, name=f"voicebox-worker-{self.engine}", daemon=True).start()
        _live.add(self)
        return self

    @property
    def alive(self) -> bool:
        return self.dead is None and self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def stop(self, grace: float = 5.0) -> None:
        """Ask the worker to unload and exit; kill it if it does not within ``grace`` s."""
        if self.alive:
            try:
                self.call_sync("shutdown", {}, timeout=grace)
            except Exception:  # noqa: BLE001 - it is going away either way
                pass
        if self.proc is not None:
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        self._gone("was stopped")

    def _failure(self, what: str, during: str) -> EngineWorkerError:
        code = self.proc.poll() if self.proc is not None else None
        cause = _exit_cause(code) if code is not None else what
        return EngineWorkerError(f"engine {self.engine!r}: its isolated worker {cause} while {during}"
                                 f"{self._log_tail()}; it starts again on the next request")

    def _log_tail(self) -> str:
        try:
            lines = [line for line in self.env.log(self.engine).read_text(errors="replace").splitlines()
                     if line.strip()]
        except OSError:
            return ""
        return f" (last log line: {lines[-1].strip()[:300]})" if lines else ""

    # -- messages ----------------------------------------------------------------------

    def _read(self) -> None:
        while True:
            try:
                header, frames = receive(self.conn)
            except (EOFError, OSError):
                break
            rid = header.get("id")
            with self._pending_lock:
                deliver = self._pending.get(rid) if rid is not None else None
            if deliver is not None:
                deliver(header, frames)
        code = None
        if self.proc is not None:
            try:
                code = self.proc.wait(2)
            except subprocess.TimeoutExpired:
                code = None
        self._gone(_exit_cause(code) if code is not None else "closed its connection")

    def _gone(self, cause: str) -> None:
        if self.dead is None:
            self.dead = cause
        with self._pending_lock:
            pending, self._pending = dict(self._pending), {}
        for deliver in pending.values():
            deliver({"died": self.dead}, [])
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass

    def _post(self, op: str, args: dict[str, Any], deliver: Callable[..., None]) -> int:
        rid = next(self._ids)
        with self._pending_lock:
            if self.dead is not None:
                raise EngineWorkerError(f"engine {self.engine!r}: its isolated worker {self.dead}")
            self._pending[rid] = deliver
        frames: list[bytes] = []
        wire = encode_arrays(args, frames)
        try:
            send(self.conn, self._send_lock, {"id": rid, "op": op, "args": wire}, frames)
        except (OSError, ValueError):
            self._forget(rid)
            raise self._failure("closed its connection", op) from None
        return rid

    def _forget(self, rid: int) -> None:
        with self._pending_lock:
            self._pending.pop(rid, None)

    def _answer(self, op: str, header: dict[str, Any], frames: list[bytes]) -> Any:
        if "died" in header:
            raise EngineWorkerError(f"engine {self.engine!r}: its isolated worker {header['died']} during "
                                    f"{op}{self._log_tail()}; it starts again on the next request")
        if "error" in header:
            raise error_from_wire(header["error"], self.engine)
        return decode_arrays(header.get("result"), frames)

    def _hung(self, op: str, timeout: float) -> EngineWorkerError:
        self.dead = f"did not answer {op} within {timeout:.0f} s (VOICEBOX_WORKER_TIMEOUT) and was killed"
        self.kill()
        self._gone(self.dead)
        return EngineWorkerError(f"engine {self.engine!r}: its isolated worker {self.dead}; "
                                 "it starts again on the next request")

    async def call(self, op: str, args: dict[str, Any], progress: Callable[[dict[str, Any]], None] | None = None,
                   timeout: float | None = None) -> Any:
        """One request from the event loop; progress events reset the timeout."""
        inbox, deliver = _inbox()
        timeout = timeout or request_timeout()
        rid = self._post(op, args, deliver)
        try:
            while True:
                try:
                    header, frames = await asyncio.wait_for(inbox.get(), timeout)
                except TimeoutError:
                    raise self._hung(op, timeout) from None
                if header.get("event") == "progress":
                    if progress is not None:
                        progress(header["progress"])
                    continue
                return self._answer(op, header, frames)
        except asyncio.CancelledError:
            self._cancel(rid)
            raise
        finally:
            self._forget(rid)

    def _cancel(self, rid: int) -> None:
        """Ask the worker to cancel request ``rid`` (its caller stopped waiting)."""
        if self.alive:
            try:
                send(self.conn, self._send_lock, {"id": next(self._ids), "op": "cancel", "args": {"target": rid}})
            except (OSError, ValueError):
                pass

    async def stream(self, op: str, args: dict[str, Any], timeout: float | None = None) -> AsyncIterator[Any]:
        """One request whose ``frame`` events are yielded as they arrive (none is held back);
        each must come within the timeout. Closing the iterator cancels the request."""
        inbox, deliver = _inbox()
        timeout = timeout or request_timeout()
        rid = self._post(op, args, deliver)
        finished = False
        try:
            while True:
                try:
                    header, frames = await asyncio.wait_for(inbox.get(), timeout)
                except TimeoutError:
                    raise self._hung(op, timeout) from None
                if header.get("event") == "frame":
                    yield decode_arrays(header["frame"], frames)
                    continue
                if header.get("event") == "progress":
                    continue
                finished = True
                self._answer(op, header, frames)
                return
        finally:
            if not finished:  # the listener stopped: stop the engine too
                self._cancel(rid)
            self._forget(rid)

    def call_sync(self, op: str, args: dict[str, Any], timeout: float | None = None) -> Any:
        """One request from a thread without an event loop (unload, the model path)."""
        import queue

        inbox: queue.SimpleQueue[tuple[dict[str, Any], list[bytes]]] = queue.SimpleQueue()
        timeout = timeout or request_timeout()
        rid = self._post(op, args, lambda h, f: inbox.put((h, f)))
        try:
            while True:
                try:
                    header, frames = inbox.get(timeout=timeout)
                except queue.Empty:
                    raise self._hung(op, timeout) from None
                if header.get("event") != "progress":
                    return self._answer(op, header, frames)
        finally:
            self._forget(rid)


def _inbox() -> tuple[asyncio.Queue[tuple[dict[str, Any], list[bytes]]], Callable[[dict[str, Any], list[bytes]], None]]:
    """A queue on the running loop, and the callable the reader thread delivers into it with."""
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[dict[str, Any], list[bytes]]] = asyncio.Queue()

    def deliver(header: dict[str, Any], frames: list[bytes]) -> None:
        try:
            loop.call_soon_threadsafe(inbox.put_nowait, (header, frames))
        except RuntimeError:
            pass  # the caller's loop is closed: nobody waits for this answer

    return inbox, deliver


def _accept(listener: Listener, into: list[Any]) -> None:
    try:
        into.append(listener.accept())
    except (OSError, EOFError):
        pass  # closed: the worker never connected
    except Exception:  # noqa: BLE001 - a peer with the wrong key
        pass


def stop_all_workers() -> None:
    """End every worker of this process (server shutdown; also run at interpreter exit)."""
    for worker in list(_live):
        try:
            worker.stop(grace=2.0)
        except Exception:  # noqa: BLE001 - shutting down
            worker.kill()


atexit.register(stop_all_workers)


class IsolatedBackend:
    """A TTSBackend whose engine runs in its isolated environment's worker process."""

    def __init__(self, env: IsolatedEnv, engine: str) -> None:
        self.env = env
        self.engine = engine
        self._worker: WorkerProcess | None = None
        self._lock = threading.Lock()
        #: (worker, model size) of the last successful load_model.
        self._loaded: tuple[WorkerProcess, str] | None = None

    @property
    def worker(self) -> WorkerProcess | None:
        return self._worker

    def _running(self) -> WorkerProcess:
        with self._lock:
            if self._worker is None or not self._worker.alive:
                self._worker = WorkerProcess(self.env, self.engine).start()
            return self._worker

    async def _ready(self) -> WorkerProcess:
        """The running worker with the model loaded (again, after a restart)."""
        worker = await asyncio.to_thread(self._running)
        if self._loaded is not None and self._loaded[0] is not worker:
            await self.load_model(self._loaded[1])
            worker = self._worker or worker
        return worker

    # -- TTSBackend ----------------------------------------------------------------------

    async def load_model(self, model_size: str = "default") -> None:
        from voicebox_core.runtime.download import DownloadProgress, _listener

        listener = _listener.get()

        def progress(event: dict[str, Any]) -> None:
            if listener is not None:
                listener(DownloadProgress(**event))

        worker = await asyncio.to_thread(self._running)
        await worker.call("load_model", {"model_size": model_size}, progress=progress)
        self._loaded = (worker, model_size)

    def is_loaded(self) -> bool:
        return self._loaded is not None and self._loaded[0].alive

    def unload_model(self) -> None:
        """End the worker: the surest way to free everything the engine held."""
        self._loaded = None
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    async def create_voice_prompt(self, audio_path: str, reference_text: str,
                                  use_cache: bool = True) -> tuple[dict[str, Any], bool]:
        worker = await self._ready()
        result = await worker.call("create_voice_prompt", {"audio_path": str(audio_path),
                                                           "reference_text": reference_text,
                                                           "use_cache": use_cache})
        return dict(result["prompt"]), bool(result["cached"])

    async def combine_voice_prompts(self, audio_paths: list[str], ref_texts: list[str]) -> tuple[Any, str]:
        worker = await self._ready()
        result = await worker.call("combine_voice_prompts", {"audio_paths": [str(p) for p in audio_paths],
                                                             "ref_texts": list(ref_texts)})
        return result["audio"], str(result["text"])

    async def generate(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                       seed: int | None = None, instruct: str | None = None) -> tuple[Any, int]:
        worker = await self._ready()
        result = await worker.call("generate", {"text": text, "voice_prompt": voice_prompt,
                                                "language": language, "seed": seed, "instruct": instruct})
        return result["audio"], int(result["sample_rate"])

    async def generate_stream(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                              seed: int | None = None, instruct: str | None = None) -> AsyncIterator[Any]:
        """The engine's chunks as its worker yields them (engines with ``Capabilities(streaming=True)``)."""
        worker = await self._ready()
        async for frame in worker.stream("generate_stream", {"text": text, "voice_prompt": voice_prompt,
                                                              "language": language, "seed": seed,
                                                              "instruct": instruct}):
            yield frame["audio"]

    async def generate_timed(self, text: str, voice_prompt: dict[str, Any], language: str = "en",
                             seed: int | None = None, instruct: str | None = None) -> AsyncIterator[Any]:
        """The engine's timed chunks as its worker yields them (``Capabilities(word_timestamps=True)``)."""
        from voicebox_core.timing import TimedChunk, words_from_json

        worker = await self._ready()
        async for frame in worker.stream("generate_stream", {"text": text, "voice_prompt": voice_prompt,
                                                              "language": language, "seed": seed,
                                                              "instruct": instruct, "timed": True}):
            yield TimedChunk(frame["audio"], words_from_json(frame.get("words")))

    def _get_model_path(self, model_size: str) -> str:
        return str(self._running().call_sync("get_model_path", {"model_size": model_size}))
