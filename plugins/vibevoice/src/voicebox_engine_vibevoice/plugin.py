"""Metadata of the VibeVoice engine: a dialogue engine (up to four speakers, each a cloned voice).

Cheap to import: no torch, no transformers (a test and the conformance kit check it).

The models are the transformers-native conversions (``-hf``), the layout
``VibeVoiceForConditionalGeneration.from_pretrained`` reads: ``config.json``,
``generation_config.json``, the (sharded) safetensors, ``processor_config.json``,
``chat_template.jinja``, ``tokenizer.json`` and ``tokenizer_config.json``. Microsoft's original
``microsoft/VibeVoice-1.5B`` has another layout and does not load natively.

A dialogue reaches the engine the core's way (``capabilities.max_speakers``): the request's
voices in order, and a script whose turns start with ``Speaker 1:``, ``Speaker 2:``... Text
without labels is Speaker 1's.
"""

from __future__ import annotations

import voicebox_core as vb

VOICEBOX_API_VERSION = vb.API_VERSION

ENGINE = "vibevoice"
SAMPLE_RATE = 24000
DEFAULT_SIZE = "1.5B"
MAX_SPEAKERS = 4
_FILES = ("config.json", "generation_config.json", "processor_config.json", "tokenizer.json", "*.safetensors")
_LICENSE = "MIT (model card, research use); transformers' VibeVoice code Apache-2.0"

MODELS: tuple[vb.ModelConfig, ...] = (
    vb.ModelConfig(
        model_name="vibevoice-1.5b", display_name="VibeVoice 1.5B", engine=ENGINE,
        hf_repo_id="vibevoice/VibeVoice-1.5B-hf", model_size="1.5B", sample_rate=SAMPLE_RATE,
        languages=("en", "zh"), files=_FILES, size_mb=5400, devices=("cpu", "cuda"), license=_LICENSE,
        description="Long-form, multi-speaker conversational speech (Qwen2.5 1.5B + a diffusion "
        "head over 7.5 Hz acoustic latents), each speaker cloned from a clip, 24 kHz.",
    ),
    vb.ModelConfig(
        model_name="vibevoice-7b", display_name="VibeVoice 7B", engine=ENGINE,
        hf_repo_id="vibevoice/VibeVoice-7B-hf", model_size="7B", sample_rate=SAMPLE_RATE,
        languages=("en", "zh"), files=_FILES, size_mb=18700, devices=("cpu", "cuda"), license=_LICENSE,
        description="The 7B VibeVoice: the same dialogue engine on Qwen2.5 7B (a GPU model).",
    ),
)


@vb.hookimpl
def voicebox_register_engines(register):  # type: ignore[no-untyped-def]
    register(
        vb.EngineInfo(
            name=ENGINE,
            display_name="VibeVoice (Microsoft)",
            description="Conversations of up to four speakers, each voice cloned from a short clip "
            "(no transcript needed): 'Speaker 1:' / 'Speaker 2:' lines in the text.",
            backend="voicebox_engine_vibevoice.backend:VibeVoiceBackend",
            check="voicebox_engine_vibevoice.backend:check_install",
            voice_kinds=("cloned",),
            models=MODELS,
            capabilities=vb.Capabilities(deterministic=True, multi_sample=True, max_chunk_chars=600,
                                         max_speakers=MAX_SPEAKERS),
            reference_seconds=(2.0, 60.0),
            homepage="https://huggingface.co/docs/transformers/model_doc/vibevoice",
        )
    )
