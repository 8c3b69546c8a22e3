"""The ``voicebox`` command line.

Every user mistake exits 2 with one line that says what to fix; a failure of an engine exits
1 with one line. ``VOICEBOX_DEBUG=1`` adds the traceback. Heavy modules (the server, the
scaffold, the audit tool, any engine) are imported only by the command that needs them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from voicebox_core.errors import VoiceboxError

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]


class UsageError(VoiceboxError):
    """A command-line mistake (exit 2)."""


def _registry() -> Any:
    from voicebox_core.registry import get_registry

    return get_registry()


# -- engines -----------------------------------------------------------------------------


def _engine_rows(registry: Any) -> list[dict[str, Any]]:
    rows = []
    for info in registry.engines:
        plugin = registry.plugin_of(info.name)
        rows.append({
            "engine": info.name,
            "display_name": info.display_name,
            "distribution": plugin.distribution,
            "version": plugin.version,
            "load_ms": round(plugin.load_seconds * 1000, 1),
            "lives": registry.lives(info.name),
            "heavy_imports": list(plugin.heavy_imports),
            "slow": plugin.slow,
            "voice_kinds": list(info.voice_kinds),
            "languages": list(info.languages),
            "preset_voices": len(info.preset_voices),
            "default_voice": info.default_voice,
            "models": [
                {"model_name": m.model_name, "display_name": m.display_name,
                 "sample_rate": m.sample_rate, "languages": list(m.languages),
                 "size_mb": m.size_mb, "bundled": m.bundled}
                for m in info.models
            ],
        })
    return rows


def _failure_rows(registry: Any) -> list[dict[str, str]]:
    return [{"plugin": f.name, "distribution": f.distribution, "version": f.version,
             "stage": f.stage, "reason": f.error} for f in registry.failures]


def _statuses(registry: Any) -> dict[str, Any]:
    """The last deep check of each engine, if it still holds (voicebox_core.health)."""
    from voicebox_core.health import status_of

    return status_of(registry)


def cmd_engines_list(args: argparse.Namespace) -> int:
    registry = _registry()
    rows, failures = _engine_rows(registry), _failure_rows(registry)
    statuses = _statuses(registry)
    for row in rows:
        status = statuses.get(row["engine"])
        row["check"] = {"state": status.state, "error": status.error, "fix": status.fix} if status else None
    if args.json:
        print(json.dumps({"engines": rows, "failed": failures}, indent=2))
        return 0
    if not rows and failures:
        print(f"No engine loaded: {len(failures)} installed plugin(s) failed to load (below).")
    elif not rows:
        print("No engines installed. Install one: `voicebox engines install NAME`.")
    for row in rows:
        lives = row["lives"]
        where = "isolated" if lives["mode"] == "isolated" else f"loaded in {row['load_ms']} ms"
        print(f"{row['engine']}  {row['display_name']}  [{row['distribution']} {row['version']}, {where}]")
        if lives["mode"] == "isolated":
            versions = ", ".join(f"{k} {v}" for k, v in lives["versions"].items())
            print(f"  lives: isolated in {lives['environment']}; {lives['python']}"
                  + (f"; {versions}" if versions else ""))
        status = statuses.get(row["engine"])
        if status is not None:
            print(f"  {status.describe()}")
        if row["slow"]:
            print(f"  SLOW: {registry.plugin_of(row['engine']).slow_reason} (voicebox engines doctor)")
        print(f"  voices: {', '.join(row['voice_kinds'])}"
              + (f" ({row['preset_voices']} presets, default {row['default_voice']})"
                 if row["preset_voices"] else ""))
        print(f"  languages: {', '.join(row['languages'])}")
        for model in row["models"]:
            print(f"  model {model['model_name']}: {model['display_name']}, "
                  f"{model['sample_rate']} Hz" + (", bundled" if model["bundled"] else ""))
    if failures:
        print(f"\n{len(failures)} plugin(s) failed to load (details: voicebox engines doctor):")
        for failure in failures:
            print(f"  {failure['plugin']} ({failure['distribution']} {failure['version']}): "
                  f"{failure['stage']} failed: {failure['reason'].splitlines()[0]}")
    return 0


def _plugin_state(plugin: Any, problems: list[Any], statuses: dict[str, Any]) -> str:
    """OK only when the metadata holds and the last deep check, made on this installed set,
    passed for every engine of the plugin."""
    states = {statuses[e].state for e in plugin.engines if e in statuses}
    if problems:
        return "BROKEN"
    if "failed" in states:
        return "FAILED"
    if "stale" in states:
        return "STALE"
    if plugin.slow:
        return "SLOW"
    return "UNCHECKED" if "unchecked" in states else "OK"


def cmd_engines_doctor(args: argparse.Namespace) -> int:
    """Plugins that failed to load, requirements the installed versions break (metadata
    only), each engine's last deep check, and with ``--deep`` each engine's model library
    imported in a child process now."""
    from voicebox_core.doctor import deep_check, plugin_problems

    if args.local:
        from voicebox_core.registry import Registry

        registry = Registry.discover(isolated=False)
    else:
        registry = _registry()
    problems = {p.distribution: plugin_problems(p) for p in registry.plugins}
    health = deep_check(registry) if args.deep else []
    statuses = _statuses(registry)  # after a --deep run: what it just found
    states = {p.distribution: _plugin_state(p, problems[p.distribution], statuses) for p in registry.plugins}
    # A check that no longer holds (the environment changed since) is not an OK; one never
    # made (a fresh install by hand) is said, but is no failure.
    broken = (bool(registry.failures) or any(problems.values()) or any(not h.ok for h in health)
              or any(s in ("FAILED", "STALE") for s in states.values()))
    if args.json:
        print(json.dumps({
            "plugins": [{"plugin": p.name, "distribution": p.distribution, "version": p.version,
                         "engines": list(p.engines), "load_ms": round(p.load_seconds * 1000, 1),
                         "heavy_imports": list(p.heavy_imports), "slow": p.slow,
                         "state": states[p.distribution],
                         "requirement_problems": [str(x) for x in problems[p.distribution]]}
                        for p in registry.plugins],
            "failed": _failure_rows(registry),
            "engines": [h.as_dict() for h in health] if args.deep else None,
            "checks": {e: {"state": s.state, "error": s.error, "fix": s.fix} for e, s in statuses.items()},
        }, indent=2))
        return 1 if broken else 0
    print(f"{len(registry.plugins)} plugin(s) loaded, {len(registry.failures)} failed"
          + (f"; {sum(1 for p in problems.values() if p)} with broken requirements" if any(problems.values()) else "")
          + ".")
    for plugin in registry.plugins:
        found = problems[plugin.distribution]
        where = f"isolated in {plugin.environment}" if plugin.isolated else f"in {plugin.load_seconds * 1000:.1f} ms"
        print(f"{states[plugin.distribution]:<5} {plugin.name} ({plugin.distribution} {plugin.version}): "
              f"{', '.join(plugin.engines) or 'no engine (none configured)'} {where}")
        if plugin.slow:
            print(f"  slow:        {plugin.slow_reason}")
        for problem in found:
            print(f"  requirement: {problem}")
            print(f"  fix:         {problem.fix}")
        for engine in plugin.engines:
            status = statuses.get(engine)
            if status is not None and not status.vouched:
                print(f"  {engine}: {status.describe()}")
                if status.fix:
                    print(f"  fix:         {status.fix}")
    for failure in registry.failures:
        print(f"\nFAIL  {failure.name} ({failure.distribution} {failure.version})")
        print(f"  stage: {failure.stage}")
        print(f"  error: {failure.error}")
        print(f"  fix:   {failure.hint}")
        if failure.traceback:
            print("  traceback:\n    " + failure.traceback.rstrip().replace("\n", "\n    "))
    if args.deep:
        print("\nDeep check (each engine's model library imported in a child process):")
        for item in health:
            print(f"{'ok  ' if item.ok else 'FAIL'}  {item.engine} ({item.distribution}) in {item.seconds:.1f} s")
            if not item.ok:
                print(f"  {item.stage}: {item.error}")
                print(f"  fix: {item.fix}")
    elif not registry.failures:
        print("Metadata and the last deep check; `voicebox engines doctor --deep` imports each engine's "
              "model library now.")
    return 1 if broken else 0


def cmd_engines_probe(args: argparse.Namespace) -> int:
    """One engine's deep check, in this process (the doctor runs it in a child)."""
    from voicebox_core.doctor import probe

    result = probe(args.engine)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


