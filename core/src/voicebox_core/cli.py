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


def cmd_engines_list(args: argparse.Namespace) -> int:
    registry = _registry()
    rows, failures = _engine_rows(registry), _failure_rows(registry)
    if args.json:
        print(json.dumps({"engines": rows, "failed": failures}, indent=2))
        return 0
    if not rows:
        print("No engines installed. Install one: `pip install voicebox-engine-<name>`.")
    for row in rows:
        lives = row["lives"]
        where = "isolated" if lives["mode"] == "isolated" else f"loaded in {row['load_ms']} ms"
        print(f"{row['engine']}  {row['display_name']}  [{row['distribution']} {row['version']}, {where}]")
        if lives["mode"] == "isolated":
            versions = ", ".join(f"{k} {v}" for k, v in lives["versions"].items())
            print(f"  lives: isolated in {lives['environment']}; {lives['python']}"
                  + (f"; {versions}" if versions else ""))
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


def cmd_engines_doctor(args: argparse.Namespace) -> int:
    """Plugins that failed to load, requirements the installed versions break (metadata
    only), and with ``--deep`` each engine's model library imported in a child process."""
    from voicebox_core.doctor import deep_check, plugin_problems

    registry = _registry()
    problems = {p.distribution: plugin_problems(p) for p in registry.plugins}
    health = deep_check(registry) if args.deep else []
    broken = bool(registry.failures) or any(problems.values()) or any(not h.ok for h in health)
    if args.json:
        print(json.dumps({
            "plugins": [{"plugin": p.name, "distribution": p.distribution, "version": p.version,
                         "engines": list(p.engines), "load_ms": round(p.load_seconds * 1000, 1),
                         "heavy_imports": list(p.heavy_imports), "slow": p.slow,
                         "requirement_problems": [str(x) for x in problems[p.distribution]]}
                        for p in registry.plugins],
            "failed": _failure_rows(registry),
            "engines": [h.as_dict() for h in health] if args.deep else None,
        }, indent=2))
        return 1 if broken else 0
    print(f"{len(registry.plugins)} plugin(s) loaded, {len(registry.failures)} failed"
          + (f"; {sum(1 for p in problems.values() if p)} with broken requirements" if any(problems.values()) else "")
          + ".")
    for plugin in registry.plugins:
        found = problems[plugin.distribution]
        state = "BROKEN" if found else "SLOW  " if plugin.slow else "OK    "
        where = f"isolated in {plugin.environment}" if plugin.isolated else f"in {plugin.load_seconds * 1000:.1f} ms"
        print(f"{state}{plugin.name} ({plugin.distribution} {plugin.version}): "
              f"{', '.join(plugin.engines)} {where}")
        if plugin.slow:
            print(f"  slow:        {plugin.slow_reason}")
        for problem in found:
            print(f"  requirement: {problem}")
            print(f"  fix:         {problem.fix}")
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
        print("Metadata only; `voicebox engines doctor --deep` also imports each engine's model library.")
    return 1 if broken else 0


def cmd_engines_probe(args: argparse.Namespace) -> int:
    """One engine's deep check, in this process (the doctor runs it in a child)."""
    from voicebox_core.doctor import probe

    result = probe(args.engine)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


