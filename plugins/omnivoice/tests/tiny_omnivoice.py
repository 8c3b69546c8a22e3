"""A tiny OmniVoice checkpoint with random weights, in the upstream's own format.

Built with omnivoice's and transformers' own classes and ``save_pretrained``, so
``OmniVoice.from_pretrained(folder)`` reads it exactly as it reads ``k2-fsa/OmniVoice``:
``config.json`` + ``model.safetensors`` (a one-layer Qwen3 with 2 codebooks of 17 ids), a byte-
level tokenizer with OmniVoice's special tokens, and ``audio_tokenizer/`` (a Higgs Audio v2
codec with hop 960 = 25 frames/s at 24 kHz, as the real one; the HuBERT strides multiply to
320, else encoding fails). 0.4 MB in all (docs/audits/omnivoice.md 0.4).
"""

from __future__ import annotations

from pathlib import Path

SPECIALS = ["<|endoftext|>", "<|denoise|>", "<|lang_start|>", "<|lang_end|>", "<|instruct_start|>",
            "<|instruct_end|>", "<|text_start|>", "<|text_end|>"]


def _tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {symbol: index for index, symbol in enumerate(sorted(alphabet))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|endoftext|>",
                                        pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIALS[1:]})
    return tokenizer


def build(folder: Path) -> None:
    """Write the tiny checkpoint into ``folder`` (a snapshot folder)."""
    import torch
    from omnivoice.models.omnivoice import OmniVoice, OmniVoiceConfig
    from transformers import (
        DacFeatureExtractor,
        HiggsAudioV2TokenizerConfig,
        HiggsAudioV2TokenizerModel,
        Qwen3Config,
    )

    torch.manual_seed(0)
    folder = Path(folder)
    tokenizer = _tokenizer()
    tokenizer.save_pretrained(str(folder))
    codec = HiggsAudioV2TokenizerConfig(
        acoustic_model_config={"encoder_hidden_size": 4, "downsampling_ratios": [8, 5, 4, 6],
                               "decoder_hidden_size": 16, "upsampling_ratios": [8, 5, 4, 6], "hidden_size": 8},
        semantic_model_config={"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
                               "intermediate_size": 16, "conv_dim": [8] * 7, "conv_stride": [5, 2, 2, 2, 2, 2, 2],
                               "conv_kernel": [10, 3, 3, 3, 3, 2, 2], "num_conv_pos_embeddings": 16,
                               "num_conv_pos_embedding_groups": 2},
        codebook_size=16, codebook_dim=8, target_bandwidths=[0.2])
    HiggsAudioV2TokenizerModel(codec).save_pretrained(str(folder / "audio_tokenizer"))
    DacFeatureExtractor(sampling_rate=24000, hop_length=960).save_pretrained(str(folder / "audio_tokenizer"))
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    llm = Qwen3Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=16, pad_token_id=eos, eos_token_id=eos)
    config = OmniVoiceConfig(audio_vocab_size=17, audio_mask_id=16, num_audio_codebook=2,
                             audio_codebook_weights=[1, 1], llm_config=llm, pad_token_id=eos, eos_token_id=eos)
    OmniVoice(config).save_pretrained(str(folder))
