"""Metadata of the Chatterbox engines. Cheap: imports neither torch nor chatterbox."""

import voicebox_core as vb

VOICEBOX_API_VERSION = vb.API_VERSION

#: The 23 languages of ``chatterbox.mtl_tts.SUPPORTED_LANGUAGES`` (0.1.7), in Voicebox's order.
MULTILINGUAL_LANGUAGES = (
    "zh", "en", "ja", "ko", "de", "fr", "ru", "pt", "es", "it", "he", "ar",
    "da", "el", "fi", "hi", "ms", "nl", "no", "pl", "sv", "sw", "tr",
)

MULTILINGUAL = vb.ModelConfig(
    model_name="chatterbox-tts",
    display_name="Chatterbox Multilingual",
    engine="chatterbox",
    hf_repo_id="ResembleAI/chatterbox",
    sample_rate=24000,
    languages=MULTILINGUAL_LANGUAGES,
    # What ChatterboxMultilingualTTS.from_local reads, plus the Cangjie table its Chinese
    # tokenizer would otherwise fetch from the hub on every load (conds.pt, the built-in
    # voice, is not needed: every voice here is cloned).
    files=(
        "ve.pt",
        "t3_mtl23ls_v2.safetensors",
        "s3gen.pt",
        "grapheme_mtl_merged_expanded_v1.json",
        "Cangjie5_TC.json",
    ),
    size_mb=3200,
    needs_trim=True,
    # MPS is left out on purpose: Voicebox forces CPU on macOS for Chatterbox.
    devices=("cpu", "cuda"),
    description="Resemble AI's 0.5B Llama-based zero-shot cloning model, 23 languages, 24 kHz.",
    license="MIT (code and weights); output carries Resemble AI's Perth watermark",
)

TURBO = vb.ModelConfig(
    model_name="chatterbox-turbo",
    display_name="Chatterbox Turbo",
    engine="chatterbox_turbo",
    hf_repo_id="ResembleAI/chatterbox-turbo",
    sample_rate=24000,
    languages=("en",),
    # Upstream downloads *.safetensors, which also pulls an unused s3gen.safetensors (~1 GB).
    files=(
        "ve.safetensors",
        "t3_turbo_v1.safetensors",
        "s3gen_meanflow.safetensors",
        "vocab.json",
        "merges.txt",
        "*.json",
    ),
    size_mb=1900,
    needs_trim=True,
    devices=("cpu", "cuda"),
    description=(
        "Resemble AI's 350M GPT-2-based English model with paralinguistic tags "
        "([laugh], [chuckle], [cough]...), 24 kHz; needs a reference longer than 5 s."
    ),
    license="MIT (code and weights); output carries Resemble AI's Perth watermark",
)

_BACKEND = "voicebox_engine_chatterbox.backend:"
# About 25 speech tokens a second and a hard cap of 1000 tokens (40 s) per call upstream:
# 300 characters stay well inside it.
_CAPABILITIES = vb.Capabilities(multi_sample=True, deterministic=True, max_chunk_chars=300)


@vb.hookimpl
def voicebox_register_engines(register):
    register(
        vb.EngineInfo(
            name="chatterbox",
            display_name="Chatterbox",
            description="Multilingual zero-shot voice cloning from a short reference clip.",
            backend=_BACKEND + "ChatterboxBackend",
            check="voicebox_engine_chatterbox.backend:check_install",
            voice_kinds=("cloned",),
            capabilities=_CAPABILITIES,
            models=(MULTILINGUAL,),
            homepage="https://github.com/resemble-ai/chatterbox",
        )
    )
    register(
        vb.EngineInfo(
            name="chatterbox_turbo",
            display_name="Chatterbox Turbo",
            description="Fast English voice cloning; write [laugh], [sigh]... inline.",
            backend=_BACKEND + "ChatterboxTurboBackend",
            check="voicebox_engine_chatterbox.backend:check_install",
            voice_kinds=("cloned",),
            capabilities=_CAPABILITIES,
            # Upstream asserts the reference is longer than 5 s.
            reference_seconds=(5.0, 30.0),
            models=(TURBO,),
            homepage="https://github.com/resemble-ai/chatterbox",
        )
    )
