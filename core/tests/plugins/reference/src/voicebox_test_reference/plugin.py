"""Metadata of the reference engine: cheap to import (no backend, no numpy work)."""

import voicebox_core as vb

VOICEBOX_API_VERSION = vb.API_VERSION

VOICES = (
    vb.PresetVoice("low", "Low buzz", "en", "male"),
    vb.PresetVoice("high", "High buzz", "en", "female"),
    vb.PresetVoice("alto", "Alto (German)", "de", "female"),
    vb.PresetVoice("bright", "Bright (24 kHz only, bilingual)", "en", "female",
                   models=("reference-24k",), languages=("de",)),
)


@vb.hookimpl
def voicebox_register_engines(register):
    register(
        vb.EngineInfo(
            name="reference",
            display_name="Reference formant synthesiser",
            description="Vowel-like tones, one per syllable (its word times); proves the contract, says nothing.",
            backend="voicebox_test_reference.backend:ReferenceBackend",
            voice_kinds=("preset", "cloned"),
            preset_voices=VOICES,
            default_voice="low",
            capabilities=vb.Capabilities(deterministic=True, multi_sample=True, word_timestamps=True,
                                         max_chunk_chars=200),
            models=(
                vb.ModelConfig(
                    model_name="reference-16k", display_name="Reference 16 kHz", engine="reference",
                    hf_repo_id=None, bundled=True, sample_rate=16000, languages=("en", "de"),
                    license="MIT",
                ),
                vb.ModelConfig(
                    model_name="reference-24k", display_name="Reference 24 kHz", engine="reference",
                    hf_repo_id=None, bundled=True, sample_rate=24000, languages=("en", "de"),
                    model_size="24k", needs_trim=True, license="MIT",
                ),
            ),
        )
    )
