"""The two hooks a plugin implements, and the contract version it is built for.

A plugin module named by a ``voicebox.engines`` entry point declares
``VOICEBOX_API_VERSION = "1.0"`` and implements ``voicebox_register_engines`` (metadata
only: it must not import torch or its model library). ``voicebox_create_backend`` is
optional: without it the core builds ``EngineInfo.backend``. ``voicebox_engines_commands`` is
optional too: a plugin whose engines come from the user's configuration adds the actions
that write it under ``voicebox engines``. Such a plugin sets
``VOICEBOX_ENGINES_FROM_CONFIG = True`` and may then register no engine (none configured yet).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pluggy

from voicebox_core.backend import TTSBackend
from voicebox_core.config import EngineInfo

__all__ = ["API_VERSION", "PROJECT_NAME", "hookimpl", "hookspec"]

#: Contract version. A plugin whose major version differs is refused.
API_VERSION = "1.0"
PROJECT_NAME = "voicebox"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def voicebox_register_engines(register: Callable[[EngineInfo], None]) -> None:
    """Call ``register(EngineInfo(...))`` once per engine this plugin provides. Cheap: no model imports."""


@hookspec(firstresult=True)
def voicebox_create_backend(engine: EngineInfo) -> TTSBackend | None:
    """Build the backend of ``engine``, or return None if this plugin does not provide it.

    Called lazily, once per engine, on first use, under the registry's lock.
    """


@hookspec
def voicebox_engines_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add actions under ``voicebox engines`` with ``subparsers.add_parser(NAME, help=...)``; each
    sets ``handler`` (``set_defaults(handler=function)``), a function of the parsed arguments
    that returns the exit code and raises a :class:`~voicebox_core.errors.VoiceboxError` for a
    mistake of the user's. Cheap: the CLI calls it while building its parser (only for an
    ``engines`` action that is not the core's own, or ``--help``); a hook that raises loses its
    plugin's actions, never the CLI.
    """
