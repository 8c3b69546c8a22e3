"""Metadata of the VoxCPM engine: three models, named as OpenBMB's repositories name them.

Cheap to import: no torch, no voxcpm (a test and the conformance kit check it).

- ``voxcpm-0.5b`` (``openbmb/VoxCPM-0.5B``, 16 kHz) is the default: the smallest, the one to
  run on a CPU.
- ``voxcpm-1.5`` (``openbmb/VoxCPM1.5``, 44.1 kHz).
- ``voxcpm2`` (``openbmb/VoxCPM2``, 2B, 48 kHz): also clones from a clip without its
  transcript, designs a voice from a description, and takes a style instruction.

VoxCPM takes no language tag: it reads the language from the text. The 0.5B and 1.5 models
are English and Chinese; VoxCPM2's model card lists 30 languages, which this machine could
not read offline, so it declares English, Chinese and ``auto`` (any other language, as the
model detects it). ``files`` is empty: the whole repository is the model (its layout, config,
weights, audio VAE and tokenizer, is what VoxCPM reads from a folder).
"""

from __future__ import annotations

import voicebox_core as vb

VOICEBOX_API_VERSION = vb.API_VERSION

ENGINE = "voxcpm"
DEFAULT_SIZE = "0.5B"
_LICENSE = "Apache-2.0 (code and weights)"
_DEVICES = ("cpu", "cuda", "mps")

MODELS: tuple[vb.ModelConfig, ...] = (
    vb.ModelConfig(
        model_name="voxcpm-0.5b", display_name="VoxCPM 0.5B", engine=ENGINE,
        hf_repo_id="openbmb/VoxCPM-0.5B", model_size="0.5B", sample_rate=16000,
        languages=("en", "zh"), size_mb=1600, devices=_DEVICES, license=_LICENSE,
        description="Tokenizer-free diffusion-autoregressive TTS on MiniCPM-4: English and "
        "Chinese, cloned from a clip and its transcript, 16 kHz. The one for a CPU.",
    ),
    vb.ModelConfig(
        model_name="voxcpm-1.5", display_name="VoxCPM 1.5", engine=ENGINE,
        hf_repo_id="openbmb/VoxCPM1.5", model_size="1.5", sample_rate=44100,
        languages=("en", "zh"), size_mb=1900, devices=_DEVICES, license=_LICENSE,
        description="VoxCPM 1.5 (800M): English and Chinese at 44.1 kHz, cloned from a clip "
        "and its transcript.",
    ),
    vb.ModelConfig(
        model_name="voxcpm2", display_name="VoxCPM2 (48 kHz, multilingual)", engine=ENGINE,
        hf_repo_id="openbmb/VoxCPM2", model_size="2", sample_rate=48000,
        languages=("en", "zh", "auto"), size_mb=4600, supports_instruct=True, devices=_DEVICES,
        license=_LICENSE,
        description="VoxCPM2 (2B): 48 kHz, 30 languages read from the text; clones from a clip "
        "(with or without its transcript), designs a voice from a description, follows a style "
        "instruction.",
    ),
)


@vb.hookimpl
def voicebox_register_engines(register):  # type: ignore[no-untyped-def]
    register(
        vb.EngineInfo(
            name=ENGINE,
            display_name="VoxCPM (OpenBMB)",
            description="Clones a voice from a short clip (and its transcript); VoxCPM2 also "
            "designs one from a description. 16 kHz (0.5B), 44.1 kHz (1.5), 48 kHz (VoxCPM2).",
            backend="voicebox_engine_voxcpm.backend:VoxCPMBackend",
            check="voicebox_engine_voxcpm.backend:check_install",
            voice_kinds=("cloned", "designed"),
            models=MODELS,
            capabilities=vb.Capabilities(instruct=True, deterministic=True, streaming=True, max_chunk_chars=300),
            reference_seconds=(2.0, 30.0),
            homepage="https://github.com/OpenBMB/VoxCPM",
        )
    )
