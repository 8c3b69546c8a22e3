"""hume-tada 0.1.9's models, built from folders voicebox-core resolved, never from the network.

Every repository hume-tada reads is a ModelConfig resolved by
:func:`voicebox_core.runtime.ensure_model` (local override, complete cache, or a download with
byte progress), and its hard-coded repo ids are redirected:

* the gated ``meta-llama/Llama-3.2-1B`` tokenizer and ``facebook/wav2vec2-large`` config on
  ``AlignerConfig``/``TadaConfig`` *instances* (``redirect_config_repo``), never by patching
  ``AutoTokenizer.from_pretrained``;
* ``HumeAI/tada-codec`` (a literal inside ``TadaForCausalLM.from_pretrained`` and
  ``Encoder.from_pretrained``): both classes are loaded through their base
  ``PreTrainedModel.from_pretrained`` and the decoder, tokenizer and aligner those overrides
  would have fetched are attached from the resolved directories;
* ``nvidia/parakeet-ctc-1.1b``: set where ``Encoder``'s properties cache it.

These work-arounds of upstream's loading live here, apart from the backend, so that
backend.py reads as the TTSBackend flow and this module as the list of what upstream would
otherwise fetch by itself.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from voicebox_core import ModelNotDownloadedError
from voicebox_core.runtime import (
    DownloadProgress,
    ensure_model,
    redirect_config_repo,
    upstream_import_error,
)

from voicebox_engine_tada.plugin import ALIGNER_BASE, ASR, TOKENIZER

__all__ = [
    "Progress",
    "attach_recogniser",
    "check_install",
    "import_tada",
    "load_aligner",
    "load_encoder",
    "load_llm",
    "rekeyed",
    "tokenizer_dir",
]

_TOKENIZER_ENV = "VOICEBOX_TADA_TOKENIZER_PATH"

Progress = Callable[[DownloadProgress], None]


def import_tada() -> SimpleNamespace:
    """hume-tada's classes, imported with the ``dac`` shim in place (never at metadata import)."""
    from voicebox_engine_tada.dac_shim import dac_modules

    with dac_modules():
        aligner = importlib.import_module("tada.modules.aligner")
        decoder = importlib.import_module("tada.modules.decoder")
        encoder = importlib.import_module("tada.modules.encoder")
        tada = importlib.import_module("tada.modules.tada")
    return SimpleNamespace(
        Aligner=aligner.Aligner, AlignerConfig=aligner.AlignerConfig, Decoder=decoder.Decoder,
        Encoder=encoder.Encoder, EncoderOutput=encoder.EncoderOutput,
        TadaConfig=tada.TadaConfig, TadaForCausalLM=tada.TadaForCausalLM,
        InferenceOptions=tada.InferenceOptions,
    )


def check_install() -> None:
    """The deep doctor's check: hume-tada's modules import (behind the dac shim)."""
    try:
        import_tada()
    except (ImportError, OSError) as exc:
        raise upstream_import_error(exc, "hume-tada", "pip install --no-deps hume-tada==0.1.9") from exc


def rekeyed(progress: Progress | None, model_name: str) -> Progress | None:
    """Report a companion repository's bytes under the user-facing model's name."""
    if progress is None:
        return None

    def report(event: DownloadProgress) -> None:
        filename = f"{event.model_name}/{event.filename}" if event.filename else ""
        progress(DownloadProgress(model_name, filename, event.downloaded, event.total))

    return report


def tokenizer_dir(progress: Progress | None) -> Path:
    """The Llama 3.2 tokenizer's folder: ``VOICEBOX_TADA_TOKENIZER_PATH``, else the mirror's."""
    explicit = os.environ.get(_TOKENIZER_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not (path / "tokenizer.json").is_file() and not (path / "tokenizer_config.json").is_file():
            raise ModelNotDownloadedError(
                f"{_TOKENIZER_ENV} points to {str(path)!r}, which holds no tokenizer.json or "
                "tokenizer_config.json; point it at a downloaded Llama 3.2 tokenizer folder"
            )
        return path
    return ensure_model(TOKENIZER, progress)


def load_encoder(tada: SimpleNamespace, codec_dir: Path, tokenizer_path: Path, device: str,
                 progress: Progress | None) -> Any:
    """TADA's ``Encoder`` with its English aligner, on ``device`` in eval mode."""
    # Encoder.from_pretrained's override loads its aligner with the gated defaults.
    encoder = super(tada.Encoder, tada.Encoder).from_pretrained(str(codec_dir), subfolder="encoder")
    encoder._aligner = load_aligner(tada, codec_dir, "aligner", tokenizer_path, device, progress)
    encoder.to(device)
    encoder.eval()
    return encoder


def load_aligner(tada: SimpleNamespace, codec_dir: Path, subfolder: str, tokenizer_path: Path,
                 device: str, progress: Progress | None) -> Any:
    """The ``Aligner`` in ``codec_dir/subfolder``, its tokenizer and wav2vec2 base redirected."""
    base_dir = ensure_model(ALIGNER_BASE, progress)
    config = tada.AlignerConfig.from_pretrained(str(codec_dir), subfolder=subfolder)
    redirect_config_repo(config, "tokenizer_name", str(tokenizer_path))
    redirect_config_repo(config, "base_model_name", str(base_dir))
    aligner = tada.Aligner.from_pretrained(str(codec_dir), subfolder=subfolder, config=config)
    return aligner.to(device).eval()


def load_llm(tada: SimpleNamespace, model_dir: Path, codec_dir: Path, tokenizer: Any,
             tokenizer_path: Path, device: str) -> Any:
    """``TadaForCausalLM`` of ``model_dir`` with the codec's decoder, on ``device`` in eval mode."""
    import torch

    tada_config = tada.TadaConfig.from_pretrained(str(model_dir))
    # TadaForCausalLM reads getattr(config, "tokenizer_name", <gated repo>): point the
    # config at the resolved tokenizer (the field is optional, so set, not redirected).
    tada_config.tokenizer_name = str(tokenizer_path)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    # PreTrainedModel.from_pretrained, skipping TadaForCausalLM's override that
    # fetches "HumeAI/tada-codec" and the tokenizer by hard-coded id.
    model = super(tada.TadaForCausalLM, tada.TadaForCausalLM).from_pretrained(
        str(model_dir), config=tada_config, dtype=dtype)
    model._decoder = tada.Decoder.from_pretrained(str(codec_dir), subfolder="decoder")
    model._tokenizer = tokenizer
    model.to(device)
    model.eval()
    return model


def attach_recogniser(encoder: Any, device: str, progress: Progress | None) -> None:
    """Give ``encoder`` TADA's English recogniser (Parakeet CTC) from the resolved folder."""
    from transformers import AutoModelForCTC, AutoProcessor

    directory = ensure_model(ASR, progress)
    if not hasattr(encoder, "_parakeet_ctc_1_1b"):
        # The attributes Encoder's properties cache "nvidia/parakeet-ctc-1.1b" in.
        encoder._parakeet_ctc_1_1b_processor = AutoProcessor.from_pretrained(str(directory))
        encoder._parakeet_ctc_1_1b = AutoModelForCTC.from_pretrained(str(directory)).to(
            device).eval()