def cmd_engines_install(args: argparse.Namespace) -> int:
    """Into its own environment (--isolated), or into this one as pip would, plus the
    plugin's ``upstream`` packages with --no-deps either way."""
    from voicebox_core.isolation import envs

    def say(line: str) -> None:
        print(f"voicebox: {line}", file=sys.stderr, flush=True)

    if args.isolated:
        env = envs.install(args.distribution, constraints=tuple(args.constraint), extra=tuple(args.extra),
                           core=args.core, python=args.python, say=say, verbose=args.verbose)
        described = envs.describe(env)
        engines = [e["name"] for p in described["plugins"] for e in p["engines"]
                   if envs.canonical(p["distribution"]) == env.distribution]
        versions = ", ".join(f"{k} {v}" for k, v in described.get("versions", {}).items())
        print(f"installed {env.distribution} isolated in {env.root}: engines {', '.join(engines)} "
              f"(Python {described.get('python')}" + (f"; {versions})" if versions else ")"))
        return 0
    if getattr(sys, "frozen", False):
        raise UsageError("the frozen app cannot install into itself; add --isolated (and --python PATH)")
    name = envs.requirement_name(args.distribution)
    requirement = args.distribution
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    for path in args.constraint:
        pip += ["-c", path]
    envs._run([*pip, requirement], f"installing {requirement} into {sys.prefix}", say, args.verbose)
    import importlib

    from voicebox_core.worker import upstream_requirements

    importlib.invalidate_caches()
    try:
        upstream = upstream_requirements(name)
    except Exception as exc:  # noqa: BLE001 - the requirement named another project
        raise UsageError(f"{requirement} installed, but no distribution {name} is in this environment "
                         f"({type(exc).__name__})") from None
    if upstream:
        envs._run([*pip, "--no-deps", *upstream], f"installing {', '.join(upstream)} without their own "
                  "dependencies (the plugin's upstream extra)", say, args.verbose)
    if args.extra:
        envs._run([*pip, *args.extra], f"installing {', '.join(args.extra)}", say, args.verbose)
    print(f"installed {name} into {sys.prefix}; `voicebox engines list` shows its engines")
    return 0


def cmd_engines_uninstall(args: argparse.Namespace) -> int:
    from voicebox_core.isolation import envs

    env = envs.find(args.distribution)
    if env is not None:
        envs.uninstall(args.distribution)
        print(f"removed the isolated environment of {env.distribution} ({env.root})")
        return 0
    if getattr(sys, "frozen", False):
        raise UsageError(f"no isolated environment holds {args.distribution!r}")
    import subprocess

    name = envs.requirement_name(args.distribution)
    done = subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", name], capture_output=True, text=True)
    if done.returncode != 0 or "not installed" in (done.stdout + done.stderr):
        raise UsageError(f"{name} is neither isolated nor installed in {sys.prefix}")
    print(f"uninstalled {name} from {sys.prefix}")
    return 0


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


def build_parser() -> argparse.ArgumentParser:
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
    doctor.set_defaults(handler=cmd_engines_doctor)
    install = engines_sub.add_parser("install", help="install an engine distribution (--isolated: in its own environment)")
    install.add_argument("distribution", help="as pip takes it: a name (voicebox-engine-NAME), a wheel, a folder")
    install.add_argument("--isolated", action="store_true",
                         help="in its own environment under the data dir, run in a worker process")
    install.add_argument("-c", "--constraint", action="append", default=[], metavar="FILE",
                         help="pip constraints file (your torch pin), for every step; repeatable")
    install.add_argument("--with", dest="extra", action="append", default=[], metavar="REQ",
                         help="also install this into the environment (a torchaudio wheel...); repeatable")
    install.add_argument("--core", help="where the environment's voicebox-core comes from "
                         "(default: where this one was installed from)")
    install.add_argument("--python", help="the Python that creates the environment (default: this one)")
    install.add_argument("--verbose", action="store_true", help="show pip's output")
    install.set_defaults(handler=cmd_engines_install)
    uninstall = engines_sub.add_parser("uninstall", help="remove an isolated environment, or pip-uninstall")
    uninstall.add_argument("distribution", help="a distribution or engine name")
    uninstall.set_defaults(handler=cmd_engines_uninstall)
    probe = engines_sub.add_parser("probe", help=argparse.SUPPRESS)
    probe.add_argument("engine")
    probe.set_defaults(handler=cmd_engines_probe)

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
    parser = build_parser()
    args = parser.parse_args(sidecar_argv(sys.argv[1:] if argv is None else argv))
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
