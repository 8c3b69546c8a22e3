"""Metadata of the three Qwen3-TTS engines: cheap to import (no torch, no qwen_tts).

One distribution, three engines, one per kind of Qwen3-TTS checkpoint:

- ``qwen``: the Base models, zero-shot cloning from a reference clip (Voicebox's ``qwen``);
- ``qwen_custom_voice``: the CustomVoice models, nine preset speakers, instruct on 1.7B;
- ``qwen_voice_design``: the VoiceDesign model, a voice described in words.

Model names are Voicebox's, so existing profiles and history keep working.
"""

from __future__ import annotations

import voicebox_core as vb

__all__ = [
    "ENGINES",
    "LANGUAGE_NAMES",
    "LANGUAGES",
    "MODELS",
    "SAMPLE_RATE",
    "SPEAKERS",
    "voicebox_register_engines",
]

VOICEBOX_API_VERSION = vb.API_VERSION

#: The speech tokenizer's ``output_sample_rate`` (checked against the loaded model).
SAMPLE_RATE = 24000

#: Voicebox language code -> the language name Qwen3-TTS takes (``codec_language_id`` keys,
#: matched case-insensitively upstream). The one table the engines use.
LANGUAGE_NAMES: dict[str, str] = {
    "zh": "Chinese",
    "en": "English",
    "ja": "Japanese",
    "ko": "Korean",
    "de": "German",
    "fr": "French",
    "ru": "Russian",
    "pt": "Portuguese",
    "es": "Spanish",
    "it": "Italian",
    "auto": "Auto",
}
LANGUAGES: tuple[str, ...] = tuple(LANGUAGE_NAMES)

_CLONING_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "preprocessor_config.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "speech_tokenizer/config.json",
    "speech_tokenizer/model.safetensors",
    "speech_tokenizer/preprocessor_config.json",
)

#: (voice id as Voicebox stores it, native language, gender). Every speaker speaks all ten
#: languages; the model card recommends the native one. Dylan and Eric switch to their
#: Beijing / Sichuan dialect when the language is Chinese or auto.
SPEAKERS: tuple[tuple[str, str, str], ...] = (
    ("Vivian", "zh", "female"),
    ("Serena", "zh", "female"),
    ("Uncle_Fu", "zh", "male"),
    ("Dylan", "zh", "male"),
    ("Eric", "zh", "male"),
    ("Ryan", "en", "male"),
    ("Aiden", "en", "male"),
    ("Ono_Anna", "ja", "female"),
    ("Sohee", "ko", "female"),
)

_LICENSE = "Apache-2.0 (code and weights)"
_HOMEPAGE = "https://github.com/QwenLM/Qwen3-TTS"


def _model(engine: str, name: str, display: str, repo: str, size: str, size_mb: int,
           description: str, instruct: bool = False) -> vb.ModelConfig:
    return vb.ModelConfig(
        model_name=name,
        display_name=display,
        engine=engine,
        hf_repo_id=repo,
        sample_rate=SAMPLE_RATE,
        languages=LANGUAGES,
        model_size=size,
        files=_CLONING_FILES,
        size_mb=size_mb,
        supports_instruct=instruct,
        # No MPS: Voicebox runs Qwen through MLX on Apple Silicon, never torch MPS.
        devices=("cpu", "cuda"),
        description=description,
        license=_LICENSE,
    )


# size_mb: model.safetensors + speech tokenizer (682 MB) + text tokenizer, in decimal MB, from
# published listings of the Base and 0.6B CustomVoice repositories (Hugging Face is not
# reachable from our CI); the 1.7B CustomVoice/VoiceDesign figures assume the 1.7B Base size.
BASE_MODELS = (
    _model("qwen", "qwen-tts-1.7B", "Qwen3-TTS 1.7B", "Qwen/Qwen3-TTS-12Hz-1.7B-Base", "1.7B",
           4545, "Zero-shot voice cloning from a 3-30 s clip; best quality."),
    _model("qwen", "qwen-tts-0.6B", "Qwen3-TTS 0.6B", "Qwen/Qwen3-TTS-12Hz-0.6B-Base", "0.6B",
           2516, "Zero-shot voice cloning from a 3-30 s clip; faster, lighter."),
)
CUSTOM_VOICE_MODELS = (
    _model("qwen_custom_voice", "qwen-custom-voice-1.7B", "Qwen3-TTS CustomVoice 1.7B",
           "Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice", "1.7B", 4545,
           "Nine preset speakers, steerable with a style instruction.", instruct=True),
    # Upstream drops the instruction for 0.6B checkpoints (generate_custom_voice sets
    # instruct=None when tts_model_size is "0b6"), so the model does not claim it.
    _model("qwen_custom_voice", "qwen-custom-voice-0.6B", "Qwen3-TTS CustomVoice 0.6B",
           "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice", "0.6B", 2498,
           "Nine preset speakers; no style instruction at this size."),
)
VOICE_DESIGN_MODELS = (
    _model("qwen_voice_design", "qwen-voice-design-1.7B", "Qwen3-TTS VoiceDesign 1.7B",
           "Qwen/Qwen3-TTS-12Hz-1.7B-VoiceDesign", "1.7B", 4545,
           "A new voice from a written description (only released at 1.7B).", instruct=True),
)
MODELS = BASE_MODELS + CUSTOM_VOICE_MODELS + VOICE_DESIGN_MODELS

PRESET_VOICES = tuple(
    # Every speaker speaks all ten languages; ``language`` is the speaker's native one.
    vb.PresetVoice(voice_id, voice_id.replace("_", " "), language, gender,
                   languages=tuple(code for code in LANGUAGES if code != "auto"))
    for voice_id, language, gender in SPEAKERS
)

ENGINES = (
    vb.EngineInfo(
        name="qwen",
        display_name="Qwen3-TTS",
        description="Qwen3-TTS Base: clones a voice from a short reference clip, ten languages.",
        backend="voicebox_engine_qwen.backend:QwenBaseBackend",
        check="voicebox_engine_qwen.backend:check_install",
        voice_kinds=("cloned",),
        capabilities=vb.Capabilities(multi_sample=True, deterministic=True),
        models=BASE_MODELS,
        homepage=_HOMEPAGE,
    ),
    vb.EngineInfo(
        name="qwen_custom_voice",
        display_name="Qwen3-TTS CustomVoice",
        description="Qwen3-TTS CustomVoice: nine built-in speakers; the 1.7B model follows "
        "style instructions (emotion, pace, tone).",
        backend="voicebox_engine_qwen.backend:QwenCustomVoiceBackend",
        check="voicebox_engine_qwen.backend:check_install",
        voice_kinds=("preset",),
        preset_voices=PRESET_VOICES,
        default_voice="Ryan",
        capabilities=vb.Capabilities(instruct=True, deterministic=True),
        models=CUSTOM_VOICE_MODELS,
        homepage=_HOMEPAGE,
    ),
    vb.EngineInfo(
        name="qwen_voice_design",
        display_name="Qwen3-TTS VoiceDesign",
        description="Qwen3-TTS VoiceDesign: describe a voice in words (age, gender, timbre, "
        "mood) and it speaks with it.",
        backend="voicebox_engine_qwen.backend:QwenVoiceDesignBackend",
        check="voicebox_engine_qwen.backend:check_install",
        voice_kinds=("designed",),
        capabilities=vb.Capabilities(instruct=True, deterministic=True),
        models=VOICE_DESIGN_MODELS,
        homepage=_HOMEPAGE,
    ),
)


@vb.hookimpl
def voicebox_register_engines(register):  # type: ignore[no-untyped-def]
    for engine in ENGINES:
        register(engine)
