"""Deploying engines on Ray Serve and handing their handles to the registry.

One Serve application per engine, ``<prefix>-<engine>`` (``voicebox-myengine``), with one deployment whose replicas
build :class:`~voicebox_core.ray_serve.replica.EngineReplica` from the engine's plugin. What
each replica asks of Ray comes from the engine's metadata and the config:

- ``num_gpus``: 1 (or the config's figure) only when the engine's models allow CUDA
  (``ModelConfig.devices``) and the cluster has GPUs; otherwise 0.
- ``runtime_env``: the engine's Python environment (``environment`` in the config):
  ``inherit`` (the cluster's, for a plugin installed there), ``isolated`` (this machine's
  isolated environment of the engine, as ``py_executable``: a local cluster; the environment
  needs ``ray[serve]`` of the server's version), ``pip`` (a ``pip`` runtime_env of the exact
  versions: the plugin, voicebox-core and the key libraries this machine runs it with).
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from voicebox_core.errors import EngineInstallError, InvalidRequestError, VoiceboxError
from voicebox_core.ray_serve.backend import RayBackend
from voicebox_core.ray_serve.config import DeploymentConfig, RayConfig

__all__ = ["RayUnavailableError", "attach", "connect", "deployment_options", "runtime_env"]

log = logging.getLogger("voicebox.ray")

INSTALL_HINT = "install Ray: pip install 'voicebox-core[ray]'"


class RayUnavailableError(VoiceboxError):
    """Ray is not installed, or its cluster cannot be reached."""

    status_code = 503


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailableError(f"voicebox serve --ray needs Ray; {INSTALL_HINT}") from None
    return ray


def connect(config: RayConfig) -> None:
    """Join the cluster at ``config.address`` (``local``: start a Ray instance in this process)
    and make sure Serve runs (without its own HTTP proxy: this server is the front)."""
    # A cluster started by `ray start` (Ray >= 2.5x) asks for its token; the token's file
    # (or RAY_AUTH_TOKEN) is there, but a driver sends it only in token mode, read at import.
    if "RAY_AUTH_MODE" not in os.environ and config.address != "local" and (
            os.environ.get("RAY_AUTH_TOKEN") or Path("~/.ray/auth_token").expanduser().is_file()):
        os.environ["RAY_AUTH_MODE"] = "token"
    ray = _ray()
    from ray import serve

    if not ray.is_initialized():
        _reachable(config.address)
        options: dict[str, Any] = {"namespace": config.namespace, "log_to_driver": False,
                                   "logging_level": logging.WARNING}
        if config.address == "local":
            options["include_dashboard"] = False
        else:
            options["address"] = config.address
        try:
            ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RayUnavailableError(f"cannot join the Ray cluster at {config.address!r}: {first}") from None
    serve.start(proxy_location="Disabled")


def _reachable(address: str, timeout: float = 5.0) -> None:
    """A ``host:port`` address answers, checked first: Ray itself retries for minutes."""
    import socket

    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # local, auto, ray://: Ray's own checks
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayUnavailableError(f"cannot join the Ray cluster at {address!r}: nothing answers there "
                                  f"({exc.strerror or exc}); start it (ray start --head) or fix --ray") from None


def _cluster_gpus() -> float:
    ray = _ray()
    return float(ray.cluster_resources().get("GPU", 0))


def runtime_env(registry: Any, engine: str, config: DeploymentConfig) -> dict[str, Any]:
    """The Ray runtime_env of the engine's replicas (see the module's docstring)."""
    if config.runtime_env is not None:
        return dict(config.runtime_env)
    env = registry.environment_of(engine)
    mode = config.environment
    if mode == "auto":
        mode = "isolated" if env is not None else "inherit"
    if mode == "inherit":
        return {}
    plugin = registry.plugin_of(engine)
    if mode == "isolated":
        if env is None:
            raise InvalidRequestError(f"engine {engine!r} is not isolated on this machine, so its replicas "
                                      "cannot use an isolated environment; set environment = \"inherit\" or \"pip\"")
        if not any(site.glob("ray-*.dist-info") for site in env.site_packages()):
            ray = _ray()
            raise EngineInstallError(
                f"engine {engine!r}: its isolated environment has no Ray, so Ray cannot start replicas in it; "
                f"voicebox engines install {env.requirement} --isolated --with 'ray[serve]=={ray.__version__}'")
        return {"py_executable": str(env.python)}
    from voicebox_core import __version__
    from voicebox_core.worker import key_versions

    versions = dict(plugin.versions) if plugin.isolated else key_versions()
    packages = [f"voicebox-core=={__version__}", f"{plugin.distribution}=={plugin.version}",
                *(f"{name}=={version}" for name, version in sorted(versions.items()))]
    return {"pip": {"packages": packages}}


def deployment_options(registry: Any, engine: str, config: DeploymentConfig, gpus: float) -> dict[str, Any]:
    """The ``Deployment.options`` of the engine's deployment."""
    info = registry.engine(engine)
    cuda = any("cuda" in model.devices for model in info.models)
    num_gpus = config.num_gpus if config.num_gpus is not None else (1.0 if cuda and gpus >= 1 else 0.0)
    if num_gpus and not cuda:
        raise InvalidRequestError(f"Ray config: engine {engine!r} runs on {', '.join(info.default_model.devices)} "
                                  "only; give it num_gpus = 0")
    actor: dict[str, Any] = {"num_cpus": config.num_cpus, "num_gpus": num_gpus,
                             "runtime_env": runtime_env(registry, engine, config)}
    if config.memory_mb:
        actor["memory"] = config.memory_mb * 2**20
    options: dict[str, Any] = {"name": "engine", "ray_actor_options": actor,
                               "max_ongoing_requests": config.max_ongoing_requests,
                               "max_queued_requests": config.max_queued_requests,
                               "max_constructor_retry_count": 2, "health_check_period_s": 2.0}
    if config.autoscaling:
        options["autoscaling_config"] = dict(config.autoscaling)
    else:
        options["num_replicas"] = config.num_replicas
    return options


