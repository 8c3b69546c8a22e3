"""Metadata, packaging and discovery: these run everywhere, without upstream LuxTTS."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata

from voicebox_core import Registry
from voicebox_core.config import validate_engine
from voicebox_engine_luxtts.plugin import ENGINE, HF_REPO, INFO, MODEL, MODEL_FILES

DIST = "voicebox-engine-luxtts"


def test_engine_metadata_is_valid_and_truthful() -> None:
    assert validate_engine(INFO) == []
    assert INFO.voice_kinds == ("cloned",) and not INFO.preset_voices
    assert INFO.models == (MODEL,)
    assert MODEL.model_name == "luxtts" and MODEL.model_size == "default"
    assert MODEL.sample_rate == 48000
    assert MODEL.hf_repo_id == HF_REPO == "YatharthS/LuxTTS"
    assert MODEL.languages == ("en", "zh")
    assert not MODEL.supports_instruct and not MODEL.needs_trim and not MODEL.bundled
    assert INFO.reference_seconds[0] >= 3.0  # upstream: "use at minimum a 3 second audio file"


def test_model_files_cover_both_loaders() -> None:
    # load_models_cpu reads the ONNX graphs, load_models_gpu reads model.pt; both the rest.
    assert set(MODEL.files) == set(MODEL_FILES) == {
        "tokens.txt", "config.json", "model.pt", "text_encoder.onnx", "fm_decoder.onnx",
        "vocoder/config.yaml", "vocoder/vocos.bin",
    }


def test_distribution_pins_upstream_git_commits() -> None:
    requires = metadata.requires(DIST) or []
    refs = {r.split("@", 1)[0].strip(): r for r in requires if "git+" in r}
    assert set(refs) == {"zipvoice", "linacodec"}
    assert re.search(r"LuxTTS\.git@[0-9a-f]{40}$", refs["zipvoice"])
    assert re.search(r"LinaCodec\.git@[0-9a-f]{40}$", refs["linacodec"])
    torch_req = next(r for r in requires if r.startswith("torch") and not r.startswith("torchaudio"))
    assert "==" not in torch_req


def test_entry_points_are_declared() -> None:
    eps = metadata.distribution(DIST).entry_points
    engines = [ep for ep in eps if ep.group == "voicebox.engines"]
    assert [(ep.name, ep.value) for ep in engines] == [(ENGINE, "voicebox_engine_luxtts.plugin")]
    pyi = {ep.name: ep.value for ep in eps if ep.group == "pyinstaller40"}
    assert pyi == {"hook-dirs": "voicebox_engine_luxtts.__pyinstaller:get_hook_dirs"}


def test_discovery_finds_luxtts_without_importing_torch_or_upstream() -> None:
    code = (
        "import json, sys\n"
        "from voicebox_core import Registry\n"
        "r = Registry.discover()\n"
        "print(json.dumps({'engines': [e.name for e in r.engines], "
        "'failures': [f.distribution for f in r.failures], 'modules': sorted(sys.modules)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    listing = json.loads(out.stdout.strip().splitlines()[-1])
    assert ENGINE in listing["engines"]
    assert DIST not in listing["failures"]
    heavy = ("torch", "zipvoice", "linacodec", "onnxruntime", "transformers", "piper_phonemize")
    assert not [m for m in listing["modules"] if m.split(".")[0] in heavy]


def test_registry_record_names_the_distribution() -> None:
    registry = Registry.discover()
    assert registry.engine(ENGINE).default_model.sample_rate == 48000
    plugin = registry.plugin_of(ENGINE)
    assert plugin.distribution == DIST and plugin.version
