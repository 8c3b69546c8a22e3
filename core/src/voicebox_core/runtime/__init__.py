"""Runtime helpers every engine shares.

Each helper is imported on first use (``voicebox_core.runtime.<name>``), so importing the
package costs nothing; the modules themselves bring numpy, soundfile and huggingface_hub.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "DownloadProgress": "voicebox_core.runtime.download",
    "ModelSlot": "voicebox_core.runtime.models",
    "VoicePromptCache": "voicebox_core.runtime.cache",
    "accelerator": "voicebox_core.runtime.device",
    "as_mono_float32": "voicebox_core.runtime.audio",
    "cached_snapshot": "voicebox_core.runtime.download",
    "change_speed": "voicebox_core.runtime.audio",
    "choose_device": "voicebox_core.runtime.device",
    "crossfade_concat": "voicebox_core.runtime.audio",
    "data_dir": "voicebox_core.runtime.paths",
    "delete_model": "voicebox_core.runtime.download",
    "download_progress": "voicebox_core.runtime.download",
    "empty_device_cache": "voicebox_core.runtime.device",
    "encode_audio": "voicebox_core.runtime.audio",
    "ensure_model": "voicebox_core.runtime.download",
    "env_options": "voicebox_core.runtime.options",
    "float32_inputs": "voicebox_core.runtime.workarounds",
    "float32_outputs": "voicebox_core.runtime.workarounds",
    "has_speakable_text": "voicebox_core.runtime.text",
    "hf_cache_dir": "voicebox_core.runtime.download",
    "is_downloaded": "voicebox_core.runtime.download",
    "is_offline": "voicebox_core.runtime.download",
    "iterate_in_thread": "voicebox_core.runtime.stream",
    "join_clips": "voicebox_core.runtime.clips",
    "join_transcripts": "voicebox_core.runtime.clips",
    "language_label": "voicebox_core.runtime.languages",
    "language_labels": "voicebox_core.runtime.languages",
    "load_audio": "voicebox_core.runtime.audio",
    "load_reference_audio": "voicebox_core.runtime.audio",
    "local_override": "voicebox_core.runtime.download",
    "model_disk_bytes": "voicebox_core.runtime.download",
    "model_path": "voicebox_core.runtime.models",
    "model_path_variable": "voicebox_core.runtime.download",
    "normalize_audio": "voicebox_core.runtime.audio",
    "pick_model": "voicebox_core.runtime.models",
    "prompt_cache": "voicebox_core.runtime.cache",
    "redirect_config_repo": "voicebox_core.runtime.workarounds",
    "resample": "voicebox_core.runtime.audio",
    "save_audio": "voicebox_core.runtime.audio",
    "seed_everything": "voicebox_core.runtime.device",
    "split_for_streaming": "voicebox_core.runtime.text",
    "split_text_into_chunks": "voicebox_core.runtime.text",
    "torch_load_on_cpu": "voicebox_core.runtime.workarounds",
    "trim_tts_output": "voicebox_core.runtime.audio",
    "upstream_import_error": "voicebox_core.runtime.install",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'voicebox_core.runtime' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "DownloadProgress",
    "ModelSlot",
    "VoicePromptCache",
    "accelerator",
    "as_mono_float32",
    "cached_snapshot",
    "change_speed",
    "choose_device",
    "crossfade_concat",
    "data_dir",
    "delete_model",
    "download_progress",
    "empty_device_cache",
    "encode_audio",
    "ensure_model",
    "env_options",
    "float32_inputs",
    "float32_outputs",
    "has_speakable_text",
    "hf_cache_dir",
    "is_downloaded",
    "is_offline",
    "iterate_in_thread",
    "join_clips",
    "join_transcripts",
    "language_label",
    "language_labels",
    "load_audio",
    "load_reference_audio",
    "local_override",
    "model_disk_bytes",
    "model_path",
    "model_path_variable",
    "normalize_audio",
    "pick_model",
    "prompt_cache",
    "redirect_config_repo",
    "resample",
    "save_audio",
    "seed_everything",
    "split_for_streaming",
    "split_text_into_chunks",
    "torch_load_on_cpu",
    "trim_tts_output",
    "upstream_import_error",
]
