"""Metadata of the faulty engine: one bundled model and one downloaded from a (test) hub."""

import voicebox_core as vb

VOICEBOX_API_VERSION = vb.API_VERSION

HUB_MODEL = vb.ModelConfig(
    model_name="faulty-hub", display_name="Faulty (downloaded)", engine="faulty",
    hf_repo_id="voicebox-test/tiny-tone", sample_rate=16000, languages=("en",),
    files=("config.json", "weights.bin"), model_size="hub", size_mb=1)


@vb.hookimpl
def voicebox_register_engines(register):
    register(vb.EngineInfo(
        name="faulty",
        display_name="Faulty test engine",
        description="Speaks a tone; crashes, hangs or raises when the text says so.",
        backend="voicebox_test_faulty.backend:FaultyBackend",
        voice_kinds=("preset", "cloned"),
        preset_voices=(vb.PresetVoice("tone", "Tone", "en"),),
        default_voice="tone",
        capabilities=vb.Capabilities(deterministic=True, max_chunk_chars=400),
        models=(
            vb.ModelConfig(model_name="faulty-local", display_name="Faulty", engine="faulty",
                           hf_repo_id=None, bundled=True, sample_rate=16000, languages=("en", "de")),
            HUB_MODEL,
        ),
    ))
