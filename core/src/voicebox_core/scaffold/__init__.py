"""``voicebox engine new NAME``: a complete engine plugin that passes the conformance kit.

    voicebox engine new myengine                      # preset voices
    voicebox engine new myengine --voice-kind cloned  # zero-shot cloning from a clip
    voicebox engine new myengine --dir ~/src

writes ``<dir>/voicebox-engine-<name>/`` (underscores in NAME become hyphens in the
distribution and folder names, as PyPI normalises them): a pyproject with both entry points,
the metadata module, a backend that speaks tones until replaced, the PyInstaller hook with
its freeze test, the conformance tests, a README, an audit template and a freeze script.
Nothing existing is ever overwritten.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from voicebox_core.config import _ENGINE
from voicebox_core.errors import InvalidRequestError

__all__ = ["PluginNames", "ScaffoldError", "create_plugin", "plugin_names", "run"]

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


class ScaffoldError(InvalidRequestError):
    """A bad engine name, or a target that already exists (exit 2)."""


@dataclass(frozen=True)
class PluginNames:
    name: str
    slug: str
    distribution: str
    package: str
    display: str
    backend_class: str


def plugin_names(name: str) -> PluginNames:
    """Every name derived from the engine name, or a ScaffoldError that says what to change."""
    if not _ENGINE.match(name):
        hint = name.lower().replace("-", "_").replace(" ", "_")
        suggestion = f" (e.g. {hint!r})" if _ENGINE.match(hint) else ""
        raise ScaffoldError(f"invalid engine name {name!r}: use 1-40 lower-case letters, digits "
                            f"and underscores, starting with a letter{suggestion}")
    if name.endswith("_") or "__" in name:
        raise ScaffoldError(f"invalid engine name {name!r}: no trailing or doubled underscore "
                            "(the distribution name voicebox-engine-<name> would be invalid)")
    # Python keywords (``class``, ``match``...) are fine: the name only ever appears in
    # strings and inside ``voicebox_engine_<name>``.
    if name.startswith("voicebox"):
        raise ScaffoldError(f"invalid engine name {name!r}: leave out the 'voicebox' prefix; "
                            f"the distribution is already called voicebox-engine-<name>")
    slug = name.replace("_", "-")
    words = name.split("_")
    return PluginNames(
        name=name,
        slug=slug,
        distribution=f"voicebox-engine-{slug}",
        package=f"voicebox_engine_{name}",
        display=" ".join(w.capitalize() for w in words),
        backend_class="".join(w.capitalize() for w in words) + "Backend",
    )


def _core_requirement() -> str:
    from voicebox_core import __version__

    major, minor = (int(part) for part in __version__.split(".")[:2])
    upper = f"0.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"voicebox-core>={major}.{minor},<{upper}"


def _values(names: PluginNames, voice_kind: str) -> dict[str, str]:
    values = {
        "name": names.name,
        "slug": names.slug,
        "distribution": names.distribution,
        "package": names.package,
        "display": names.display,
        "backend_class": names.backend_class,
        "core_requirement": _core_requirement(),
        "voice_kind": voice_kind,
    }
    if voice_kind == "preset":
        values |= {
            "voices": "\n#: The built-in voices: (id, display name, language, gender).\nVOICES = (\n"
                      '    vb.PresetVoice("calm", "Calm", "en", "female"),\n'
                      '    vb.PresetVoice("bright", "Bright", "en", "male"),\n)',
            "voice_kinds": '"preset",',
            "voice_fields": "\n            preset_voices=VOICES,\n            default_voice=\"calm\",",
            "say_voice": "--voice calm ",
            "voices_row": ", `PresetVoice`s",
        }
    else:
        values |= {
            "voices": "",
            "voice_kinds": '"cloned",',
            "voice_fields": "\n            # Reference clips accepted for cloning, in seconds (min, max)."
                            "\n            reference_seconds=(2.0, 30.0),",
            "say_voice": "--ref-audio me.wav --ref-text \"what I say in it\" ",
            "voices_row": "",
        }
    return values


def _files(names: PluginNames, voice_kind: str) -> dict[str, str]:
    """Output path (relative to the plugin folder) -> template name."""
    package = f"src/{names.package}"
    return {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        ".gitignore": "gitignore.tmpl",
        "freeze.py": "freeze.py.tmpl",
        f"{package}/__init__.py": "package_init.py.tmpl",
        f"{package}/plugin.py": "plugin.py.tmpl",
        f"{package}/backend.py": f"backend_{voice_kind}.py.tmpl",
        f"{package}/__pyinstaller/__init__.py": "pyinstaller_init.py.tmpl",
        f"{package}/__pyinstaller/hook-{names.package}.py": "hook.py.tmpl",
        f"{package}/__pyinstaller/tests/conftest.py": "pyinstaller_conftest.py.tmpl",
        f"{package}/__pyinstaller/tests/test_{names.name}_frozen.py": "frozen_test.py.tmpl",
        "tests/test_conformance.py": "test_conformance.py.tmpl",
        "docs/audit.md": "audit.md.tmpl",
    }


def _render(template: str, values: dict[str, str]) -> str:
    text = resources.files(__package__).joinpath("templates", template).read_text("utf-8")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def create_plugin(name: str, voice_kind: str = "preset", parent: str | Path = ".") -> Path:
    """Write the plugin folder and return it; refuses to touch any existing file."""
    if voice_kind not in ("preset", "cloned"):
        raise ScaffoldError(f"voice kind {voice_kind!r} is not one of: cloned, preset")
    names = plugin_names(name)
    parent = Path(parent).expanduser()
    if parent.exists() and not parent.is_dir():
        raise ScaffoldError(f"--dir {str(parent)!r} is a file, not a directory")
    root = parent / names.distribution
    files = _files(names, voice_kind)
    clashes = [rel for rel in files if (root / rel).exists()]
    if clashes:
        raise ScaffoldError(f"{root / clashes[0]} already exists; nothing was written "
                            "(remove it or choose another --dir)")
    values = _values(names, voice_kind)
    rendered = {rel: _render(template, values) for rel, template in files.items()}
    for rel, text in rendered.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8") as handle:  # "x": never overwrite
            handle.write(text)
    return root


def run(args: argparse.Namespace) -> int:
    """Entry of ``voicebox engine new``."""
    root = create_plugin(args.name, args.voice_kind, args.dir)
    names = plugin_names(args.name)
    count = sum(1 for p in root.rglob("*") if p.is_file())
    print(f"created the engine {names.name!r} ({args.voice_kind} voices): distribution "
          f"{names.distribution}, {count} files in {root.resolve()}/")
    print("next:")
    print(f"  cd {root}")
    print('  pip install -e ".[test]"')
    print("  voicebox engines list")
    print("  pytest tests")
    print(f"  voicebox audit {names.distribution}")
    print(f"then replace src/{names.package}/backend.py with your model (guide: docs/authoring.md)")
    return 0
