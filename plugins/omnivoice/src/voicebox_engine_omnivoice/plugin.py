"""Metadata of the OmniVoice engine: zero-shot cloning and voice design in 646 languages.

Cheap to import: no torch, no transformers, no omnivoice (a test and the conformance kit check
it); the language list is vendored (``_languages``).

The checkpoint is ``k2-fsa/OmniVoice``: the model (a Qwen3-0.6B backbone over 8 audio
codebooks) and, in ``audio_tokenizer/``, the Higgs Audio v2 codec (24 kHz, 25 frames/s).
The backend hands upstream that local folder, so nothing is fetched behind the core's back
(upstream would download the codec from another repository when the folder lacks it).
"""

from __future__ import annotations

import voicebox_core as vb

from voicebox_engine_omnivoice._languages import CODES

VOICEBOX_API_VERSION = vb.API_VERSION

ENGINE = "omnivoice"
SAMPLE_RATE = 24000
#: "auto" is upstream's language-agnostic mode (no language token).
LANGUAGES: tuple[str, ...] = ("auto", *CODES)

MODELS: tuple[vb.ModelConfig, ...] = (
    vb.ModelConfig(
        model_name="omnivoice", display_name="OmniVoice 0.6B", engine=ENGINE, hf_repo_id="k2-fsa/OmniVoice",
        model_size="0.6B", sample_rate=SAMPLE_RATE, languages=LANGUAGES,
        files=("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
               "audio_tokenizer/config.json", "audio_tokenizer/model.safetensors",
               "audio_tokenizer/preprocessor_config.json"),
        size_mb=3270, devices=("cpu", "cuda"), supports_instruct=True,
        license="Apache-2.0 (model); Boson Higgs Audio 2 Community License (audio_tokenizer/)",
        description="Zero-shot voice cloning from a 3-10 s clip and its transcript, or a voice designed "
        "from attributes (gender, age, pitch, whisper, accent), in 646 languages; 24 kHz. Slower than "
        "real time on most CPUs.",
    ),
)


@vb.hookimpl
def voicebox_register_engines(register):  # type: ignore[no-untyped-def]
    register(
        vb.EngineInfo(
            name=ENGINE,
            display_name="OmniVoice (k2-fsa)",
            description="Clones a voice from a short clip and its transcript, or designs one from a "
            "comma-separated list such as 'female, elderly, british accent', in 646 languages.",
            backend="voicebox_engine_omnivoice.backend:OmniVoiceBackend",
            check="voicebox_engine_omnivoice.backend:check_install",
            voice_kinds=("cloned", "designed"),
            models=MODELS,
            capabilities=vb.Capabilities(instruct=True, deterministic=True, multi_sample=True,
                                         max_chunk_chars=300),
            reference_seconds=(3.0, 20.0),
            homepage="https://github.com/k2-fsa/OmniVoice",
        )
    )
