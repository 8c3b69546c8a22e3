"""``voicebox engines add-remote`` and ``remove-remote``: write the remote-engine configuration.

``add-remote NAME URL`` reads the server's ``/v1/models`` and ``/v1/audio/voices`` once (unless
``--model`` and ``--voice`` name them), so that discovery later needs no network.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

from voicebox_core.errors import InvalidRequestError, NotFoundError

from voicebox_engine_remote import remotes

__all__ = ["add_actions", "cmd_add_remote", "cmd_remove_remote", "read_remote"]

DISTRIBUTION = "voicebox-engine-remote"
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LANGUAGE = re.compile(r"^(auto|[a-z]{2,3}(-[A-Za-z0-9]{2,8})?)$")


def add_actions(subparsers: Any) -> None:
    add = subparsers.add_parser(
        "add-remote", help="serve the models of an OpenAI-compatible speech server as the engine NAME",
        description="Adds (or refreshes) the engine NAME: every model and voice of the OpenAI-compatible "
        "speech server at URL (POST /v1/audio/speech), read now from its /v1/models and /v1/audio/voices "
        "unless --model and --voice name them. Kept in the data dir; a running server sees it after a restart.")
    add.add_argument("name", metavar="NAME", help="the engine's name here: lower case letters, digits, underscores")
    add.add_argument("url", metavar="URL", help="the server's base address, e.g. http://gpu-box:8000")
    add.add_argument("--api-key-env", metavar="VAR",
                     help="environment variable holding the server's API key (the key itself is never stored)")
    add.add_argument("--model", action="append", default=[], metavar="ID", help="a model id of the server; repeatable")
    add.add_argument("--voice", action="append", default=[], metavar="ID", help="a voice of the server; repeatable")
    add.add_argument("--language", action="append", default=[], metavar="CODE",
                     help="languages of models whose server does not say (default: en); repeatable")
    add.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                     help="longest a request may take (default 120)")
    add.add_argument("--retries", type=int, default=2, metavar="N",
                     help="extra tries when the connection fails before any answer (default 2)")
    add.set_defaults(handler=cmd_add_remote)
    remove = subparsers.add_parser("remove-remote", help="forget the remote engine NAME")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(handler=cmd_remove_remote)
    for action in (add, remove):
        action.add_argument("--data-dir", metavar="DIR",
                            help="the data dir of the server that serves it, as `voicebox serve --data-dir` "
                            "(default: VOICEBOX_DATA_DIR, else ~/.local/share/voicebox)")


def _base_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequestError(f"URL {url!r} is not an http(s) address; give one such as http://gpu-box:8000")
    if parts.username or parts.password:
        raise InvalidRequestError("URL holds a user name or password; give the API key through an environment "
                                  "variable instead (--api-key-env VAR)")
    if parts.query or parts.fragment:
        raise InvalidRequestError(f"URL {remotes.public_url(url)!r} has a query or fragment; give the server's base address")
    base = url.strip().rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def read_remote(url: str, api_key: str | None, where: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The server's ``/v1/models`` entries and ``/v1/audio/voices`` entries (one request each)."""
    import httpx

    from voicebox_engine_remote.backend import (
        RemoteError,
        RemoteUnavailableError,
        _message,
        request_error,
    )

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    found = []
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0), headers=headers) as client:
        for path in ("/v1/models", "/v1/audio/voices"):
            try:
                response = client.get(url + path)
            except httpx.HTTPError as exc:
                raise RemoteUnavailableError(f"{where} is unreachable ({type(exc).__name__}: {exc}); start it or "
                                             "check the URL, or name what it serves with --model and --voice") from None
            if response.status_code >= 400:
                raise request_error(response.status_code, _message(response, api_key), where)
            try:
                found.append(response.json())
            except ValueError:
                raise RemoteError(f"{where} answered {path} with no JSON ({_message(response, api_key)[:80]!r}); "
                                  "is it an OpenAI-compatible speech server?") from None
    models, voices = found
    models = models.get("data", []) if isinstance(models, dict) else models
    voices = voices.get("voices", voices.get("data", [])) if isinstance(voices, dict) else voices
    if not isinstance(models, list) or not isinstance(voices, list):
        raise RemoteError(f"{where}: its /v1/models or /v1/audio/voices is not a list; name them with --model and --voice")
    return models, voices


def _models(entries: list[Any]) -> list[tuple[str, str]]:
    """(id, engine it runs on there or '') of each real model (aliases such as tts-1 left out)."""
    out = []
    for entry in entries:
        if isinstance(entry, str):
            out.append((entry, ""))
        elif isinstance(entry, dict) and entry.get("id") and not entry.get("alias_of"):
            out.append((str(entry["id"]), str(entry.get("engine") or "")))
    return out


