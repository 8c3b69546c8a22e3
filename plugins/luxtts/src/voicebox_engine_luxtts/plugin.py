"""Metadata of the LuxTTS engine. Imports neither torch nor ``zipvoice``: listing stays cheap."""

from __future__ import annotations

import voicebox_core as vb

VOICEBOX_API_VERSION = vb.API_VERSION

ENGINE = "luxtts"
HF_REPO = "YatharthS/LuxTTS"
SAMPLE_RATE = 48000

#: Every file either loader of upstream reads. The CPU path (onnxruntime) needs the two
#: ONNX graphs, CUDA/MPS (torch) need ``model.pt``; both need the tokens, the config and the
#: 48 kHz LinaCodec vocoder. One model serves every device, so all of them make it complete.
MODEL_FILES = (
    "tokens.txt",
    "config.json",
    "model.pt",
    "text_encoder.onnx",
    "fm_decoder.onnx",
    "vocoder/config.yaml",
    "vocoder/vocos.bin",
)

MODEL = vb.ModelConfig(
    model_name="luxtts",
    display_name="LuxTTS",
    engine=ENGINE,
    hf_repo_id=HF_REPO,
    sample_rate=SAMPLE_RATE,
    # The upstream tokenizer phonemises English (espeak en-us) and Chinese (jieba + pypinyin)
    # and skips any other script; the weights are a distillation of ZipVoice (zh + en).
    languages=("en", "zh"),
    files=MODEL_FILES,
    size_mb=700,
    devices=("cpu", "cuda", "mps"),
    description=(
        "Fast zero-shot voice cloning at 48 kHz (ZipVoice distilled to 4 flow-matching steps, "
        "LinaCodec vocoder). ONNX on CPU, torch on CUDA/MPS. English; Chinese is untested."
    ),
    license="Apache-2.0 (LuxTTS code and weights); LinaCodec vocoder code has no licence",
)

INFO = vb.EngineInfo(
    name=ENGINE,
    display_name="LuxTTS",
    description="Lightweight 48 kHz voice cloning from a 3-30 s reference clip and its transcript.",
    backend="voicebox_engine_luxtts.backend:LuxTTSBackend",
    check="voicebox_engine_luxtts.backend:check_install",
    voice_kinds=("cloned",),
    models=(MODEL,),
    capabilities=vb.Capabilities(multi_sample=True, deterministic=True, max_chunk_chars=300),
    reference_seconds=(3.0, 30.0),
    homepage="https://github.com/ysharma3501/LuxTTS",
)


@vb.hookimpl
def voicebox_register_engines(register):  # type: ignore[no-untyped-def]
    register(INFO)
