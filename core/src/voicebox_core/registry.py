"""Fault-isolated discovery of engine plugins through the ``voicebox.engines`` entry points.

Each plugin loads in its own try block. One that fails is set aside as a
:class:`PluginFailure` (distribution, version, stage, error, traceback, what to do) and
every other plugin still loads. Discovery reads metadata only; backends are built lazily,
once per engine, under a lock.

Environment:

- ``VOICEBOX_PLUGINS``: comma-separated allow list of plugin (entry point) or distribution
  names; set but empty loads none. Unset loads all.
- ``VOICEBOX_DISABLE_PLUGINS``: comma-separated deny list, same names.
- ``VOICEBOX_STRICT_PLUGINS=1``: any failure raises :class:`PluginLoadError`.

Engines installed with ``voicebox engines install DIST --isolated`` live in their own
environments under the data dir: discovery lists them from each environment's cached
description (never importing them here), and :meth:`Registry.backend` returns a proxy that
runs the engine in a worker process (:mod:`voicebox_core.isolation`). When an isolated and an
in-process plugin claim one engine name, the isolated one (the later, explicit install) wins.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import importlib_metadata
import pluggy

from voicebox_core import hookspecs
from voicebox_core.backend import StreamingBackend, TimedBackend, TTSBackend
from voicebox_core.config import EngineInfo, ModelConfig, validate_engine
from voicebox_core.errors import ContractError, UnknownEngineError, UnknownModelError

__all__ = [
    "ENTRY_POINT_GROUP",
    "engine_entry_points",
    "HEAVY_MODULES",
    "PluginFailure",
    "PluginLoadError",
    "PluginRecord",
    "Registry",
    "get_registry",
    "reset_registry",
]

ENTRY_POINT_GROUP = "voicebox.engines"

_HINTS = {
    "import": "reinstall the distribution, or check that its dependencies are installed "
    "(pip install --force-reinstall {dist}); disable it meanwhile with "
    "VOICEBOX_DISABLE_PLUGINS={name}",
    "version": "install a release of {dist} built for this voicebox-core, or a voicebox-core "
    "that speaks its contract version",
    "register": "the plugin's voicebox_register_engines hook raised; report it to the "
    "author of {dist} and disable it with VOICEBOX_DISABLE_PLUGINS={name}",
    "metadata": "the plugin registered invalid metadata; the author of {dist} must fix the "
    "fields named above",
    "duplicate": "two installed distributions claim the same name; uninstall one of them "
    "(pip uninstall {dist}) or disable it with VOICEBOX_DISABLE_PLUGINS={name}",
    "isolated": "its isolated environment is broken; reinstall it (voicebox engines install "
    "{dist} --isolated) or remove it (voicebox engines uninstall {dist})",
    "ray": "its Ray Serve deployment failed; read the replica's log (ray logs, or the Ray "
    "dashboard), fix it, and restart voicebox serve --ray",
}


#: Libraries no plugin metadata module should import: each costs every ``voicebox`` command
#: from a tenth of a second (numpy) to seconds (torch). They belong in the backend module.
HEAVY_MODULES = frozenset({
    "torch", "tensorflow", "jax", "jaxlib", "transformers", "diffusers", "onnxruntime", "numpy",
    "scipy", "librosa", "numba", "sklearn", "pandas", "cv2", "soundfile", "huggingface_hub",
})


def slow_plugin_ms() -> float:
    """A plugin whose discovery takes longer than this is reported (VOICEBOX_SLOW_PLUGIN_MS)."""
    return float(os.environ.get("VOICEBOX_SLOW_PLUGIN_MS", "100"))


@dataclass(frozen=True)
class PluginRecord:
    """A plugin that loaded: what it provides and how long it took."""

    name: str
    distribution: str
    version: str
    engines: tuple[str, ...]
    load_seconds: float
    #: Heavy libraries (HEAVY_MODULES) that loading this plugin imported.
    heavy_imports: tuple[str, ...] = ()
    #: Where the plugin lives when isolated: its environment's folder (empty: in this process).
    environment: str = ""
    #: The isolated environment's Python and the versions of its key libraries.
    python: str = ""
    versions: tuple[tuple[str, str], ...] = ()
    #: Requirement problems found in the isolated environment: (problem, fix) pairs.
    requirement_problems: tuple[tuple[str, str], ...] = ()

    @property
    def isolated(self) -> bool:
        return bool(self.environment)

    @property
    def slow(self) -> bool:
        """Its metadata module imported a heavy library, or took over VOICEBOX_SLOW_PLUGIN_MS."""
        return bool(self.heavy_imports) or self.load_seconds * 1000 > slow_plugin_ms()

    @property
    def slow_reason(self) -> str:
        cost = f"{self.load_seconds * 1000:.0f} ms added to every voicebox command"
        what = (f"its metadata module imported {', '.join(self.heavy_imports)}" if self.heavy_imports
                else "loading its metadata module is slow")
        return (f"{what} ({cost}); import the model library inside the backend module "
                "(EngineInfo.backend), which the core imports only when the engine is used")


@dataclass(frozen=True)
class PluginFailure:
    """A plugin set aside at discovery, with everything needed to fix it."""

    name: str
    distribution: str
    version: str
    stage: str
    error: str
    traceback: str
    #: The engine and model names the plugin registered before it was set aside (metadata,
    #: duplicate, a withdrawn engine); empty when it failed before registering any.
    engines: tuple[str, ...] = ()
    models: tuple[str, ...] = ()

    @property
    def hint(self) -> str:
        return _HINTS[self.stage].format(dist=self.distribution, name=self.name)

    @property
    def reason(self) -> str:
        return f"{self.stage} failed: {self.error}"

    def withheld(self, name: str) -> str:
        """Why the engine or model ``name`` is missing, when this failure is the cause: the
        plugin registered that name, or (failing before it registered anything) bears it as
        its plugin or distribution name, the convention for an engine's plugin. Else ''."""
        first_line = (self.error.splitlines() or [""])[0]
        reason = f"{self.stage} failed: {first_line[:400]}"
        who = f"plugin {self.name!r} ({self.distribution} {self.version})"
        if name in self.engines or name in self.models:
            told = f"{who}, which provides it, was set aside ({reason})"
        elif _canonical(name) in {_canonical(self.name), _canonical(self.distribution)}:
            told = f"{who} was set aside before it registered its engines ({reason})"
        else:
            return ""
        return f"{told}; `voicebox engines doctor` (or a server's GET /engines) says how to fix it"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class PluginLoadError(ContractError):
    """Raised in strict mode when any plugin fails to load."""

    def __init__(self, failures: list[PluginFailure]) -> None:
        lines = [f"{f.name} ({f.distribution} {f.version}): {f.reason}" for f in failures]
        super().__init__("plugins failed to load (strict mode): " + "; ".join(lines))
        self.failures = failures


