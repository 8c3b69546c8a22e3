"""What ``voicebox serve --ray`` deploys: which engines, how many replicas, with what resources.

A TOML file (``--ray-config FILE``), every key optional::

    address = "ray://head:10001"      # --ray overrides; "local" starts a Ray instance here
    namespace = "voicebox"
    prefix = "voicebox"               # applications are named <prefix>-<engine>
    engines = ["myengine", "bigone"]  # default: every installed engine

    [defaults]                        # for every engine, unless its own table says otherwise
    num_replicas = 1
    num_cpus = 1
    num_gpus = "auto"                 # auto: 1 when the model allows CUDA and the cluster has GPUs
    max_ongoing_requests = 2          # requests one replica runs at once
    max_queued_requests = 64          # beyond this the server answers 503 + Retry-After
    environment = "auto"              # auto | inherit | isolated | pip (see runtime_env below)

    [engine.bigone]
    num_gpus = 1
    [engine.bigone.autoscaling]       # Ray Serve's autoscaling_config, as it is
    min_replicas = 0
    max_replicas = 4
    target_ongoing_requests = 1
    [engine.myengine.runtime_env]     # an explicit Ray runtime_env wins over `environment`
    pip = ["voicebox-engine-myengine==0.1.0"]
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from voicebox_core.errors import InvalidRequestError

__all__ = ["ENVIRONMENTS", "DeploymentConfig", "RayConfig"]

#: How a replica gets the engine's Python environment:
#: ``inherit``: the cluster's own (the plugin is installed there, as on this machine);
#: ``isolated``: the engine's isolated environment on this machine (``py_executable``;
#: a local cluster only); ``pip``: a Ray ``pip`` runtime_env with the engine's exact pins
#: (a remote cluster); ``auto``: ``isolated`` for an isolated engine, else ``inherit``.
ENVIRONMENTS = ("auto", "inherit", "isolated", "pip")

_DEPLOYMENT_KEYS = {"num_replicas", "num_cpus", "num_gpus", "max_ongoing_requests", "max_queued_requests",
                    "environment", "autoscaling", "runtime_env", "memory_mb"}


@dataclass(frozen=True)
class DeploymentConfig:
    """One engine's deployment: its replicas and what each one needs."""

    num_replicas: int = 1
    num_cpus: float = 1.0
    #: GPUs per replica; None means auto (1 where the model allows CUDA and the cluster has one).
    num_gpus: float | None = None
    max_ongoing_requests: int = 2
    max_queued_requests: int = 64
    environment: str = "auto"
    #: Ray Serve's ``autoscaling_config``; when set, ``num_replicas`` is ignored.
    autoscaling: dict[str, Any] | None = None
    #: An explicit Ray ``runtime_env`` (wins over ``environment``).
    runtime_env: dict[str, Any] | None = None
    #: Memory Ray reserves per replica, for placement (0: none reserved).
    memory_mb: int = 0

    @property
    def most_replicas(self) -> int:
        """The most replicas this deployment can have (its capacity is this times
        ``max_ongoing_requests``)."""
        if self.autoscaling:
            return int(self.autoscaling.get("max_replicas", self.autoscaling.get("min_replicas", 1)) or 1)
        return self.num_replicas


@dataclass(frozen=True)
class RayConfig:
    address: str = "auto"
    namespace: str = "voicebox"
    #: Serve applications are named ``<prefix>-<engine>`` (two servers with their own
    #: settings on one cluster use two prefixes).
    prefix: str = "voicebox"
    #: The engines deployed on Ray; empty: every installed engine.
    engines: tuple[str, ...] = ()
    defaults: DeploymentConfig = field(default_factory=DeploymentConfig)
    overrides: dict[str, DeploymentConfig] = field(default_factory=dict)

    def deployment(self, engine: str) -> DeploymentConfig:
        return self.overrides.get(engine, self.defaults)

    def app(self, engine: str) -> str:
        """The Serve application of ``engine``."""
        return f"{self.prefix}-{engine}"

    def wants(self, engine: str) -> bool:
        return not self.engines or engine in self.engines

    @classmethod
    def load(cls, path: str | Path | None = None, *, address: str | None = None,
             engines: tuple[str, ...] = (), replicas: dict[str, int] | None = None) -> RayConfig:
        """The file's settings (if any), then the command line's (address, engines, replicas)."""
        data: dict[str, Any] = {}
        if path is not None:
            try:
                data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except OSError as exc:
                raise InvalidRequestError(f"Ray config {str(path)!r} cannot be read ({exc.strerror})") from None
            except tomllib.TOMLDecodeError as exc:
                raise InvalidRequestError(f"Ray config {str(path)!r} is not valid TOML: {exc}") from None
        unknown = set(data) - {"address", "namespace", "prefix", "engines", "defaults", "engine"}
        if unknown:
            raise InvalidRequestError(f"Ray config: unknown key(s) {', '.join(sorted(unknown))}; known: "
                                      "address, namespace, prefix, engines, [defaults], [engine.<name>]")
        defaults = _deployment(DeploymentConfig(), data.get("defaults", {}), "[defaults]")
        overrides = {name: _deployment(defaults, table, f"[engine.{name}]")
                     for name, table in _table(data.get("engine", {}), "[engine]").items()}
        for name, count in (replicas or {}).items():
            overrides[name] = replace(overrides.get(name, defaults), num_replicas=_count(count, name), autoscaling=None)
        listed = data.get("engines", [])
        if not isinstance(listed, list) or not all(isinstance(e, str) for e in listed):
            raise InvalidRequestError("Ray config: 'engines' must be a list of engine names")
        return cls(address=address or str(data.get("address", "auto")),
                   namespace=str(data.get("namespace", "voicebox")), prefix=_prefix(data.get("prefix", "voicebox")),
                   engines=tuple(engines) or tuple(listed), defaults=defaults, overrides=overrides)


def _prefix(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", value):
        raise InvalidRequestError(f"Ray config: prefix must be letters, digits, '-' or '_', not {value!r}")
    return value


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequestError(f"Ray config: {where} must be a table")
    return value


def _count(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidRequestError(f"Ray config: replicas of {where} must be a whole number >= 1, not {value!r}")
    return value


def _deployment(base: DeploymentConfig, table: Any, where: str) -> DeploymentConfig:
    table = _table(table, where)
    unknown = set(table) - _DEPLOYMENT_KEYS
    if unknown:
        raise InvalidRequestError(f"Ray config {where}: unknown key(s) {', '.join(sorted(unknown))}; "
                                  f"known: {', '.join(sorted(_DEPLOYMENT_KEYS))}")
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if key == "num_gpus" and value == "auto":
            changes[key] = None
        elif key in ("num_cpus", "num_gpus"):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise InvalidRequestError(f"Ray config {where}: {key} must be a number >= 0, not {value!r}")
            changes[key] = float(value)
        elif key in ("num_replicas", "max_ongoing_requests", "max_queued_requests"):
            changes[key] = _count(value, f"{where} {key}")
        elif key == "memory_mb":
            if not isinstance(value, int) or value < 0:
                raise InvalidRequestError(f"Ray config {where}: memory_mb must be a whole number >= 0")
            changes[key] = value
        elif key == "environment":
            if value not in ENVIRONMENTS:
                raise InvalidRequestError(f"Ray config {where}: environment must be one of "
                                          f"{', '.join(ENVIRONMENTS)}, not {value!r}")
            changes[key] = value
        else:  # autoscaling, runtime_env: Ray's own tables, checked by Ray
            changes[key] = dict(_table(value, f"{where} {key}"))
    return replace(base, **changes)
