"""A tiny random-weight Pocket TTS in pocket-tts's own format, as Kyutai's two repositories lay it out.

Built with pocket-tts's own classes (docs/audits/pocket_tts.md, "Tiny model"):

- ``tokenizer.json``: a ``tokenizers`` Unigram of single characters behind a Metaspace
  pre-tokenizer (the real one is a converted SentencePiece of 4000 pieces); the YAML's
  ``n_bins`` is its vocabulary size, as ``JsonTokenizer`` asserts.
- ``ARCHITECTURE``: ``english.yaml``'s keys with tiny widths, no weight or tokenizer path (the
  backend fills them in from the cache, exactly as for the real YAMLs).
- ``TTSModel.load_model(config=...)`` builds it with random weights; ``out_eos.bias = +10`` makes
  EOS fire at the earliest frame upstream allows (6), so a sentence is about ten 80 ms frames.
- The gated weights carry a random speaker projection; the open ones the same weights with a
  zero projection (what cannot clone). Preset voice states are ``export_model_state`` of a
  noise clip encoded by the gated weights, as Kyutai exported theirs.

About 0.3 MB per weights file; built in ~2 s, mostly imports.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import yaml

#: Characters the tiny tokenizer knows (anything else is <unk>); ``▁`` is the Metaspace mark.
CHARACTERS = ("▁" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
              ".,!?;:'\"-()…àâäçéèêëîïôöùûüßñáíóúãõÀÂÄÇÉÈÊÎÔÖÙÛÜÑ")
#: Preset voices written per language folder (the others are absent: fetched on first use).
VOICES_IN_CACHE = {"english": ("alba", "marius", "giovanni"), "french": ("estelle", "alba")}


def tokenizer_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = [("<unk>", 0.0)] + [(c, -1.0) for c in CHARACTERS]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return tokenizer.to_str()


def architecture(n_bins: int) -> dict:
    return {
        "flow_lm": {
            "dtype": "float32", "insert_bos_before_voice": True, "flow": {"depth": 1, "dim": 16},
            "transformer": {"d_model": 32, "hidden_scale": 2, "max_period": 10000, "num_heads": 2,
                            "num_layers": 1},
            "lookup_table": {"dim": 32, "n_bins": n_bins, "tokenizer": "tokenizers",
                             "tokenizer_path": "tokenizer.json"},
        },
        "mimi": {
            "dtype": "float32", "sample_rate": 24000, "frame_rate": 12.5, "channels": 1,
            "inner_dim": 8, "outer_dim": 32,
            # 24000 / (6 * 5 * 4) / 12.5 = 16 encoder steps per latent: must be an integer.
            "seanet": {"dimension": 32, "channels": 1, "n_filters": 4, "n_residual_layers": 1,
                       "ratios": [6, 5, 4], "kernel_size": 7, "residual_kernel_size": 3,
                       "last_kernel_size": 3, "dilation_base": 2, "pad_mode": "constant", "compress": 2},
            "transformer": {"d_model": 32, "num_heads": 2, "num_layers": 1, "layer_scale": 0.01,
                            "context": 250, "dim_feedforward": 64, "input_dimension": 32,
                            "output_dimensions": [32]},
            "quantizer": {"dimension": 8, "output_dimension": 32},
        },
    }


def _safetensors(state: dict) -> bytes:
    from safetensors.torch import save

    return save({name: tensor.contiguous() for name, tensor in state.items()})


def build(seed: int = 0) -> dict[str, object]:
    """Every tiny file: ``{"architecture": yaml text, "tokenizer": json text, "open": bytes,
    "gated": bytes, "voices": {name: bytes}}``."""
    import torch
    from pocket_tts import TTSModel, export_model_state

    tokenizer = tokenizer_json()
    n_bins = json.loads(tokenizer)["model"]["vocab"].__len__()
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory(prefix="tiny-pocket-") as scratch:
        (Path(scratch) / "tokenizer.json").write_text(tokenizer, "utf-8")
        arch = architecture(n_bins)
        arch["flow_lm"]["lookup_table"]["tokenizer_path"] = str(Path(scratch) / "tokenizer.json")
        (Path(scratch) / "tiny.yaml").write_text(yaml.safe_dump(arch), "utf-8")
        model = TTSModel.load_model(config=Path(scratch) / "tiny.yaml")  # random: "model is uninitialized"
        with torch.no_grad():
            model.flow_lm.out_eos.bias.fill_(10.0)
            model.flow_lm.speaker_proj_weight.normal_(0.0, 0.5)
        gated = {name: value.clone() for name, value in model.state_dict().items()}
        voices = {}
        for index, name in enumerate(sorted({v for names in VOICES_IN_CACHE.values() for v in names})):
            clip = 0.1 * torch.randn(1, 24000, generator=torch.Generator().manual_seed(seed + index))
            path = Path(scratch) / f"{name}.safetensors"
            export_model_state(model.get_state_for_audio_prompt(clip), path)
            voices[name] = path.read_bytes()
    opened = dict(gated, **{"flow_lm.speaker_proj_weight": torch.zeros_like(gated["flow_lm.speaker_proj_weight"])})
    arch = architecture(n_bins)
    del arch["flow_lm"]["lookup_table"]["tokenizer_path"]  # the backend's to fill in
    text = io.StringIO()
    text.write("# Tiny random Pocket TTS: architecture only (voicebox-engine-pocket-tts tests).\n")
    yaml.safe_dump(arch, text)
    return {"architecture": text.getvalue(), "tokenizer": tokenizer, "open": _safetensors(opened),
            "gated": _safetensors(gated), "voices": voices}
