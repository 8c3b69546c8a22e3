"""Metadata of the Kokoro engine: the model, its 50 preset voices, its languages.

Imported at discovery, so it must stay cheap: no torch, no kokoro, no misaki (importing
misaki swaps phonemizer's espeak library for the whole process; see the backend).
"""

from __future__ import annotations

import voicebox_core as vb

__all__ = [
    "DEFAULT_VOICE",
    "ENGINE",
    "LANG_CODES",
    "MODEL",
    "REPO_ID",
    "SAMPLE_RATE",
    "VOICEBOX_API_VERSION",
    "VOICES",
    "voicebox_register_engines",
]

VOICEBOX_API_VERSION = vb.API_VERSION

ENGINE = "kokoro"
REPO_ID = "hexgrad/Kokoro-82M"
SAMPLE_RATE = 24000
DEFAULT_VOICE = "af_heart"

#: Voice-id prefix letter -> (language, KPipeline lang_code). The first letter of a voice id
#: picks its G2P: a = American English, b = British English, j/z need misaki's extras.
LANG_CODES: dict[str, tuple[str, str]] = {
    "a": ("en", "a"), "b": ("en", "b"), "e": ("es", "e"), "f": ("fr", "f"), "h": ("hi", "h"),
    "i": ("it", "i"), "j": ("ja", "j"), "p": ("pt", "p"), "z": ("zh", "z"),
}

# (voice id, gender) in Voicebox's order; display names are derived from the id.
_VOICE_IDS: tuple[tuple[str, str], ...] = (
    *((f"af_{n}", "female") for n in (
        "alloy", "aoede", "bella", "heart", "jessica", "kore", "nicole", "nova", "river",
        "sarah", "sky")),
    *((f"am_{n}", "male") for n in (
        "adam", "echo", "eric", "fenrir", "liam", "michael", "onyx", "puck", "santa")),
    *((f"bf_{n}", "female") for n in ("alice", "emma", "isabella", "lily")),
    *((f"bm_{n}", "male") for n in ("daniel", "fable", "george", "lewis")),
    ("ef_dora", "female"), ("em_alex", "male"), ("em_santa", "male"),
    ("ff_siwis", "female"),
    ("hf_alpha", "female"), ("hf_beta", "female"), ("hm_omega", "male"), ("hm_psi", "male"),
    ("if_sara", "female"), ("im_nicola", "male"),
    *((f"jf_{n}", "female") for n in ("alpha", "gongitsune", "nezumi", "tebukuro")),
    ("jm_kumo", "male"),
    ("pf_dora", "female"), ("pm_alex", "male"), ("pm_santa", "male"),
    *((f"zf_{n}", "female") for n in ("xiaobei", "xiaoni", "xiaoxiao", "xiaoyi")),
)


def _display_name(voice_id: str) -> str:
    """``af_heart`` -> "Heart"; British voices say so, since both accents are ``en``."""
    name = voice_id.split("_", 1)[1].capitalize()
    return f"{name} (British)" if voice_id[0] == "b" else name


VOICES: tuple[vb.PresetVoice, ...] = tuple(
    vb.PresetVoice(voice_id, _display_name(voice_id), LANG_CODES[voice_id[0]][0], gender)
    for voice_id, gender in _VOICE_IDS
)

MODEL = vb.ModelConfig(
    model_name="kokoro",
    display_name="Kokoro 82M",
    engine=ENGINE,
    hf_repo_id=REPO_ID,
    sample_rate=SAMPLE_RATE,
    languages=("en", "es", "fr", "hi", "it", "pt", "ja", "zh"),
    # Voice packs (voices/<id>.pt, 0.5 MB each) are fetched one at a time on first use.
    files=("config.json", "kokoro-v1_0.pth"),
    # Voice packs arrive one at a time, on first use of each voice.
    on_demand_files=("voices/*.pt",),
    size_mb=327,
    needs_trim=False,
    supports_instruct=False,
    devices=("cpu", "cuda"),  # MPS left out: upstream falls back op by op and is unreliable
    description="82M-parameter StyleTTS2/iSTFTNet model with 50 preset voices in 8 languages; "
    "fast on CPU. Japanese and Chinese need the [ja] / [zh] extras.",
    license="Apache-2.0",
)


@vb.hookimpl
def voicebox_register_engines(register):  # type: ignore[no-untyped-def]
    register(
        vb.EngineInfo(
            name=ENGINE,
            display_name="Kokoro",
            description="Lightweight multilingual TTS with preset voices (no cloning).",
            backend="voicebox_engine_kokoro.backend:KokoroBackend",
            check="voicebox_engine_kokoro.g2p:check_install",
            models=(MODEL,),
            voice_kinds=("preset",),
            preset_voices=VOICES,
            default_voice=DEFAULT_VOICE,
            # Kokoro chunks at 510 phonemes; ~400 characters stays under that. It is fastest
            # with ~150 (benchmarks/chunk_bench.py, real-size model, one 984-character
            # paragraph: 42-47 s CPU at 150, 45-53 at 200, 53-59 at 300 and 400).
            capabilities=vb.Capabilities(deterministic=True, streaming=True, word_timestamps=True,
                                         max_chunk_chars=400, chunk_chars=150),
            homepage="https://github.com/hexgrad/kokoro",
        )
    )
