"""pocket-tts 4.0.1 imported and loaded without its side effects (docs/audits/pocket_tts.md, 0.2).

- ``import pocket_tts`` sets torch's intra-op threads to 1 for the whole process: the count is
  put back right after the import (:func:`import_pocket_tts`).
- pocket-tts downloads by itself (``hf://`` and ``https://`` paths in its YAMLs) and, when the
  gated cloning weights fail, silently falls back to weights that cannot clone. It never gets a
  remote path here: :func:`build_model` rewrites the packaged YAML to the files
  :func:`~voicebox_core.runtime.ensure_model` returned, with no fallback.
- A gated repository reaches the user as one error saying what to do (:func:`gated_error`).

``VOICEBOX_POCKET_TTS_OPTIONS`` (a JSON object): ``config``, a local YAML whose architecture
replaces the packaged one (the tests' tiny model); paths in it are ignored.

Kept apart from ``backend.py`` so that the backend reads as the TTSBackend flow and this module
as what pocket-tts would otherwise do to the process and fetch by itself.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from voicebox_core import (
    EngineInstallError,
    InvalidRequestError,
    ModelConfig,
    ModelNotDownloadedError,
)
from voicebox_core.runtime import env_options, upstream_import_error

from voicebox_engine_pocket_tts.plugin import GATED_REPO

__all__ = ["OPTIONS_ENV", "build_model", "check_install", "gated_error", "import_pocket_tts"]

OPTIONS_ENV = "VOICEBOX_POCKET_TTS_OPTIONS"
_import_lock = threading.Lock()


def import_pocket_tts() -> ModuleType:
    """``pocket_tts``, with torch's thread count as it was before the import."""
    import torch

    with _import_lock:
        threads = torch.get_num_threads()
        try:
            import pocket_tts
        finally:
            torch.set_num_threads(threads)
    return pocket_tts


def check_install() -> None:
    """The deep doctor's check: pocket_tts imports and finds its packaged configs."""
    try:
        import_pocket_tts()
        from pocket_tts.utils.config import CONFIGS_DIR
    except (ImportError, OSError) as exc:
        raise upstream_import_error(exc, "pocket-tts", "pip install pocket-tts==4.0.1") from exc
    if not (CONFIGS_DIR / "english.yaml").is_file():
        raise EngineInstallError(f"pocket_tts's model configs are missing from {str(CONFIGS_DIR)!r}; reinstall "
                                 "pocket-tts (a frozen app must collect pocket_tts/config/*.yaml)")


def _options() -> dict[str, Any]:
    options = env_options(OPTIONS_ENV, {"config"}, described='with only "config" (a local YAML)')
    if "config" in options and not Path(str(options["config"])).is_file():
        raise InvalidRequestError(f"{OPTIONS_ENV}: config {options['config']!r} is not a local file")
    return options


def gated_error(config: ModelConfig, cause: Exception) -> ModelNotDownloadedError:
    """What to do when the Hub refused ``config``'s gated repository (``cause``)."""
    status = getattr(getattr(cause, "response", None), "status_code", 0)
    why = {401: "you are not logged in", 403: "this account has not accepted the licence"}.get(
        int(status or 0), "no access to it")
    return ModelNotDownloadedError(
        f"model {config.model_name!r} (voice cloning) uses Kyutai's gated weights and Hugging Face "
        f"refused them ({why}): accept the licence at https://huggingface.co/{GATED_REPO}, log in "
        f"(`hf auth login` or HF_TOKEN), then run `voicebox models download {config.model_name}`; "
        f"or use the preset voices, which need none of this (model {config.model_name.removesuffix('-clone')!r})")


def build_model(pocket_tts: ModuleType, stem: str, weights: Path, tokenizer: Path) -> Any:
    """pocket-tts's own loader on a YAML that names local files only (nothing to download)."""
    import yaml
    from pocket_tts.utils.config import CONFIGS_DIR

    raw = yaml.safe_load(Path(_options().get("config") or CONFIGS_DIR / f"{stem}.yaml").read_text("utf-8"))
    raw.update(weights_path=str(weights), weights_path_without_voice_cloning=None)
    raw["flow_lm"]["weights_path"] = raw["mimi"]["weights_path"] = None
    raw["flow_lm"]["lookup_table"]["tokenizer_path"] = str(tokenizer)
    with tempfile.TemporaryDirectory(prefix="voicebox-pocket-tts-") as scratch:
        path = Path(scratch) / f"{stem}.yaml"
        path.write_text(yaml.safe_dump(raw), "utf-8")
        try:
            return pocket_tts.TTSModel.load_model(config=path)
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            raise ModelNotDownloadedError(
                f"Pocket TTS's files {str(weights)!r} and {str(tokenizer)!r} could not be loaded "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); delete the "
                "model and download it again") from exc
