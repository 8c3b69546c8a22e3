"""Metadata of the Pocket TTS engine: fourteen models (seven languages, each open or cloning),
27 preset voices.

Imported at discovery, so it must stay cheap: no torch, no pocket_tts (importing pocket_tts
sets torch's thread count for the whole process; see the backend).

Kyutai ships two repositories (docs/audits/pocket_tts.md): the open
``kyutai/pocket-tts-without-voice-cloning`` (weights without the speaker projection, the
tokenizers and the preset voices' states) and the gated ``kyutai/pocket-tts`` (the same
weights with the projection that clones a clip). Each language therefore has a preset-voice
model (``pocket-tts``, ``pocket-tts-fr``...) and a cloning model (``pocket-tts-clone``,
``pocket-tts-fr-clone``...) that needs the licence accepted on Hugging Face first.
"""

from __future__ import annotations

import dataclasses

import voicebox_core as vb

__all__ = [
    "DEFAULT_VOICE",
    "ENGINE",
    "GATED_REPO",
    "LANGUAGES",
    "MODELS",
    "OPEN_REPO",
    "OPEN_REVISION",
    "SAMPLE_RATE",
    "VOICEBOX_API_VERSION",
    "VOICES",
    "Language",
    "voicebox_register_engines",
]

VOICEBOX_API_VERSION = vb.API_VERSION

ENGINE = "pocket_tts"
SAMPLE_RATE = 24000
DEFAULT_VOICE = "alba"
OPEN_REPO = "kyutai/pocket-tts-without-voice-cloning"
GATED_REPO = "kyutai/pocket-tts"
#: Upstream pins each file; every language's voice states live at this commit, so every open
#: file is read there (the audit's "one revision per ModelConfig").
OPEN_REVISION = "a7056f505a4a8ca72d8b5fb1440071d6f1a35739"
_GATED_EN = "db04f0e653473e5c7333c69686ac92b7460b0c1d"
_GATED_OTHERS = "3e82814a68665eec246ff649b14c71331f955c06"


@dataclasses.dataclass(frozen=True)
class Language:
    code: str
    #: The folder under ``languages/`` and the packaged YAML's stem (``pocket_tts/config``).
    stem: str
    label: str
    gated_revision: str

    @property
    def preset_model(self) -> str:
        return "pocket-tts" if self.code == "en" else f"pocket-tts-{self.code}"

    @property
    def clone_model(self) -> str:
        return f"{self.preset_model}-clone"


LANGUAGES: tuple[Language, ...] = (
    Language("en", "english", "English", _GATED_EN),
    Language("fr", "french", "French", _GATED_OTHERS),
    Language("de", "german", "German", _GATED_OTHERS),
    Language("it", "italian", "Italian", _GATED_OTHERS),
    Language("es", "spanish", "Spanish", _GATED_OTHERS),
    Language("pt", "portuguese", "Portuguese", _GATED_OTHERS),
    Language("nl", "dutch", "Dutch", _GATED_OTHERS),
)

_LICENSE = "CC-BY-4.0 (weights and voices, \"Pocket TTS by Kyutai\"); code MIT"


def _preset_model(lang: Language) -> vb.ModelConfig:
    folder = f"languages/{lang.stem}"
    return vb.ModelConfig(
        model_name=lang.preset_model, display_name=f"Pocket TTS ({lang.label})", engine=ENGINE,
        hf_repo_id=OPEN_REPO, revision=OPEN_REVISION, model_size=lang.code,
        files=(f"{folder}/model.safetensors", f"{folder}/tokenizer.json"),
        # A voice's state (a few MB) arrives on its first use.
        on_demand_files=(f"{folder}/embeddings/*.safetensors",),
        size_mb=220, sample_rate=SAMPLE_RATE, languages=(lang.code,), devices=("cpu", "cuda"),
        license=_LICENSE,
        description=f"Kyutai's 100M-parameter streaming TTS in {lang.label}: 27 preset voices, "
        "fast on a CPU. No cloning (that is the gated -clone model).",
    )


def _clone_model(lang: Language) -> vb.ModelConfig:
    preset = _preset_model(lang)
    folder = f"languages/{lang.stem}"
    # The tokenizer and the preset voices come from the open repository.
    tokenizer = dataclasses.replace(
        preset, model_name=f"{lang.clone_model}-tokenizer", files=(f"{folder}/tokenizer.json",))
    return dataclasses.replace(
        preset, model_name=lang.clone_model, display_name=f"Pocket TTS ({lang.label}, voice cloning)",
        hf_repo_id=GATED_REPO, revision=lang.gated_revision, model_size=f"{lang.code}-clone",
        files=(f"{folder}/model.safetensors",), on_demand_files=(), requires=(tokenizer,),
        description=f"Pocket TTS in {lang.label} with the speaker projection: clones a voice from "
        "a clip, and speaks the preset voices. Gated: accept the licence at "
        f"https://huggingface.co/{GATED_REPO} and log in before downloading.",
    )


MODELS: tuple[vb.ModelConfig, ...] = tuple(
    model for lang in LANGUAGES for model in (_preset_model(lang), _clone_model(lang)))

# (voice id, its clip's language, gender), upstream's catalogue order by language.
_VOICES: tuple[tuple[str, str, str], ...] = (
    ("alba", "en", "female"), ("anna", "en", "female"), ("azelma", "en", "female"),
    ("bill_boerst", "en", "male"), ("caro_davy", "en", "female"), ("charles", "en", "male"),
    ("cosette", "en", "female"), ("eponine", "en", "female"), ("eve", "en", "female"),
    ("fantine", "en", "female"), ("george", "en", "male"), ("jane", "en", "female"),
    ("javert", "en", "male"), ("jean", "en", "male"), ("marius", "en", "male"),
    ("mary", "en", "female"), ("michael", "en", "male"), ("paul", "en", "male"),
    ("peter_yearsley", "en", "male"), ("stuart_bell", "en", "male"), ("vera", "en", "female"),
    ("estelle", "fr", "female"), ("juergen", "de", "male"), ("giovanni", "it", "male"),
    ("lola", "es", "female"), ("rafael", "pt", "male"), ("daan", "nl", "male"),
)

#: Every voice speaks whichever language the loaded model speaks: upstream exports each voice's
#: state for every language.
VOICES: tuple[vb.PresetVoice, ...] = tuple(
    vb.PresetVoice(voice_id, voice_id.replace("_", " ").title(), language, gender,
                   languages=tuple(lang.code for lang in LANGUAGES if lang.code != language))
    for voice_id, language, gender in _VOICES
)


@vb.hookimpl
def voicebox_register_engines(register):  # type: ignore[no-untyped-def]
    register(
        vb.EngineInfo(
            name=ENGINE,
            display_name="Pocket TTS (Kyutai)",
            description="Small, fast streaming TTS: 27 preset voices in 7 languages; the gated "
            "-clone models also clone a voice from a short clip.",
            backend="voicebox_engine_pocket_tts.backend:PocketTTSBackend",
            check="voicebox_engine_pocket_tts.backend:check_install",
            models=MODELS,
            voice_kinds=("preset", "cloned"),
            preset_voices=VOICES,
            default_voice=DEFAULT_VOICE,
            # Upstream splits text into sentences of at most 50 tokens itself.
            capabilities=vb.Capabilities(streaming=True, deterministic=True, max_chunk_chars=400),
            reference_seconds=(2.0, 30.0),
            homepage="https://github.com/kyutai-labs/pocket-tts",
        )
    )
