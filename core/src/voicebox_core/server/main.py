"""``voicebox serve``: also the sidecar the Voicebox desktop app launches.

The app runs ``<binary> --host H --port N --data-dir DIR --parent-pid PID`` and waits for
uvicorn's "Application startup complete" line on the process output. With ``--parent-pid``
the server stops gracefully (database closed, running generations marked) once that process
is gone, unless ``POST /watchdog/disable`` was called or ``DIR/.keep-running`` exists.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voicebox_core.server.datadir import lock_data_dir

__all__ = ["serve", "watch_parent"]

log = logging.getLogger("voicebox.server")


def watch_parent(pid: int, on_exit: Callable[[], None], keep_running: Callable[[], bool],
                 interval: float = 1.0) -> threading.Thread | None:
    """Call ``on_exit`` once process ``pid`` has ended (a reused PID does not fool it: the
    process's start time is compared). Returns the watching thread, or None when ``pid`` is
    not running now (the watchdog is then off, as Voicebox does)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        started = parent.create_time()
    except psutil.Error:
        log.warning("parent process %d is not running; the parent watchdog is off", pid)
        return None

    def alive() -> bool:
        try:
            return bool(parent.is_running() and parent.create_time() == started
                        and parent.status() != psutil.STATUS_ZOMBIE)
        except psutil.Error:
            return False

    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(interval):
            if alive():
                continue
            if keep_running():
                log.warning("parent process %d exited; staying up as asked", pid)
                return
            log.warning("parent process %d exited; shutting down", pid)
            on_exit()
            return

    thread = threading.Thread(target=watch, name="voicebox-parent-watchdog", daemon=True)
    thread.start()
    return thread


def _replicas(values: list[str]) -> dict[str, int]:
    from voicebox_core.errors import InvalidRequestError

    found = {}
    for value in values:
        engine, _, count = value.partition("=")
        if not engine.strip() or not count.strip().isdigit() or int(count) < 1:
            raise InvalidRequestError(f"--ray-replicas {value!r}: give ENGINE=N with N >= 1, e.g. myengine=2")
        found[engine.strip()] = int(count)
    return found


def _ray_registry(args: argparse.Namespace, data_dir: Path) -> Any:
    """With ``--ray``/``--ray-config``: the registry, its engines deployed on Ray Serve."""
    if not (getattr(args, "ray", None) or getattr(args, "ray_config", None)):
        return None
    from voicebox_core.ray_serve.config import RayConfig
    from voicebox_core.ray_serve.deploy import attach
    from voicebox_core.registry import Registry

    config = RayConfig.load(args.ray_config, address=args.ray, engines=tuple(args.ray_engines),
                            replicas=_replicas(args.ray_replicas))
    registry = Registry.discover(environments=data_dir / "engines")
    attach(registry, config, say=lambda line: print(line, flush=True))
    return registry


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from voicebox_core.runtime.paths import data_dir as default_data_dir
    from voicebox_core.server.app import create_app

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    # One data dir for everything this process and its isolated workers touch (caches too).
    os.environ["VOICEBOX_DATA_DIR"] = str(data_dir)
    lock = lock_data_dir(data_dir)
    registry = _ray_registry(args, data_dir)
    app = create_app(data_dir, registry=registry)
    app.state.voicebox_lock = lock
    state = app.state.voicebox
    # Forwarded headers are the app's to judge (VOICEBOX_FORWARDED_ALLOW_IPS, X-Forwarded-Host
    # included): uvicorn's own handling would trust 127.0.0.1 without being asked.
    # A WebSocket message four times the app's limit is refused by uvicorn itself (1009) before
    # it is buffered whole; the app answers smaller oversize messages in its protocol.
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="info", access_log=False,
                            proxy_headers=False, ws_max_size=4 * state.settings.max_message_bytes)
    server = uvicorn.Server(config)

    def stop() -> None:
        server.should_exit = True

    state.shutdown = stop
    if getattr(args, "wyoming", None):
        from voicebox_core.server.wyoming import serve_wyoming

        uri, voice = args.wyoming, getattr(args, "wyoming_voice", None)
        state.services.append(lambda s: serve_wyoming(s, uri, voice))
    parent_pid = getattr(args, "parent_pid", None)
    if parent_pid is not None:
        sentinel = state.settings.data_dir / ".keep-running"
        sentinel.unlink(missing_ok=True)  # a stale one from an earlier session means nothing

        def keep_running() -> bool:
            if sentinel.exists():
                sentinel.unlink(missing_ok=True)
                return True
            return state.watchdog_disabled

        watch_parent(parent_pid, stop, keep_running)
    print(f"voicebox: {len(state.registry.engines)} engine(s), "
          f"{len(state.registry.failures)} failed plugin(s); data in {state.settings.data_dir}; "
          f"http://{args.host}:{args.port}", flush=True)
    server.run()
    return 0
