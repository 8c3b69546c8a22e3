"""Metadata of the TADA engine: two user-facing models and the repositories they share.

Cheap to import: no torch, no hume-tada (a test and the conformance kit check it).

Each size is its own ModelConfig whose ``model_name``, ``hf_repo_id`` and ``model_size``
all name that size, so download, progress, load and loaded-state checks never mix the 1B
and 3B models up (Voicebox's registry downloads 3B and then loads 1B).

TADA also needs four repositories besides the model's own. They are *companions*: not
registered as models (nobody synthesises with a codec alone), but full ModelConfigs so
that ``voicebox_core.runtime.ensure_model`` downloads just their files with byte progress,
honours ``HF_HUB_OFFLINE`` and a ``VOICEBOX_MODEL_PATH_<NAME>`` override for each of them.
"""

from __future__ import annotations

import voicebox_core as vb

VOICEBOX_API_VERSION = vb.API_VERSION

ENGINE = "tada"
SAMPLE_RATE = 24000
DEFAULT_SIZE = "1B"

#: Languages of tada-3b-ml (Voicebox codes). ``zh`` is ``ch`` in TADA's aligner folder names.
ML_LANGUAGES = ("en", "ar", "zh", "de", "es", "fr", "it", "ja", "pl", "pt")
#: Voicebox language code -> suffix of the language's aligner folder in HumeAI/tada-codec.
ALIGNER_LANGUAGE = {"ar": "ar", "zh": "ch", "de": "de", "es": "es", "fr": "fr", "it": "it",
                    "ja": "ja", "pl": "pl", "pt": "pt"}

_LICENSE = "Llama 3.2 Community License (weights); hume-tada code MIT"
_DEVICES = ("cpu", "cuda")  # Voicebox runs TADA on CPU on macOS: MPS is left out.


def _weights(prefix: str = "") -> tuple[str, ...]:
    return (f"{prefix}config.json", f"{prefix}*.safetensors")


#: Encoder, decoder and English aligner, shared by both sizes. TADA hard-codes this repo id
#: for its decoder; the backend loads the decoder from this config's directory instead.
CODEC = vb.ModelConfig(
    model_name="tada-codec", display_name="TADA codec", engine=ENGINE,
    hf_repo_id="HumeAI/tada-codec", sample_rate=SAMPLE_RATE, languages=("en",),
    files=(*_weights("encoder/"), *_weights("decoder/"), *_weights("aligner/")),
    devices=_DEVICES, license=_LICENSE,
    description="TADA's speech encoder, decoder and English aligner (wav2vec2-large CTC).",
)

#: One aligner per non-English language, fetched the first time that language is spoken.
ALIGNERS: dict[str, vb.ModelConfig] = {
    language: vb.ModelConfig(
        model_name=f"tada-codec-aligner-{suffix}", display_name=f"TADA aligner ({language})",
        engine=ENGINE, hf_repo_id="HumeAI/tada-codec", sample_rate=SAMPLE_RATE,
        languages=(language,), files=_weights(f"aligner-{suffix}/"), devices=_DEVICES,
        license=_LICENSE,
    )
    for language, suffix in ALIGNER_LANGUAGE.items()
}

#: Ungated copy of meta-llama/Llama-3.2-1B's tokenizer (the gated repo TADA hard-codes).
#: ``VOICEBOX_TADA_TOKENIZER_PATH`` or ``VOICEBOX_MODEL_PATH_TADA_TOKENIZER`` may point at
#: a local folder holding tokenizer.json and tokenizer_config.json instead.
TOKENIZER = vb.ModelConfig(
    model_name="tada-tokenizer", display_name="Llama 3.2 tokenizer (ungated mirror)",
    engine=ENGINE, hf_repo_id="unsloth/Llama-3.2-1B", sample_rate=SAMPLE_RATE,
    languages=ML_LANGUAGES, files=("tokenizer.json", "tokenizer_config.json"),
    devices=_DEVICES, license="Llama 3.2 Community License",
)

#: The aligner's architecture: TADA reads only this repo's config.json (AutoConfig), then
#: builds the network from it and loads the aligner's own weights.
ALIGNER_BASE = vb.ModelConfig(
    model_name="tada-aligner-base", display_name="wav2vec2-large config", engine=ENGINE,
    hf_repo_id="facebook/wav2vec2-large", sample_rate=16000, languages=("en",),
    files=("config.json",), devices=_DEVICES, license="Apache-2.0",
)

#: What every size needs besides its own repo: downloaded and checked with it.
REQUIRED = (CODEC, TOKENIZER, ALIGNER_BASE)

MODELS: tuple[vb.ModelConfig, ...] = (
    vb.ModelConfig(
        model_name="tada-1b",
        display_name="TADA 1B (English)",
        engine=ENGINE,
        hf_repo_id="HumeAI/tada-1b",
        model_size="1B",
        sample_rate=SAMPLE_RATE,
        languages=("en",),
        # config.json, the weights (maybe sharded) and their index.
        files=("config.json", "*.safetensors", "*.json"),
        size_mb=4000,
        devices=_DEVICES,
        description="HumeAI TADA on Llama 3.2 1B: English zero-shot voice cloning, one "
        "acoustic vector per text token, 24 kHz.",
        license=_LICENSE,
        requires=REQUIRED,
    ),
    vb.ModelConfig(
        model_name="tada-3b-ml",
        display_name="TADA 3B Multilingual",
        engine=ENGINE,
        hf_repo_id="HumeAI/tada-3b-ml",
        model_size="3B",
        sample_rate=SAMPLE_RATE,
        languages=ML_LANGUAGES,
        files=("config.json", "*.safetensors", "*.json"),
        size_mb=8000,
        devices=_DEVICES,
        description="HumeAI TADA on Llama 3.2 3B: zero-shot voice cloning in 10 languages "
        "(give the reference transcript for non-English clips), 24 kHz.",
        license=_LICENSE,
        requires=REQUIRED,
    ),
)

#: English speech recogniser TADA uses when a reference clip comes without a transcript.
ASR = vb.ModelConfig(
    model_name="tada-asr", display_name="Parakeet CTC 1.1B (reference transcription)",
    engine=ENGINE, hf_repo_id="nvidia/parakeet-ctc-1.1b", sample_rate=16000, languages=("en",),
    files=("config.json", "*.safetensors", "*.json"), size_mb=4300, devices=_DEVICES,
    license="CC-BY-4.0",
)

#: Every repository the engine may read, user-facing or not.
COMPANIONS: tuple[vb.ModelConfig, ...] = (CODEC, TOKENIZER, ALIGNER_BASE, ASR, *ALIGNERS.values())


@vb.hookimpl
def voicebox_register_engines(register):  # type: ignore[no-untyped-def]
    register(
        vb.EngineInfo(
            name=ENGINE,
            display_name="TADA (Hume AI)",
            description="Text-acoustic dual-aligned speech LLM: clones a voice from a short "
            "reference clip and its transcript. 1B English, 3B multilingual.",
            backend="voicebox_engine_tada.backend:TadaBackend",
            check="voicebox_engine_tada.backend:check_install",
            voice_kinds=("cloned",),
            models=MODELS,
            # TADA's encoder/decoder attention caps a sequence at 8192 frames (about 163 s at
            # 50 fps) for prompt + speech together: keep each chunk well inside that.
            capabilities=vb.Capabilities(deterministic=True, max_chunk_chars=400),
            reference_seconds=(2.0, 30.0),
            homepage="https://github.com/HumeAI/tada",
        )
    )