class _Rejected(Exception):
    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


_DIST_INFO = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)\.dist-info$")


def _path_key(folders: list[str]) -> str:
    """Changes when a distribution on ``folders`` is added, removed or reinstalled (the name and
    time of every ``*.dist-info`` / ``*.egg-info`` entry: a stat each, no file read)."""
    from voicebox_core.health import digest

    parts = []
    for folder in folders:
        parts.append(f"\0{folder}")
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith((".dist-info", ".egg-info")):
                try:
                    parts.append(f"{entry.name}:{entry.stat().st_mtime_ns}")
                except OSError:
                    continue
    return digest("\n".join(parts))


def engine_entry_points() -> list[importlib_metadata.EntryPoint]:
    """The ``voicebox.engines`` entry points on ``sys.path``. Scanning every installed
    distribution's metadata is most of discovery's time, so the distributions that declare
    one are kept (under the data dir) per set of installed distributions; with the set
    unchanged, only theirs are read."""
    import json
    import pathlib

    from voicebox_core.health import digest
    from voicebox_core.runtime.paths import data_dir

    folders = [os.path.abspath(p or ".") for p in sys.path if os.path.isdir(p or ".")]
    key = _path_key(folders)
    cache = data_dir() / "cache" / f"entry-points-{digest(chr(0).join(folders))}.json"
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            found = []
            for folder in cached["distributions"]:
                dist = importlib_metadata.PathDistribution(pathlib.Path(folder))
                found += list(dist.entry_points.select(group=ENTRY_POINT_GROUP))
            return found
    except Exception:  # noqa: BLE001, S110 - a cache that cannot be read is a scan, nothing worse
        pass
    found = list(importlib_metadata.entry_points(group=ENTRY_POINT_GROUP))
    holders = sorted({str(getattr(ep.dist, "_path", "")) for ep in found})
    if all(holders) and len(holders) == len({ep.dist.name for ep in found if ep.dist is not None}):
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_name(f"{cache.name}.{os.getpid()}.part")
            partial.write_text(json.dumps({"key": key, "distributions": holders}), encoding="utf-8")
            os.replace(partial, cache)
        except OSError:
            pass  # a read-only data dir: scan every time
    return found