def deploy_timeout() -> float:
    return float(os.environ.get("VOICEBOX_RAY_DEPLOY_TIMEOUT", "300"))


def _wait_running(apps: dict[str, str], timeout: float) -> dict[str, str]:
    """Wait until every application runs; the ones that did not, with Serve's reason."""
    from ray import serve

    deadline = time.monotonic() + timeout
    pending = dict(apps)
    failed: dict[str, str] = {}
    while pending:
        statuses = serve.status().applications
        for engine, app in list(pending.items()):
            status = statuses.get(app)
            state = str(getattr(status, "status", "")).rsplit(".", 1)[-1]
            if state == "RUNNING":
                del pending[engine]
            elif state in ("DEPLOY_FAILED", "UNHEALTHY"):
                failed[engine] = _reason(status) or state
                del pending[engine]
        if not pending:
            break
        if time.monotonic() > deadline:
            for engine, app in pending.items():
                reason = _reason(statuses.get(app))
                failed[engine] = (f"not running after {timeout:.0f} s (VOICEBOX_RAY_DEPLOY_TIMEOUT)"
                                  + (f": {reason}" if reason else ": the cluster may lack the CPUs or GPUs asked for"))
            break
        time.sleep(0.5)
    return failed


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RAISED = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b[^:]*: .+")


def _reason(status: Any) -> str:
    """What Serve says about an application, in one line: its deployment's first sentence and
    the exception a replica's constructor raised (the last one in the traceback Serve keeps)."""
    if status is None:
        return ""
    texts = [str(getattr(d, "message", "") or "") for d in (getattr(status, "deployments", {}) or {}).values()]
    texts.append(str(getattr(status, "message", "") or ""))
    for text in texts:
        lines = [line.strip() for line in _ANSI.sub("", text).splitlines() if line.strip()]
        if not lines:
            continue
        raised = [line for line in lines if _RAISED.match(line)]
        first = lines[0].split(". ")[0].rstrip(".")
        return (f"{first}: {raised[-1]}" if raised and raised[-1] != lines[0] else first)[:500]
    return ""


def attach(registry: Any, config: RayConfig, say: Any = print) -> list[str]:
    """Deploy (or update) every engine the config names and route the registry to them.
    An engine whose deployment fails is set aside (a registry failure); the others go on.
    Returns the engines now served through Ray."""
    from voicebox_core import __version__
    from voicebox_core.ray_serve.replica import EngineReplica

    known = {e.name for e in registry.engines}
    unknown = [e for e in config.engines if e not in known]
    if unknown:
        raise InvalidRequestError(f"Ray config names engine(s) not installed here: {', '.join(unknown)}; "
                                  f"installed: {', '.join(sorted(known)) or 'none'}")
    wanted = sorted(e for e in known if config.wants(e))
    connect(config)  # first: Ray reads its settings when imported
    from ray import serve

    # Every engine's options checked before anything is deployed: a config mistake deploys nothing.
    gpus = _cluster_gpus()
    plans = {engine: deployment_options(registry, engine, config.deployment(engine), gpus) for engine in wanted}
    handles: dict[str, Any] = {}
    apps: dict[str, str] = {}
    failed: dict[str, str] = {}
    for engine, options in plans.items():
        settings = config.deployment(engine)
        app = apps[engine] = config.app(engine)
        replicas = "autoscaled" if settings.autoscaling else f"{settings.num_replicas}"
        say(f"ray: deploying {engine} as {app} ({replicas} replica(s), {settings.num_cpus:g} CPU, "
            f"{options['ray_actor_options']['num_gpus']:g} GPU each)")
        try:
            deployment = serve.deployment(EngineReplica).options(**options)
            handles[engine] = serve._run(deployment.bind(engine, __version__), _blocking=False, name=app,
                                         route_prefix=None)
        except Exception as exc:  # noqa: BLE001 - this engine is set aside, the others go on
            failed[engine] = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    failed.update(_wait_running({e: a for e, a in apps.items() if e in handles}, deploy_timeout()))
    deployed = []
    for engine in wanted:
        if engine in failed:
            registry.set_aside(engine, "ray", f"its Ray deployment {apps[engine]} failed: {failed[engine]}")
            say(f"ray: {engine} could not be deployed: {failed[engine]}")
            continue
        settings = replace(config.deployment(engine), num_gpus=plans[engine]["ray_actor_options"]["num_gpus"])
        registry.route(engine, RayBackend(engine, handles[engine], settings, apps[engine]))
        deployed.append(engine)
    return deployed
