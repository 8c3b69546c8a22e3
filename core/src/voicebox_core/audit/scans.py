"""The scans of the engine guide's Phase 0.2, as compiled regular expressions.

Each :class:`Scan` is one ``grep`` of the guide, made a little sharper: a ``torch.load``
call is read up to its closing parenthesis before deciding that ``map_location`` is
missing, and comment lines and doctest lines (``#``, ``>>>``, ``...``) never count. Each
scan names the PyInstaller directive (or the runtime fix) a hit implies.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

__all__ = ["SCANS", "Hit", "Scan", "metadata_names", "scan_text", "scans_for"]


@dataclass(frozen=True)
class Scan:
    """One pattern of the guide's Phase 0.2."""

    id: str
    title: str
    #: Any of these substrings must be in a file before the regex runs (a cheap filter).
    needles: tuple[str, ...]
    #: Each starts with a literal, so the regex engine can search for it quickly.
    patterns: tuple[re.Pattern[str], ...]
    #: What a hit implies: a hook directive (``collect_all``...) or a runtime fix.
    directive: str
    advice: str
    #: Import packages that define what the scan looks for: their hits are not uses.
    subjects: tuple[str, ...] = ()
    #: Hits inside string literals are data (a lexer's keyword list), not code.
    code_only: bool = False


@dataclass(frozen=True)
class Hit:
    scan: str
    line: int
    text: str


def _scan(id: str, title: str, needles: tuple[str, ...], patterns: tuple[str, ...],
          directive: str, advice: str, subjects: tuple[str, ...] = (), code_only: bool = False) -> Scan:
    return Scan(id, title, needles, tuple(re.compile(p) for p in patterns), directive, advice,
                subjects, code_only)


SCANS: tuple[Scan, ...] = (
    _scan("getsource", "inspect.getsource", ("getsource",),
          (r"getsource(?:lines)?\(",),
          "collect_all", "needs .py sources in the bundle, else 'could not get source code'"),
    _scan("typeguard", "typeguard / @typechecked", ("typechecked", "typeguard"),
          (r"@typechecked", r"from typeguard\b", r"import typeguard\b"), "collect_all",
          "typeguard calls inspect.getsource at import time", ("typeguard",)),
    _scan("metadata", "importlib.metadata / pkg_resources lookups", ("metadata", "pkg_resources"),
          (r"importlib[._]metadata\b", r"pkg_resources\.(?:get_distribution|require)\b",
           r"from pkg_resources import\b[^\n]*\b(?:get_distribution|require)\b"),
          "copy_metadata", "a frozen app has no .dist-info unless the hook copies it",
          ("importlib_metadata",)),
    _scan("data_files", "data files beside __file__", ("__file__", "resources", "get_data"),
          (r"Path\(\s*__file__\s*\)(?:\.resolve\(\)|\.absolute\(\))?\.parents?\b",
           r"os\.path\.dirname\(\s*(?:os\.path\.(?:abspath|realpath)\(\s*)?__file__",
           r"importlib[._]resources\b", r"resources_path\b",
           r"pkg_resources\.resource_(?:filename|string|stream|listdir|exists)\b",
           r"pkgutil\.get_data\b"),
          "collect_data_files", "the files it opens must be bundled beside the module"),
    _scan("system_paths", "system paths and espeak", ("/usr/", "espeak", "phonemize"),
          (r"/usr/(?:share|lib|local)\b", r"\bespeak", r"\bphonemize\b"), "runtime",
          "a frozen app on another machine has no such path: bundle the data and point the "
          "library at it from a runtime hook (e.g. ESPEAK_DATA_PATH)"),
    _scan("torch_load", "torch.load without map_location", ("torch.load",),
          (r"torch\.load\(",), "runtime",
          "crashes on a CPU-only machine with CUDA-saved weights: wrap the call in "
          "voicebox_core.runtime.torch_load_on_cpu()", ("torch",)),
    _scan("hf_token", "token=True / token=os.getenv", ("token=", "token ="),
          (r"(?<![\w.])(?:use_auth_)?token\s*=\s*(?:True\b|os\.getenv\b|os\.environ\b)",), "runtime",
          "crashes without a stored Hugging Face token: download with token=None yourself"),
    _scan("float64", "float64 / torch.from_numpy / .double()", ("float64", "from_numpy", ".double()"),
          (r"torch\.from_numpy\(", r"\.double\(\)", r"float64\b"), "runtime",
          "librosa and numpy give float64; models expect float32: cast, or use "
          "voicebox_core.runtime.float32_outputs()", ("numpy", "torch"), code_only=True),
    _scan("jit_script", "torch.jit.script", ("jit.script",), (r"jit\.script\b",),
          "collect_all", "TorchScript compiles from .py sources at import time; collect them, "
          "or shim the function without the decorator", ("torch",)),
    _scan("torchaudio_io", "torchaudio.load / torchaudio.save", ("torchaudio.",),
          (r"torchaudio\.(?:load|save)\(",), "runtime",
          "needs torchcodec since torchaudio 2.10: read and write with soundfile "
          "(voicebox_core.runtime.load_audio / save_audio)", ("torchaudio",)),
    _scan("gated_repo", "gated Hugging Face repos", ("meta-llama", "google/gemma", "pyannote/", "gated"),
          (r"meta-llama/[\w.-]+", r"google/gemma[\w.-]*", r"pyannote/[\w.-]+",
           r"(?:from_pretrained|tokenizer_name|AutoTokenizer)[^\n]*gated"),
          "runtime", "a gated repo fails without a token: redirect the config to an ungated "
          "mirror with voicebox_core.runtime.redirect_config_repo()"),
    _scan("lazy_loader", "lazy_loader", ("lazy_loader",), (r"lazy_loader\b",), "collect_all",
          "lazy_loader reads .pyi stubs at run time", ("lazy_loader",)),
)

