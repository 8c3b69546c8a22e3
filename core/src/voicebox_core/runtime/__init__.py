"""Runtime helpers every engine shares."""

from voicebox_core.runtime.audio import (
    as_mono_float32,
    change_speed,
    crossfade_concat,
    encode_audio,
    load_audio,
    load_reference_audio,
    normalize_audio,
    resample,
    save_audio,
    trim_tts_output,
)
from voicebox_core.runtime.cache import VoicePromptCache, prompt_cache
from voicebox_core.runtime.device import (
    accelerator,
    choose_device,
    empty_device_cache,
    seed_everything,
)
from voicebox_core.runtime.download import (
    DownloadProgress,
    cached_snapshot,
    delete_model,
    download_progress,
    ensure_model,
    hf_cache_dir,
    is_downloaded,
    is_offline,
    local_override,
    model_disk_bytes,
)
from voicebox_core.runtime.install import upstream_import_error
from voicebox_core.runtime.paths import data_dir
from voicebox_core.runtime.text import has_speakable_text, split_for_streaming, split_text_into_chunks
from voicebox_core.runtime.workarounds import (
    float32_inputs,
    float32_outputs,
    redirect_config_repo,
    torch_load_on_cpu,
)

__all__ = [
    "DownloadProgress",
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
    "float32_inputs",
    "float32_outputs",
    "has_speakable_text",
    "hf_cache_dir",
    "is_downloaded",
    "is_offline",
    "load_audio",
    "load_reference_audio",
    "local_override",
    "model_disk_bytes",
    "normalize_audio",
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
