"""Tiny random-weight VoxCPM checkpoints in voxcpm's own format (config.json, model and audio
VAE safetensors, a LlamaTokenizerFast), written into Hugging Face snapshot folders.

The dimensions are tiny (hidden 32, one layer each); everything else (architecture names,
patching, the audio VAE's rates, the special token ids 101-104) is what voxcpm 2.0.3 reads.
"""

from __future__ import annotations

import json
from pathlib import Path

#: The sample rates of the real models (plugin.py declares them): 16 kHz VAE for 0.5B,
#: 44.1 kHz for 1.5, VoxCPM2 encodes at 16 kHz and decodes at 48 kHz.
KINDS = {"0.5B": ("voxcpm", 16000), "1.5": ("voxcpm", 44100), "2": ("voxcpm2", 48000)}


def _tokenizer(out: Path) -> int:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    vocab.update({f"<reserved_{i}>": i for i in range(3, 110)})  # 101-104: audio markers
    for char in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?'()-▁你好世界":
        vocab.setdefault(char, len(vocab))
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.decoder = decoders.Metaspace()
    LlamaTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                       legacy=True).save_pretrained(str(out))
    return len(vocab)


def build(out: Path, size: str) -> None:
    """Write the tiny checkpoint of ``size`` ("0.5B", "1.5", "2") into ``out``."""
    import torch
    from safetensors.torch import save_file
    from transformers import LlamaTokenizerFast

    arch, rate = KINDS[size]
    out.mkdir(parents=True, exist_ok=True)
    vocab = _tokenizer(out)
    lm = {"bos_token_id": 1, "eos_token_id": 2, "hidden_size": 32, "intermediate_size": 64,
          "max_position_embeddings": 4096, "num_attention_heads": 2, "num_hidden_layers": 1,
          "num_key_value_heads": 1, "rms_norm_eps": 1e-5,
          "rope_scaling": {"type": "longrope", "long_factor": [1.0] * 8, "short_factor": [1.0] * 8,
                           "original_max_position_embeddings": 4096},
          "vocab_size": vocab, "use_mup": False, "scale_emb": 1.0, "dim_model_base": 32,
          "scale_depth": 1.0, "rope_theta": 10000.0}
    part = {"hidden_dim": 32, "ffn_dim": 64, "num_heads": 2, "num_layers": 1}
    config = {"architecture": arch, "lm_config": lm, "patch_size": 2, "feat_dim": 8, "residual_lm_num_layers": 1,
              "scalar_quantization_latent_dim": 16, "scalar_quantization_scale": 9, "encoder_config": part,
              "dit_config": {**part, "cfm_config": {}}, "max_length": 1024, "device": "cpu", "dtype": "float32"}
    # The real hops: 25 latent frames a second (640 samples at 16 kHz, 1764 at 44.1 kHz);
    # VoxCPM2 encodes at 16 kHz and decodes 1920 samples a frame (48 kHz). decoder_dim halves
    # per decoder rate (depthwise convolutions): 128 keeps every stage at least one channel.
    encoder_rates = [2, 3, 6, 7, 7] if rate == 44100 else [2, 5, 8, 8]
    vae = {"encoder_dim": 8, "encoder_rates": encoder_rates, "latent_dim": 8, "decoder_dim": 128, "depthwise": True}
    if arch == "voxcpm2":
        vae.update(decoder_rates=[8, 6, 5, 2, 2, 2], sample_rate=16000, out_sample_rate=rate, cond_dim=8)
        from voxcpm.model.voxcpm2 import VoxCPM2Model as Model
        from voxcpm.model.voxcpm2 import VoxCPMConfig
        from voxcpm.modules.audiovae.audio_vae_v2 import AudioVAE, AudioVAEConfig
    else:
        vae.update(decoder_rates=encoder_rates[::-1], sample_rate=rate)
        from voxcpm.model.voxcpm import VoxCPMConfig
        from voxcpm.model.voxcpm import VoxCPMModel as Model
        from voxcpm.modules.audiovae.audio_vae import AudioVAE, AudioVAEConfig
    config["audio_vae_config"] = vae
    (out / "config.json").write_text(json.dumps(config, indent=1))
    torch.manual_seed(0)
    audio_vae = AudioVAE(config=AudioVAEConfig.model_validate(vae))
    model = Model(VoxCPMConfig.model_validate(config), LlamaTokenizerFast.from_pretrained(str(out)), audio_vae,
                  device="cpu")
    weights = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("audio_vae.")}
    save_file(weights, str(out / "model.safetensors"))
    save_file({k: v.contiguous() for k, v in audio_vae.state_dict().items()}, str(out / "audiovae.safetensors"))


__all__ = ["KINDS", "build"]