def _voices(entries: list[Any], models: list[tuple[str, str]], language: str) -> list[remotes.RemoteVoice]:
    voices: dict[str, remotes.RemoteVoice] = {}
    for entry in entries:
        if isinstance(entry, str):
            entry = {"id": entry}
        if not isinstance(entry, dict) or entry.get("kind") == "alias":
            continue
        voice_id = str(entry.get("id") or entry.get("voice_id") or entry.get("name") or "")
        if not voice_id or voice_id in voices:
            continue
        spoken = str(entry.get("language") or language)
        engine = str(entry.get("engine") or "")
        # A server that says which engine speaks a voice (another voicebox serve): its models only.
        served_by = tuple(m for m, e in models if engine and e == engine)
        voices[voice_id] = remotes.RemoteVoice(voice_id, str(entry.get("name") or voice_id),
                                               spoken if _LANGUAGE.match(spoken) else language,
                                               str(entry.get("gender") or ""), served_by)
    return list(voices.values())


def _configured(args: argparse.Namespace) -> dict[str, remotes.Remote]:
    if args.data_dir:  # where remotes.config_path() looks from now on
        os.environ["VOICEBOX_DATA_DIR"] = os.path.abspath(args.data_dir)
    try:
        return remotes.load()
    except ValueError as exc:  # a file edited by hand, or cut short by a full disk
        raise InvalidRequestError(str(exc)) from None


def cmd_add_remote(args: argparse.Namespace) -> int:
    name = args.name
    if not remotes.ENGINE_NAME.match(name):
        raise InvalidRequestError(f"engine name {name!r} must be lower case letters, digits and underscores, "
                                  "starting with a letter (at most 40)")
    url = _base_url(args.url)
    if args.api_key_env is not None and not _VARIABLE.match(args.api_key_env):
        raise InvalidRequestError(f"--api-key-env {args.api_key_env!r} is not an environment variable name; "
                                  "give the variable's NAME (e.g. GPU_BOX_KEY), not the key")
    if not 0 < args.timeout <= 3600:
        raise InvalidRequestError(f"--timeout {args.timeout:g} is out of range; give 1 to 3600 seconds")
    if not 0 <= args.retries <= 10:
        raise InvalidRequestError(f"--retries {args.retries} is out of range; give 0 to 10")
    languages = tuple(dict.fromkeys(args.language)) or ("en",)
    if bad := [lang for lang in languages if not _LANGUAGE.match(lang)]:
        raise InvalidRequestError(f"--language {bad[0]!r} is not an ISO 639 code such as 'en'")
    configured = _configured(args)
    existed = name in configured
    _refuse_taken(name, configured)
    where = f"engine {name!r}: the speech server at {remotes.public_url(url)}"
    model_entries: list[Any] = list(args.model)
    voice_entries: list[Any] = list(args.voice)
    if not (args.model and args.voice):
        key = os.environ.get(args.api_key_env) if args.api_key_env else None
        served, spoken = read_remote(url, key, where)
        model_entries = model_entries or served
        voice_entries = voice_entries or spoken
    models = _models(model_entries)
    if not models:
        raise InvalidRequestError(f"{where} lists no models; name one with --model ID")
    voices = _voices(voice_entries, models, languages[0])
    if not voices:
        raise InvalidRequestError(f"{where} lists no voices; name one with --voice ID")
    remote_models = tuple(
        remotes.RemoteModel(model_id, tuple(dict.fromkeys(
            v.language for v in voices if not v.models or model_id in v.models)) or languages)
        for model_id, _engine in models)
    remote = remotes.Remote(name, url, remote_models, tuple(voices), args.api_key_env, args.timeout, args.retries)
    configured[name] = remote
    path = remotes.save(configured)
    print(f"{'updated' if existed else 'added'} remote engine {name!r} "
          f"({remote.public_url}): {len(remote_models)} model(s) "
          f"({', '.join(remotes.model_name_of(name, m.id) for m in remote_models[:5])}"
          f"{', …' if len(remote_models) > 5 else ''}), {len(voices)} voice(s); kept in {path}; "
          "a running voicebox serve sees it after a restart")
    return 0


def _refuse_taken(name: str, configured: dict[str, remotes.Remote]) -> None:
    """An engine name another plugin provides cannot be a remote's."""
    from voicebox_core.registry import get_registry

    registry = get_registry()
    if name in {e.name for e in registry.engines} and name not in configured:
        owner = registry.plugin_of(name).distribution
        if owner == DISTRIBUTION:  # a remote of the data dir discovery saw (not --data-dir's)
            return
        raise InvalidRequestError(f"engine name {name!r} is taken by {owner}; choose another NAME")


def cmd_remove_remote(args: argparse.Namespace) -> int:
    configured = _configured(args)
    if args.name not in configured:
        raise NotFoundError(f"no remote engine {args.name!r}; configured: {', '.join(sorted(configured)) or 'none'}")
    remote = configured.pop(args.name)
    path = remotes.save(configured)
    print(f"removed remote engine {args.name!r} ({remote.public_url}) from {path}; "
          "a running voicebox serve drops it after a restart")
    return 0