def _identity(ep: importlib_metadata.EntryPoint) -> tuple[str, str]:
    """(distribution, version) of an entry point. From the ``.dist-info`` folder's name when it
    has the standard form (reading METADATA parses an e-mail per plugin: half of discovery's
    time), else from the metadata."""
    if ep.dist is None:
        return "?", "?"
    folder = getattr(ep.dist, "_path", None)
    match = _DIST_INFO.match(getattr(folder, "name", "") or "")
    if match:
        return match["name"].replace("_", "-").lower(), match["version"]
    return ep.dist.name, ep.dist.version


def _env_names(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _selected(ep: importlib_metadata.EntryPoint, dist: str, allow: set[str] | None, deny: set[str]) -> bool:
    return _selected_names({ep.name, dist}, allow, deny)


def _selected_names(names: set[str], allow: set[str] | None, deny: set[str]) -> bool:
    if allow is not None and not names & allow:
        return False
    return not names & deny


def _check_api_version(module: ModuleType) -> None:
    declared = getattr(module, "VOICEBOX_API_VERSION", None)
    ours = hookspecs.API_VERSION
    if not isinstance(declared, str):
        raise _Rejected(
            "version",
            f"module {module.__name__} declares no VOICEBOX_API_VERSION; "
            f"this voicebox-core speaks contract {ours}",
        )
    if declared.split(".")[0] != ours.split(".")[0]:
        raise _Rejected(
            "version",
            f"plugin is built for contract {declared}, but this voicebox-core speaks contract {ours}",
        )


class Registry:
    """The engines and models of the plugins that loaded, and the ones that failed."""

    def __init__(self) -> None:
        self.plugins: list[PluginRecord] = []
        self.failures: list[PluginFailure] = []
        self._engines: dict[str, EngineInfo] = {}
        self._models: dict[str, ModelConfig] = {}
        self._plugin_of: dict[str, PluginRecord] = {}
        self._backends: dict[str, TTSBackend] = {}
        self._isolated: dict[str, Any] = {}  # engine -> IsolatedEnv
        self._routed: set[str] = set()  # engines whose backend was handed in (route)
        self._lock = threading.Lock()
        #: Run each in-process engine on a thread of its own (voicebox_core.threads): what a
        #: long-lived server sets, so memory freed by one request serves the next.
        self.engine_threads = False
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)

    # -- discovery -----------------------------------------------------------------------

    @classmethod
    def discover(
        cls,
        entry_points: Iterable[importlib_metadata.EntryPoint] | None = None,
        *,
        strict: bool | None = None,
        isolated: bool | None = None,
        environments: Any = None,
    ) -> Registry:
        """Load every selected plugin of the ``voicebox.engines`` group, isolating failures.

        When two plugins claim one engine or model name, the one whose entry-point name is
        the engine's name keeps it (the name's owner), and the other is set aside.
        ``isolated`` (default: yes, except inside a worker) also lists the isolated
        environments under ``environments`` (default ``<data dir>/engines``).
        """
        registry = cls()
        if entry_points is None:
            entry_points = engine_entry_points()
        allow = _env_names("VOICEBOX_PLUGINS")
        deny = _env_names("VOICEBOX_DISABLE_PLUGINS") or set()
        pending = []
        for ep in sorted(entry_points, key=lambda e: e.name):
            dist, version = _identity(ep)
            if _selected(ep, dist, allow, deny):
                loaded = registry._load(ep, dist, version)
                if loaded is not None:
                    pending.append(loaded)
        pending.sort(key=lambda p: (p[0].name not in {i.name for i in p[1]}, p[0].name))
        if isolated is None:
            isolated = not os.environ.get("VOICEBOX_WORKER")
        if isolated:
            registry._load_isolated(environments, allow, deny)
        for record, infos in pending:
            registry._commit(record, infos)
        if strict is None:
            strict = os.environ.get("VOICEBOX_STRICT_PLUGINS", "") not in ("", "0", "false")
        if strict and registry.failures:
            raise PluginLoadError(registry.failures)
        if strict and (slow := [p for p in registry.plugins if p.slow]):
            raise ContractError("plugins slow down discovery (strict mode): " + "; ".join(
                f"{p.name} ({p.distribution} {p.version}): {p.slow_reason}" for p in slow))
        return registry

    def _load(
        self, ep: importlib_metadata.EntryPoint, dist: str, version: str
    ) -> tuple[PluginRecord, list[EngineInfo]] | None:
        before = set(sys.modules)
        started = time.perf_counter()
        stage = "import"
        infos: list[EngineInfo] = []
        try:
            module = ep.load()
            stage = "version"
            _check_api_version(module)
            stage = "register"
            infos = self._collect(module, ep.name)
            stage = "metadata"
            for info in infos:
                if problems := validate_engine(info) or _missing_modules(info):
                    raise _Rejected("metadata", "; ".join(problems))
        except _Rejected as rejected:
            self._fail(ep.name, dist, version, rejected.stage, str(rejected), "", infos)
            return None
        except BaseException as exc:  # noqa: BLE001 - isolation is the point
            if isinstance(exc, KeyboardInterrupt):
                raise
            detail = f"{type(exc).__name__}: {exc}"
            import traceback  # only on failure: discovery's happy path stays light

            self._fail(ep.name, dist, version, stage, detail, traceback.format_exc())
            return None
        names = tuple(i.name for i in infos)
        elapsed = time.perf_counter() - started
        heavy = tuple(sorted({m.split(".")[0] for m in set(sys.modules) - before} & HEAVY_MODULES))
        return PluginRecord(ep.name, dist, version, names, elapsed, heavy), infos

    def _load_isolated(self, root: Any, allow: set[str] | None, deny: set[str]) -> None:
        from voicebox_core.isolation.envs import environments

        for env in environments(root):
            try:
                from voicebox_core.isolation.envs import describe
                from voicebox_core.isolation.metadata import engine_from_dict

                described = describe(env)
                python = f"{env.python} (Python {described.get('python', '?')})"
                versions = tuple(sorted((str(k), str(v)) for k, v in described.get("versions", {}).items()))
                for plugin in described["plugins"]:
                    if not _selected_names({plugin["name"], plugin["distribution"]}, allow, deny):
                        continue
                    infos = [engine_from_dict(e) for e in plugin["engines"]]
                    record = PluginRecord(
                        plugin["name"], plugin["distribution"], plugin["version"], tuple(i.name for i in infos),
                        0.0, (), str(env.root), python, versions,
                        tuple((p["text"], p["fix"]) for p in plugin.get("requirement_problems", ())))
                    if self._commit(record, infos):
                        self._isolated.update((i.name, env) for i in infos)
                for failure in described.get("failures", ()):
                    if _selected_names({failure["name"], failure["distribution"]}, allow, deny):
                        self.failures.append(PluginFailure(
                            failure["name"], failure["distribution"], failure["version"], failure["stage"],
                            f"{failure['error']} (in the isolated environment {env.root})", failure["traceback"],
                            tuple(failure.get("engines", ())), tuple(failure.get("models", ()))))
            except Exception as exc:  # noqa: BLE001 - one broken environment sets aside only itself
                if _selected_names({env.distribution}, allow, deny):
                    self.failures.append(PluginFailure(env.distribution, env.distribution, "?", "isolated",
                                                       f"{type(exc).__name__}: {exc}", ""))

    def _commit(self, record: PluginRecord, infos: list[EngineInfo]) -> bool:
        try:
            self._check_unique(infos)
        except _Rejected as rejected:
            self._fail(record.name, record.distribution, record.version, rejected.stage,
                       str(rejected), "", infos)
            return False
        self.plugins.append(record)
        for info in infos:
            self._engines[info.name] = info
            self._plugin_of[info.name] = record
            self._models.update((m.model_name, m) for m in info.models)
        return True

    def _collect(self, module: ModuleType, name: str) -> list[EngineInfo]:
        self._pm.register(module, name=name)
        infos: list[Any] = []
        try:
            for impl in self._pm.hook.voicebox_register_engines.get_hookimpls():
                if impl.plugin is module:
                    impl.function(register=infos.append)
        except BaseException:
            self._pm.unregister(module)
            raise
        if not infos and not getattr(module, "VOICEBOX_ENGINES_FROM_CONFIG", False):
            self._pm.unregister(module)
            raise _Rejected("register", f"module {module.__name__} registered no engine")
        return infos

    def _check_unique(self, infos: list[EngineInfo]) -> None:
        taken_engines = set(self._engines)
        taken_models = dict((m, self._plugin_of[c.engine].distribution) for m, c in self._models.items())
        for info in infos:
            if info.name in taken_engines:
                holder = self._plugin_of[info.name]
                owner = holder.distribution + (f" (isolated in {holder.environment})" if holder.isolated else "")
                raise _Rejected("duplicate", f"engine name {info.name!r} is already provided by {owner}")
            taken_engines.add(info.name)
            for model in info.models:
                if model.model_name in taken_models:
                    owner = taken_models[model.model_name]
                    raise _Rejected(
                        "duplicate", f"model name {model.model_name!r} is already provided by {owner}"
                    )
                taken_models[model.model_name] = "this plugin"

    def _fail(self, name: str, dist: str, version: str, stage: str, error: str, tb: str,
              infos: Iterable[EngineInfo] = ()) -> None:
        for plugin in self._pm.get_plugins():
            if self._pm.get_name(plugin) == name:
                self._pm.unregister(plugin)
        infos = list(infos)
        self.failures.append(PluginFailure(
            name, dist, version, stage, error, tb, tuple(i.name for i in infos),
            tuple(m.model_name for i in infos for m in i.models)))

    def _withheld(self, name: str) -> str:
        """Why ``name`` is missing when a set-aside plugin accounts for it (see
        :meth:`PluginFailure.withheld`); a plugin that registered the name comes first."""
        told = [t for f in self.failures if (t := f.withheld(name))]
        return min(told, key=lambda t: "which provides it" not in t, default="")

    # -- lookup --------------------------------------------------------------------------

    @property
    def engines(self) -> list[EngineInfo]:
        return sorted(self._engines.values(), key=lambda e: e.name)

    @property
    def models(self) -> list[ModelConfig]:
        return [m for e in self.engines for m in e.models]

    def engine(self, name: str) -> EngineInfo:
        try:
            return self._engines[name]
        except KeyError:
            raise UnknownEngineError(name, self._engines, self._withheld(name)) from None

    def model(self, name: str) -> ModelConfig:
        """A model by model name, or an engine's default model by engine name."""
        if name in self._models:
            return self._models[name]
        if name in self._engines:
            return self._engines[name].default_model
        raise UnknownModelError(name, [*self._models, *self._engines], self._withheld(name))

    def plugin_of(self, engine: str) -> PluginRecord:
        self.engine(engine)
        return self._plugin_of[engine]

    # -- backends ------------------------------------------------------------------------

    def backend(self, engine: str) -> TTSBackend:
        """The engine's one backend instance, built on first use."""
        info = self.engine(engine)
        with self._lock:
            backend = self._backends.get(engine)
            if backend is None and engine in self._isolated:
                from voicebox_core.isolation.proxy import IsolatedBackend

                backend = IsolatedBackend(self._isolated[engine], engine)
                self._backends[engine] = backend
            if backend is None:
                backend = self._pm.hook.voicebox_create_backend(engine=info)
                if backend is None:
                    backend = _import_attribute(info.backend)()
                if not isinstance(backend, TTSBackend):
                    raise ContractError(
                        f"engine {engine!r}: backend {type(backend).__name__} does not implement "
                        "voicebox_core.TTSBackend"
                    )
                if info.capabilities.streaming and not isinstance(backend, StreamingBackend):
                    raise ContractError(
                        f"engine {engine!r} declares Capabilities(streaming=True), but backend "
                        f"{type(backend).__name__} has no generate_stream (voicebox_core.StreamingBackend)"
                    )
                if info.capabilities.word_timestamps and not isinstance(backend, TimedBackend):
                    raise ContractError(
                        f"engine {engine!r} declares Capabilities(word_timestamps=True), but backend "
                        f"{type(backend).__name__} has no generate_timed (voicebox_core.TimedBackend)"
                    )
                # A backend that runs elsewhere (``remote``) holds no memory here to keep in one
                # thread's arena, and only waits on the network: it needs no engine thread.
                if self.engine_threads and not getattr(backend, "remote", False):
                    from voicebox_core.threads import EngineThread, ThreadedBackend

                    backend = ThreadedBackend(backend, EngineThread(engine))
                self._backends[engine] = backend
        return backend

    def plugin_hooks(self, hook: str) -> list[tuple[str, Any]]:
        """(plugin name, function) of each loaded plugin's implementation of ``hook`` (a hookspec
        of :mod:`voicebox_core.hookspecs`), for a caller that runs each in its own try block."""
        caller = getattr(self._pm.hook, hook)
        return [(impl.plugin_name, impl.function) for impl in caller.get_hookimpls()]

    def loaded_backends(self) -> dict[str, TTSBackend]:
        with self._lock:
            return dict(self._backends)

    def route(self, engine: str, backend: TTSBackend) -> None:
        """Serve ``engine`` through ``backend`` from now on (a remote deployment's proxy)."""
        self.engine(engine)
        if not isinstance(backend, TTSBackend):
            raise ContractError(f"engine {engine!r}: {type(backend).__name__} does not implement voicebox_core.TTSBackend")
        with self._lock:
            self._backends[engine] = backend
            self._routed.add(engine)

    def set_aside(self, engine: str, stage: str, error: str, traceback: str = "") -> None:
        """Withdraw ``engine`` (found, but it cannot be served) and record why."""
        plugin = self.plugin_of(engine)
        info = self._engines.pop(engine)
        for model in info.models:
            self._models.pop(model.model_name, None)
        with self._lock:
            self._backends.pop(engine, None)
            self._routed.discard(engine)
        del self._plugin_of[engine]
        self.failures.append(PluginFailure(engine, plugin.distribution, plugin.version, stage, error, traceback,
                                           (engine,), tuple(m.model_name for m in info.models)))

    def lives(self, engine: str) -> dict[str, Any]:
        """Where the engine runs: ``in-process``, ``isolated`` (environment, Python, versions)
        or what a routed backend says of itself (``lives()``, e.g. a Ray deployment)."""
        plugin = self.plugin_of(engine)
        backend = self._backends.get(engine) if engine in self._routed else None
        if backend is not None and callable(getattr(backend, "lives", None)):
            return dict(backend.lives())
        if plugin.isolated:
            return {"mode": "isolated", "environment": plugin.environment, "python": plugin.python,
                    "versions": dict(plugin.versions)}
        return {"mode": "in-process"}

    def environment_of(self, engine: str) -> Any:
        """The IsolatedEnv an engine runs in, or None when it runs in this process."""
        self.engine(engine)
        return self._isolated.get(engine)

    def close(self) -> None:
        """End every isolated engine's worker (in-process backends are left as they are)."""
        for engine in list(self._isolated):
            backend = self._backends.get(engine)
            if backend is not None:
                backend.unload_model()


def _missing_modules(info: EngineInfo) -> list[str]:
    """``backend`` and ``check`` name modules that exist (found, not imported: no heavy code runs)."""
    problems = []
    for field_name in ("backend", "check"):
        target = getattr(info, field_name)
        if not target:
            continue
        module = target.partition(":")[0]
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            problems.append(f"engine {info.name!r}: field {field_name!r} names module {module!r}, which "
                            f"is not installed (a typo in {target!r}?)")
    return problems


def _import_attribute(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


_registry: Registry | None = None
_registry_lock = threading.Lock()


def get_registry() -> Registry:
    """The process-wide registry, discovered on first call."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = Registry.discover()
        return _registry


def reset_registry() -> None:
    """Forget the process-wide registry (tests, or after installing a plugin)."""
    global _registry
    with _registry_lock:
        _registry = None