_NEWLINE = re.compile("\n")
_TRIPLE_QUOTED = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'')
_SKIPPED_LINE = re.compile(r"^\s*(?:#|>>>|\.\.\.)")
_METADATA_CALL = re.compile(
    r"\b(?:version|distribution|metadata|get_distribution|require|requires|files)\(\s*"
    r"""["']([A-Za-z0-9][A-Za-z0-9._-]*)["']"""
)
_MAX_CALL = 2000


def _call_has(text: str, start: int, word: str) -> bool:
    """Whether the call whose ``(`` ends ``text[:start]`` mentions ``word`` before it closes."""
    depth = 1
    end = min(len(text), start + _MAX_CALL)
    for index in range(start, end):
        char = text[index]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return word in text[start:index]
    return word in text[start:end]


def _in_string(line: str, column: int) -> bool:
    """Whether ``column`` of ``line`` is inside a one-line string literal (quotes before it
    are unbalanced)."""
    quote = None
    index = 0
    while index < column:
        char = line[index]
        if char == "\\":
            index += 2
            continue
        if quote is None and char in "'\"":
            quote = char
        elif char == quote:
            quote = None
        elif quote is None and char == "#":
            return False
        index += 1
    return quote is not None


def _docstrings(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _TRIPLE_QUOTED.finditer(text)]


def scans_for(package: str) -> tuple[Scan, ...]:
    """The scans that apply to files of the import package ``package``."""
    return tuple(scan for scan in SCANS if package not in scan.subjects)


def scan_text(text: str, scans: tuple[Scan, ...] = SCANS) -> list[Hit]:
    """Every hit of ``scans`` in one source file, in line order, one per scan and line.

    Hits in comments, doctest lines and triple-quoted strings (docstrings) do not count.
    """
    hits: list[Hit] = []
    newlines: list[int] = []
    lines: list[str] = []
    quoted: list[tuple[int, int]] = []
    starts: list[int] = []
    for scan in scans:
        if not any(needle in text for needle in scan.needles):
            continue
        seen: set[int] = set()
        for pattern in scan.patterns:
            for match in pattern.finditer(text):
                if not lines:
                    newlines = [m.start() for m in _NEWLINE.finditer(text)]
                    lines = text.split("\n")
                    quoted = _docstrings(text)
                    starts = [start for start, _ in quoted]
                number = bisect_right(newlines, match.start())
                if number in seen:
                    continue
                inside = bisect_right(starts, match.start()) - 1
                if inside >= 0 and match.start() < quoted[inside][1]:
                    continue
                line = lines[number]
                if _SKIPPED_LINE.match(line):
                    continue
                if scan.id == "torch_load" and _call_has(text, match.end(), "map_location"):
                    continue
                if scan.code_only and _in_string(line, match.start() - (newlines[number - 1] + 1 if number else 0)):
                    continue
                seen.add(number)
                hits.append(Hit(scan.id, number + 1, line.strip()[:160]))
    hits.sort(key=lambda hit: (hit.line, hit.scan))
    return hits


def metadata_names(text: str) -> list[str]:
    """Names passed as string literals to metadata lookups (``version("tqdm")``...) in ``text``."""
    return _METADATA_CALL.findall(text)
