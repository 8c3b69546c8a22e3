"""Plugins add actions under `voicebox engines` (hook voicebox_engines_commands), fault-isolated,
and a plugin whose engines come from configuration may register none."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import importlib_metadata
import pytest
from voicebox_core import cli, registry
from voicebox_core.registry import ENTRY_POINT_GROUP, Registry

ADDS = '''
import voicebox_core as vb
VOICEBOX_API_VERSION = vb.API_VERSION
VOICEBOX_ENGINES_FROM_CONFIG = True  # nothing configured: no engine, still loaded

@vb.hookimpl
def voicebox_register_engines(register):
    pass

def hello(args):
    print(f"hello {args.who}")
    return 0

@vb.hookimpl
def voicebox_engines_commands(subparsers):
    action = subparsers.add_parser("hello", help="say hello")
    action.add_argument("who")
    action.set_defaults(handler=hello)
'''

RAISES = '''
import voicebox_core as vb
VOICEBOX_API_VERSION = vb.API_VERSION
VOICEBOX_ENGINES_FROM_CONFIG = True

@vb.hookimpl
def voicebox_register_engines(register):
    pass

@vb.hookimpl
def voicebox_engines_commands(subparsers):
    raise RuntimeError("broken actions")
'''

SILENT = '''
import voicebox_core as vb
VOICEBOX_API_VERSION = vb.API_VERSION

@vb.hookimpl
def voicebox_register_engines(register):
    pass
'''


@pytest.fixture
def plugins(tmp_path: Path) -> Iterator[Registry]:
    for name, source in (("actions_adds", ADDS), ("actions_raises", RAISES), ("actions_silent", SILENT)):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    sys.path.insert(0, str(tmp_path))
    points = [importlib_metadata.EntryPoint(name, name, ENTRY_POINT_GROUP)
              for name in ("actions_adds", "actions_raises", "actions_silent")]
    found = Registry.discover(points, strict=False, isolated=False)
    registry._registry = found
    try:
        yield found
    finally:
        registry.reset_registry()
        sys.path.remove(str(tmp_path))
        for name in ("actions_adds", "actions_raises", "actions_silent"):
            sys.modules.pop(name, None)


def test_a_plugin_of_configured_engines_may_register_none(plugins: Registry) -> None:
    assert {p.name for p in plugins.plugins} == {"actions_adds", "actions_raises"}
    assert [(f.name, f.stage) for f in plugins.failures] == [("actions_silent", "register")]


def test_plugin_actions_run_and_a_raising_hook_breaks_nothing(plugins: Registry,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["engines", "hello", "world"]) == 0
    out, err = capsys.readouterr()
    assert out == "hello world\n"
    assert "plugin 'actions_raises' could not add its `voicebox engines` actions (RuntimeError: broken actions)" in err
    assert cli.main(["engines", "list", "--json"]) == 0  # a core action never asks the plugins
    assert "actions_raises" not in capsys.readouterr().err
