"""The tiny Pocket TTS checkpoints as a Hugging Face cache, for tests in and outside this folder.

``build(hub)`` writes, under their real repo ids and pinned commits, English and French:

- ``kyutai/pocket-tts-without-voice-cloning`` @ OPEN_REVISION: ``languages/<lang>/model.safetensors``
  (zero speaker projection), ``tokenizer.json`` and ``embeddings/<voice>.safetensors`` for the
  voices of ``tiny_pocket.VOICES_IN_CACHE``;
- ``kyutai/pocket-tts`` @ each language's gated commit: ``languages/<lang>/model.safetensors``
  (with the projection);

and the tiny architecture as ``<hub>/pocket-tts-tiny.yaml``. It returns the environment that
points the engine at that architecture (the real YAMLs describe the 100M-parameter model).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

TINY_LANGUAGES = ("en", "fr")
OPTIONS_ENV = "VOICEBOX_POCKET_TTS_OPTIONS"


def build(hub: Path) -> dict[str, str]:
    from tiny_pocket import VOICES_IN_CACHE
    from tiny_pocket import build as build_tiny
    from voicebox_core.testing import write_tiny_snapshot
    from voicebox_engine_pocket_tts.plugin import GATED_REPO, LANGUAGES, OPEN_REPO, OPEN_REVISION

    hub = Path(hub)
    architecture = hub / "pocket-tts-tiny.yaml"
    env = {OPTIONS_ENV: json.dumps({"config": str(architecture)})}
    if architecture.is_file():
        return env
    tiny = build_tiny()
    for lang in (lang for lang in LANGUAGES if lang.code in TINY_LANGUAGES):
        folder = f"languages/{lang.stem}"
        files: dict[str, bytes | str] = {f"{folder}/model.safetensors": tiny["open"],
                                         f"{folder}/tokenizer.json": tiny["tokenizer"]}
        files.update({f"{folder}/embeddings/{voice}.safetensors": tiny["voices"][voice]  # type: ignore[index]
                      for voice in VOICES_IN_CACHE[lang.stem]})
        write_tiny_snapshot(hub, OPEN_REPO, files, commit=OPEN_REVISION)  # type: ignore[arg-type]
        write_tiny_snapshot(hub, GATED_REPO, {f"{folder}/model.safetensors": tiny["gated"]},  # type: ignore[dict-item]
                            commit=lang.gated_revision)
    hub.mkdir(parents=True, exist_ok=True)
    architecture.write_text(str(tiny["architecture"]), "utf-8")
    return env