def _say(line: str) -> None:
    print(f"voicebox: {line}", file=sys.stderr, flush=True)


def _sources(args: argparse.Namespace) -> list[str]:
    found: list[str] = []
    for flag, values in (("--index-url", [args.index_url] if args.index_url else []),
                         ("--extra-index-url", args.extra_index_url), ("--find-links", args.find_links)):
        for value in values:
            found += [flag, value]
    if args.no_index:
        found.append("--no-index")
    if args.pre:
        found.append("--pre")
    return found


def _report(outcomes: list[Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps([o.as_dict() for o in outcomes] if len(outcomes) != 1 else outcomes[0].as_dict(), indent=2))
        return
    for outcome in outcomes:
        print(outcome.summary())


def cmd_engines_install(args: argparse.Namespace) -> int:
    """Plan, decide where it lives, install, repair, check; keep or roll back (voicebox_core.installer)."""
    from voicebox_core import installer

    if args.isolated and args.in_process:
        raise UsageError("give --isolated or --in-process, not both")
    mode = "isolated" if args.isolated else "in-process" if args.in_process else "auto"
    outcomes = []
    for name in args.names:
        outcomes.append(installer.install(
            name, mode=mode, force=args.force, sources=_sources(args), constraints=args.constraint,
            extra=args.extra, core=args.core, python=args.python, verbose=args.verbose, say=_say))
        _reset_registry()
    _report(outcomes, args.json)
    return 0


def cmd_engines_uninstall(args: argparse.Namespace) -> int:
    from voicebox_core import installer

    _report([installer.uninstall(args.distribution, verbose=args.verbose, say=_say)], args.json)
    return 0


def cmd_engines_repair(args: argparse.Namespace) -> int:
    from voicebox_core import installer

    _report([installer.repair(args.name, sources=_sources(args), verbose=args.verbose, say=_say)], args.json)
    return 0


def _reset_registry() -> None:
    from voicebox_core.registry import reset_registry

    reset_registry()
    import importlib

    importlib.invalidate_caches()


# -- models ------------------------------------------------------------------------------


def cmd_models_list(args: argparse.Namespace) -> int:
    from voicebox_core.runtime.download import is_downloaded

    rows = []
    for model in _registry().models:
        on_disk = is_downloaded(model)
        rows.append({"model_name": model.model_name, "engine": model.engine,
                     "repo": model.hf_repo_id, "downloaded": on_disk, "size_mb": model.size_mb})
    if args.json:
        print(json.dumps(rows, indent=2))
    for row in [] if args.json else rows:
        state = "ready" if row["downloaded"] else "not downloaded"
        print(f"{row['model_name']}  ({row['engine']}, {row['size_mb']} MB): {state}")
    return 0


def cmd_models_download(args: argparse.Namespace) -> int:
    from voicebox_core.runtime.download import DownloadProgress, ensure_model

    model = _registry().model(args.model)
    if model.bundled and not model.requires:
        print(f"{model.model_name} ships with its engine's package; nothing to download.")
        return 0

    def show(p: DownloadProgress) -> None:
        if p.total:
            print(f"\r{p.model_name}: {p.downloaded / 1e6:.1f} / {p.total / 1e6:.1f} MB", end="",
                  file=sys.stderr, flush=True)

    path = ensure_model(model, show)
    print(f"\n{model.model_name} is ready in {path}")
    return 0


def cmd_models_delete(args: argparse.Namespace) -> int:
    from voicebox_core.runtime.download import delete_model

    model = _registry().model(args.model)
    removed = delete_model(model)
    print(f"{model.model_name}: {'deleted' if removed else 'was not downloaded'}")
    return 0


# -- say ---------------------------------------------------------------------------------


def cmd_say(args: argparse.Namespace) -> int:
    from voicebox_core.runtime.audio import save_audio
    from voicebox_core.synthesis import SynthesisRequest, Synthesizer, Voice

    registry = _registry()
    if args.engine is None and args.model is None:
        raise UsageError("give --engine (or --model); installed engines: "
                         + (", ".join(e.name for e in registry.engines) or "none"))
    engine = registry.engine(args.engine) if args.engine else None
    # An engine name lets the voice pick its model (engines with one model per voice).
    model = args.model or engine.name
    if engine is not None and registry.model(model).engine != engine.name:
        raise UsageError(f"model {model!r} belongs to engine {registry.model(model).engine!r}, "
                         f"not {engine.name!r}; models of {engine.name}: "
                         + ", ".join(m.model_name for m in engine.models))
    if args.ref_audio and args.voice:
        raise UsageError("give either --voice or --ref-audio, not both")
    if args.ref_text is not None and not args.ref_audio:
        raise UsageError("--ref-text needs --ref-audio")
    voice = None
    if args.voice:
        voice = Voice.preset(args.voice)
    elif args.ref_audio:
        voice = Voice.clone([(args.ref_audio, args.ref_text or "")])
    elif args.design:
        voice = Voice.design(args.design)
    output = Path(args.output)
    if output.is_dir():
        raise UsageError(f"output {str(output)!r} is a directory; give a file name such as out.wav")
    if output.suffix.lower() not in (".wav", ".flac", ".ogg"):
        raise UsageError(f"output {output.name!r} must end in .wav, .flac or .ogg")
    speakers = tuple(Voice.clone([_speaker_clip(s)]) for s in args.speaker or ())
    if speakers and voice is None:
        raise UsageError("--speaker gives the voices of Speaker 2 and on; give Speaker 1's with --voice, "
                         "--ref-audio or --design")
    request = SynthesisRequest(text=args.text, model=model, voice=voice, language=args.language,
                               seed=args.seed, instruct=args.instruct, speakers=speakers)
    import asyncio

    synthesizer = Synthesizer(registry)
    result = asyncio.run(synthesizer.synthesize(request))
    save_audio(output, result.audio, result.sample_rate)
    print(f"wrote {output} ({result.duration:.2f} s, {result.sample_rate} Hz, "
          f"{result.model.model_name}, {result.language})")
    return 0


def _speaker_clip(value: str) -> tuple[str, str]:
    """``CLIP`` or ``CLIP=TRANSCRIPT`` of one ``--speaker``."""
    path, _, text = value.partition("=")
    if not Path(path).is_file():
        raise UsageError(f"--speaker {path!r} is not a file; give a reference clip (CLIP or CLIP=TRANSCRIPT)")
    return path, text


# -- lazily imported commands ------------------------------------------------------------


def _lazy(module: str, function: str, extra: str | None = None) -> Handler:
    def run(args: argparse.Namespace) -> int:
        import importlib

        try:
            target = importlib.import_module(module)
        except ImportError as exc:
            if extra and exc.name and not exc.name.startswith("voicebox_core"):
                raise UsageError(f"this command needs `pip install \"voicebox-core[{extra}]\"` "
                                 f"(missing module {exc.name})") from None
            raise
        result: int = getattr(target, function)(args)
        return result

    return run


def _names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


def _positive_pid(text: str) -> int:
    try:
        pid = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a process id") from None
    if pid <= 0:
        raise argparse.ArgumentTypeError(f"{pid} is not a process id; give a positive integer")
    return pid


#: Flags that, first on the command line, mean ``serve`` (the Voicebox sidecar launch).
SIDECAR_FLAGS = ("--host", "--port", "--data-dir", "--parent-pid")


def sidecar_argv(argv: Sequence[str]) -> list[str]:
    """``voicebox --port 17493 ...`` is ``voicebox serve --port 17493 ...``."""
    argv = list(argv)
    if argv and argv[0].split("=", 1)[0] in SIDECAR_FLAGS:
        return ["serve", *argv]
    return argv


def _pip_sources(parser: argparse.ArgumentParser, constraints: bool = True) -> None:
    """pip's source options, passed through to every pip step."""
    if constraints:
        parser.add_argument("-c", "--constraint", action="append", default=[], metavar="FILE",
                            help="pip constraints file (your torch pin), for every step; repeatable")
    parser.add_argument("-i", "--index-url", metavar="URL", help="as pip's (a PEP 503 index, file:// works)")
    parser.add_argument("--extra-index-url", action="append", default=[], metavar="URL", help="as pip's; repeatable")
    parser.add_argument("-f", "--find-links", action="append", default=[], metavar="URL",
                        help="as pip's: a folder of wheels (a wheelhouse); repeatable")
    parser.add_argument("--no-index", action="store_true", help="as pip's")
    parser.add_argument("--pre", action="store_true", help="as pip's")


#: The core's own ``voicebox engines`` actions: running one never imports a plugin to build the parser.
CORE_ENGINE_ACTIONS = frozenset({"list", "doctor", "install", "uninstall", "repair", "probe"})


def _wants_plugin_actions(argv: Sequence[str]) -> bool:
    """``voicebox engines ACTION`` where ACTION is no core action (a plugin's, or ``--help``)."""
    return bool(argv) and argv[0] == "engines" and (len(argv) < 2 or argv[1] not in CORE_ENGINE_ACTIONS)


def _plugin_actions(engines_sub: Any) -> None:
    """Actions plugins add under ``voicebox engines`` (hook ``voicebox_engines_commands``), each
    plugin in its own try block: one whose hook raises loses its actions, never the CLI."""
    try:
        hooks = _registry().plugin_hooks("voicebox_engines_commands")
    except Exception:  # noqa: BLE001 - discovery failed (strict mode): `engines doctor` says why
        return
    for name, function in hooks:
        try:
            function(subparsers=engines_sub)
        except Exception as exc:  # noqa: BLE001 - isolation is the point
            _say(f"plugin {name!r} could not add its `voicebox engines` actions "
                 f"({type(exc).__name__}: {exc}); `voicebox engines doctor` shows the plugin")


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; for ``argv`` naming an ``engines`` action the core lacks (or asking for help),
    with the actions installed plugins add there."""
    from voicebox_core import __version__

    parser = argparse.ArgumentParser(
        prog="voicebox", description="Voicebox TTS engines. Leading server flags (--host, --port, "
        "--data-dir, --parent-pid) mean `voicebox serve`, as the Voicebox app launches its sidecar.")
    parser.add_argument("--version", action="version", version=f"voicebox {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    engines = sub.add_parser("engines", help="list installed engines, diagnose plugins")
    engines_sub = engines.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = engines_sub.add_parser("list", help="engines, models, voices, load times")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=cmd_engines_list)
    doctor = engines_sub.add_parser("doctor", help="failed plugins, broken requirements, their fixes")
    doctor.add_argument("--deep", action="store_true",
                        help="also import each engine's model library in a child process")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument("--local", action="store_true", help=argparse.SUPPRESS)  # this environment's engines only
    doctor.set_defaults(handler=cmd_engines_doctor)
    install = engines_sub.add_parser(
        "install", help="add an engine: plan, isolate when it must, repair, check, or roll back",
        description="Adds an engine and ends with every engine working, or changes nothing. pip's resolver "
        "plans the install first; an engine whose requirements would break an installed engine's goes into "
        "its own environment (isolated), saying why. After installing: the plugin's upstream packages "
        "(--no-deps) and a torchaudio that imports, then the deep check of every engine that shares the "
        "environment; a failure puts the environment back exactly as it was.")
    install.add_argument("names", nargs="+", metavar="NAME",
                         help="an engine or distribution name (NAME = voicebox-engine-NAME), a wheel or a plugin folder")
    place = install.add_mutually_exclusive_group()
    place.add_argument("--isolated", action="store_true", help="always in its own environment under the data dir")
    place.add_argument("--in-process", action="store_true",
                       help="in this environment, or refuse when that would break an installed engine")
    install.add_argument("--force", action="store_true", help="with --in-process: install even when it breaks one")
    _pip_sources(install)
    install.add_argument("--with", dest="extra", action="append", default=[], metavar="REQ",
                         help="also install this beside the engine; repeatable")
    install.add_argument("--core", help="where an isolated environment's voicebox-core comes from "
                         "(default: where this one was installed from)")
    install.add_argument("--python", help="the Python that creates an isolated environment "
                         "(default: this one; the frozen app: VOICEBOX_PYTHON, else python3 on PATH)")
    install.add_argument("--verbose", action="store_true", help="show pip's output")
    install.add_argument("--json", action="store_true", help="what happened, as JSON")
    install.set_defaults(handler=cmd_engines_install)
    uninstall = engines_sub.add_parser(
        "uninstall", help="remove an engine (its isolated environment, or the plugin and what only it needed)")
    uninstall.add_argument("distribution", metavar="NAME", help="an engine or distribution name")
    uninstall.add_argument("--verbose", action="store_true", help="show pip's output")
    uninstall.add_argument("--json", action="store_true", help="what happened, as JSON")
    uninstall.set_defaults(handler=cmd_engines_uninstall)
    repair = engines_sub.add_parser(
        "repair", help="redo what pip cannot (upstream packages, torchaudio) where an engine lives, then check")
    repair.add_argument("name", nargs="?", metavar="NAME",
                        help="an engine or distribution (default: every engine in this environment)")
    _pip_sources(repair, constraints=False)
    repair.add_argument("--verbose", action="store_true", help="show pip's output")
    repair.add_argument("--json", action="store_true", help="what happened, as JSON")
    repair.set_defaults(handler=cmd_engines_repair)
    probe = engines_sub.add_parser("probe")  # internal: no help, so --help does not list it
    probe.add_argument("engine")
    probe.set_defaults(handler=cmd_engines_probe)
    if _wants_plugin_actions(argv):
        _plugin_actions(engines_sub)

    models = sub.add_parser("models", help="list, download or delete model files")
    models_sub = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    mlist = models_sub.add_parser("list", help="models and whether they are on disk")
    mlist.add_argument("--json", action="store_true")
    mlist.set_defaults(handler=cmd_models_list)
    for name, handler, text in (("download", cmd_models_download, "download a model's files"),
                                ("delete", cmd_models_delete, "delete a model's cached files")):
        action = models_sub.add_parser(name, help=text)
        action.add_argument("model", help="model name (see `voicebox models list`)")
        action.set_defaults(handler=handler)

    say = sub.add_parser("say", help="speak text into an audio file")
    say.add_argument("text")
    say.add_argument("--engine", "-e")
    say.add_argument("--model", "-m")
    say.add_argument("--voice", "-v", help="preset voice id")
    say.add_argument("--ref-audio", help="reference clip to clone (2-30 s)")
    say.add_argument("--ref-text", help="transcript of the reference clip")
    say.add_argument("--design", help="describe a voice (engines with designed voices)")
    say.add_argument("--language", "-l")
    say.add_argument("--seed", type=int)
    say.add_argument("--instruct", help="style instruction (engines that support it)")
    say.add_argument("--speaker", action="append", metavar="CLIP[=TRANSCRIPT]",
                     help="a dialogue: the voice of Speaker 2, then 3... ('Speaker N:' lines in the text; "
                     "engines that voice several speakers)")
    say.add_argument("--output", "-o", required=True, help="output file (.wav, .flac, .ogg)")
    say.set_defaults(handler=cmd_say)

    serve = sub.add_parser("serve", help="run the HTTP API server")
    serve.add_argument("--host", default=os.environ.get("VOICEBOX_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("VOICEBOX_PORT", "17493")))
    serve.add_argument("--data-dir", help="where the database and audio live")
    serve.add_argument("--parent-pid", type=_positive_pid, metavar="PID",
                       help="stop when this process exits (how the Voicebox app runs its sidecar)")
    serve.add_argument("--wyoming", metavar="URI",
                       help="also serve Home Assistant's Wyoming protocol, e.g. tcp://127.0.0.1:10200")
    serve.add_argument("--wyoming-voice", metavar="NAME", help="the Wyoming default voice")
    serve.add_argument("--ray", metavar="ADDRESS",
                       help="serve engines as Ray Serve deployments on this cluster ('local': start one "
                       "here; needs voicebox-core[ray])")
    serve.add_argument("--ray-config", metavar="FILE", help="TOML: engines, replicas, resources (docs/scale.md)")
    serve.add_argument("--ray-engines", metavar="A,B", type=_names, default=(),
                       help="deploy only these engines on Ray (default: every engine); the rest run here")
    serve.add_argument("--ray-replicas", metavar="ENGINE=N", action="append", default=[],
                       help="replicas of one engine's deployment (repeatable)")
    serve.set_defaults(handler=_lazy("voicebox_core.server.main", "serve", extra="server"))

    wyoming = sub.add_parser("wyoming", help="serve Home Assistant's Wyoming protocol (text to speech)")
    wyoming.add_argument("--uri", default=os.environ.get("VOICEBOX_WYOMING_URI", "tcp://127.0.0.1:10200"),
                         help="where to listen: tcp://HOST:PORT or unix://PATH (default loopback)")
    wyoming.add_argument("--data-dir", help="where the database (saved profiles) and audio live")
    wyoming.add_argument("--voice", help="the default voice: '<engine>:<voice id>' or a profile name")
    wyoming.add_argument("--zeroconf", nargs="?", const="", default=None, metavar="NAME",
                         help="announce the service over mDNS (off by default)")
    wyoming.set_defaults(handler=_lazy("voicebox_core.server.wyoming", "run", extra="wyoming"))

    engine = sub.add_parser("engine", help="tools for engine authors")
    engine_sub = engine.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = engine_sub.add_parser("new", help="create a new engine plugin distribution")
    new.add_argument("name", help="engine name: lower case letters, digits, underscores")
    new.add_argument("--voice-kind", choices=("cloned", "preset"), default="preset")
    new.add_argument("--dir", default=".", help="parent directory of the new plugin")
    new.set_defaults(handler=_lazy("voicebox_core.scaffold", "run"))

    audit = sub.add_parser("audit", help="Phase 0 scans over an installed distribution")
    audit.add_argument("distribution")
    audit.add_argument("--json", action="store_true")
    audit.add_argument("--hook", help="also write the implied PyInstaller hook to this file")
    audit.add_argument("--all", action="store_true", help="also walk torch and voicebox-core")
    audit.set_defaults(handler=_lazy("voicebox_core.audit", "run"))
    return parser


def run_startup_scripts() -> None:
    """``VOICEBOX_STARTUP_SCRIPTS``: Python files run before any engine loads (a workaround
    or a test fixture in a frozen app, where there is no ``sitecustomize``)."""
    import runpy

    for script in os.environ.get("VOICEBOX_STARTUP_SCRIPTS", "").split(os.pathsep):
        if not script.strip():
            continue
        if not Path(script).is_file():
            raise UsageError(f"VOICEBOX_STARTUP_SCRIPTS names {script!r}, which is not a file")
        runpy.run_path(script, run_name="__voicebox_startup__")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sidecar_argv(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        run_startup_scripts()
        return int(args.handler(args))
    except VoiceboxError as exc:
        print(f"voicebox: error: {exc}", file=sys.stderr)
        return 2 if exc.status_code < 500 else 1
    except KeyboardInterrupt:
        print("voicebox: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `voicebox engines list | head -1`: the reader had enough
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - python flushes and closes it at exit
        except OSError:
            pass
        return 0
    except Exception as exc:  # noqa: BLE001 - one readable line, never a traceback by default
        if os.environ.get("VOICEBOX_DEBUG"):
            import traceback

            traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"voicebox: error: {type(exc).__name__}: {first} "
              "(set VOICEBOX_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
