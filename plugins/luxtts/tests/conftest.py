"""Offline fixtures for the LuxTTS plugin's tests.

:func:`luxtts_hub_cache` builds a TINY random-weight LuxTTS in upstream's own formats (the
``ZipVoiceDistill`` checkpoint, its two ONNX graphs exported with upstream's exporter, a
LinaCodec vocoder config + state dict, ``tokens.txt``, ``config.json``) and lays it out as
the Hugging Face snapshot ``models--YatharthS--LuxTTS`` in a temporary cache. It needs
upstream ``zipvoice``/``linacodec`` (git-only, not on PyPI): without them the fixture skips
with that reason, and only the metadata, discovery and hook tests run.

The cache environment is set here, before anything imports huggingface_hub.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from voicebox_core.testing import offline_hub

offline_hub("voicebox-luxtts-tests-", keep_data_dir=True)

import pytest  # noqa: E402
from lux_helpers import FAKE_COMMIT, UPSTREAM_MISSING  # noqa: E402

#: Sentences whose phonemes make up the tiny model's vocabulary (English and Chinese).
VOCAB_TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "Hello world. This is a test, one two three!",
    "She said: why not? It's a good idea; let's go.",
    "你好世界，今天天气很好。我们一起去学校吧！",  # noqa: RUF001 - Chinese punctuation
)

_TINY_MODEL = {
    "fm_decoder_downsampling_factor": [1, 2, 1], "fm_decoder_num_layers": [1, 1, 1],
    "fm_decoder_cnn_module_kernel": [7, 7, 7], "fm_decoder_feedforward_dim": 64,
    "fm_decoder_num_heads": 2, "fm_decoder_dim": 32, "text_encoder_num_layers": 1,
    "text_encoder_feedforward_dim": 64, "text_encoder_cnn_module_kernel": 9,
    "text_encoder_num_heads": 2, "text_encoder_dim": 32, "time_embed_dim": 32,
    "text_embed_dim": 32, "query_head_dim": 16, "value_head_dim": 8, "pos_head_dim": 4,
    "pos_dim": 16, "feat_dim": 100,
}
# GroupNorm(32) inside LinaCodec's UpSamplerBlock needs dim/2 and dim/4 divisible by 32.
_VOCODER_DIM = 128


def _vocoder_config() -> dict:
    dim = _VOCODER_DIM
    return {
        "feature_extractor": {
            "class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
            "init_args": {"sample_rate": 24000, "n_fft": 1024, "hop_length": 256, "n_mels": 100,
                          "padding": "center"},
        },
        "backbone": {"class_path": "vocos.models.VocosBackbone",
                     "init_args": {"input_channels": 100, "dim": dim, "intermediate_dim": 256,
                                   "num_layers": 1}},
        "head": {"class_path": "vocos.heads.ISTFTHead",
                 "init_args": {"dim": dim, "n_fft": 1024, "hop_length": 256, "padding": "same"}},
        "upsampler": {"class_path": "linacodec.vocoder.upsampler_block.UpSamplerBlock",
                      "init_args": {"in_channels": dim, "upsample_factors": [2, 2],
                                    "kernel_sizes": [8, 8]}},
        "head_48k": {"class_path": "vocos.heads.ISTFTHead",
                     "init_args": {"dim": dim, "n_fft": 512, "hop_length": 128, "padding": "same"}},
    }


def _write_tokens(snapshot: Path) -> list[str]:
    from zipvoice.tokenizer.tokenizer import EmiliaTokenizer

    symbols: set[str] = set()
    for phones in EmiliaTokenizer().texts_to_tokens(list(VOCAB_TEXTS)):
        symbols.update(phones)
    symbols.discard("_")
    tokens = ["_", *sorted(symbols)]
    (snapshot / "tokens.txt").write_text(
        "".join(f"{token}\t{index}\n" for index, token in enumerate(tokens)), encoding="utf-8"
    )
    return tokens


def _export_onnx(model, snapshot: Path) -> None:  # type: ignore[no-untyped-def]
    """Upstream's own ONNX wrappers and exporters; torch 2.13 needs the legacy exporter."""
    import copy

    import torch
    from zipvoice.bin.onnx_export import (
        OnnxFlowMatchingModel,
        OnnxTextModel,
        export_fm_decoder,
        export_text_encoder,
    )
    from zipvoice.utils.scaling_converter import convert_scaled_to_non_scaled

    converted = copy.deepcopy(model)
    convert_scaled_to_non_scaled(converted, inplace=True, is_onnx=True)
    original = torch.onnx.export

    def legacy_export(*args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("dynamo", False)
        return original(*args, **kwargs)

    torch.onnx.export = legacy_export
    try:
        with torch.no_grad():
            export_text_encoder(OnnxTextModel(converted), str(snapshot / "text_encoder.onnx"),
                                opset_version=13)
            export_fm_decoder(OnnxFlowMatchingModel(converted, distill=True),
                              str(snapshot / "fm_decoder.onnx"), opset_version=13)
    finally:
        torch.onnx.export = original


def build_tiny_luxtts(snapshot: Path) -> None:
    """Write every file of ``YatharthS/LuxTTS`` (random weights, tiny dims) into ``snapshot``."""
    import torch
    import yaml
    from linacodec.vocoder.vocos import Vocos
    from torch.nn.utils import parametrize
    from zipvoice.models.zipvoice_distill import ZipVoiceDistill

    snapshot.mkdir(parents=True, exist_ok=True)
    tokens = _write_tokens(snapshot)
    (snapshot / "config.json").write_text(json.dumps(
        {"model": _TINY_MODEL, "feature": {"sampling_rate": 24000, "type": "vocos"}}, indent=1))
    torch.manual_seed(0)
    model = ZipVoiceDistill(**_TINY_MODEL, vocab_size=len(tokens), pad_id=0).eval()
    torch.save({"model": model.state_dict()}, snapshot / "model.pt")
    _export_onnx(model, snapshot)

    (snapshot / "vocoder").mkdir(exist_ok=True)
    config_path = snapshot / "vocoder" / "config.yaml"
    config_path.write_text(yaml.safe_dump(_vocoder_config()))
    vocoder = Vocos.from_hparams(str(config_path))
    for layer in vocoder.upsampler.upsample_layers[:2]:  # upstream loads it this way
        parametrize.remove_parametrizations(layer, "weight")
    torch.save(vocoder.state_dict(), snapshot / "vocoder" / "vocos.bin")


@pytest.fixture(scope="session")
def upstream() -> None:
    pytest.importorskip("zipvoice.luxvoice", reason=UPSTREAM_MISSING)
    pytest.importorskip("linacodec.vocoder.vocos", reason=UPSTREAM_MISSING)


@pytest.fixture(scope="session")
def luxtts_snapshot(upstream: None) -> Path:
    """The tiny model, built once, under ``hub/models--YatharthS--LuxTTS/snapshots/<commit>``."""
    from voicebox_core.testing import write_tiny_snapshot
    from voicebox_engine_luxtts.plugin import HF_REPO

    return write_tiny_snapshot(os.environ["HF_HUB_CACHE"], HF_REPO, build_tiny_luxtts, commit=FAKE_COMMIT)


@pytest.fixture(scope="session")
def long_reference_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An 8 s, 22.05 kHz clip: longer than upstream's 5 s prompt cut, at another rate."""
    from voicebox_core.testing import write_reference_clip

    path = write_reference_clip(tmp_path_factory.mktemp("lux-ref") / "long.wav", seconds=8.0,
                                sample_rate=22050, seed=3)
    return path, "Hello world. This is a test, one two three! The quick brown fox jumps over the lazy dog."
