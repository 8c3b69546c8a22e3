"""Tiny random-weight Qwen3-TTS checkpoints in upstream's own format, built from config only.

Every size in Qwen3-TTS comes from ``config.json``, so shrinking the config is enough: no
monkeypatching. The layout and the speaker/language tables mirror the real repositories
(``config.json``, ``generation_config.json``, ``model.safetensors``, the text tokenizer as
``vocab.json`` + ``merges.txt`` + ``tokenizer_config.json``, ``preprocessor_config.json``, and
``speech_tokenizer/``). ``max_new_tokens=12`` in ``generation_config.json`` bounds the length
(random weights rarely emit EOS): 11 frames of 1920 samples.

The "1.7B" checkpoints get a wider talker (96 instead of 64) so that, like the real pair, the
two sizes' speaker embeddings differ in width.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

NUM_CODE_GROUPS = 4
CODEBOOK = 2048
#: Real ``codec_language_id`` of the Qwen3-TTS checkpoints (inside the codec vocab's top 1024).
LANGUAGE_IDS = {
    "chinese": 2055, "english": 2050, "german": 2053, "italian": 2070, "portuguese": 2071,
    "spanish": 2054, "japanese": 2058, "korean": 2064, "french": 2061, "russian": 2069,
    "beijing_dialect": 2074, "sichuan_dialect": 2062,
}
#: Real ``spk_id`` / ``spk_is_dialect`` of the CustomVoice checkpoints.
SPEAKER_IDS = {
    "serena": 3066, "vivian": 3065, "uncle_fu": 3010, "ryan": 3061, "aiden": 2861,
    "ono_anna": 2873, "sohee": 2864, "eric": 2875, "dylan": 2878,
}
DIALECTS = {"eric": "sichuan_dialect", "dylan": "beijing_dialect"}
_SPEAKER_ENCODER_KEYS = ("mel_dim", "enc_dim", "enc_channels", "enc_kernel_sizes", "enc_dilations",
                         "enc_attention_channels", "enc_res2net_scale", "enc_se_channels",
                         "sample_rate")


def _text_tokenizer():  # type: ignore[no-untyped-def]
    """A byte-level BPE with Qwen's chat/tts special tokens (real vocab: 151k entries)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    tok = Qwen2TokenizerFast(tokenizer_object=backend, unk_token=None, bos_token=None,
                             eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    tok.add_special_tokens({"additional_special_tokens": [
        "<|im_start|>", "<|im_end|>", "<|tts_pad|>", "<|tts_text_bos|>", "<|tts_text_eod|>"]})
    # Upstream slices "<|im_start|>assistant\n" as exactly 3 tokens.
    tok.add_tokens(["assistant", "user"])
    return tok


def _speech_tokenizer(out: Path) -> None:
    """Mimi encoder + Qwen decoder, 24 kHz, 12.5 Hz frames (1920 samples per frame)."""
    import torch
    from qwen_tts.core import Qwen3TTSTokenizerV2Config, Qwen3TTSTokenizerV2Model
    from transformers import EncodecFeatureExtractor

    encoder = dict(hidden_size=32, num_filters=4, num_residual_layers=1,
                   upsampling_ratios=[8, 6, 5, 4], num_hidden_layers=1, num_attention_heads=2,
                   num_key_value_heads=2, head_dim=16, intermediate_size=64, codebook_size=CODEBOOK,
                   codebook_dim=16, num_quantizers=NUM_CODE_GROUPS, num_semantic_quantizers=1,
                   vector_quantization_hidden_dimension=16, upsample_groups=32,
                   sampling_rate=24000, frame_rate=12.5, use_cache=False)
    decoder = dict(codebook_size=CODEBOOK, codebook_dim=32, hidden_size=32, latent_dim=32,
                   num_attention_heads=2, num_key_value_heads=2, head_dim=16, intermediate_size=64,
                   num_hidden_layers=1, num_quantizers=NUM_CODE_GROUPS, upsample_rates=[8, 5, 4, 3],
                   upsampling_ratios=[2, 2], decoder_dim=64, sliding_window=72)
    config = Qwen3TTSTokenizerV2Config(encoder_config=encoder, decoder_config=decoder,
                                       encoder_valid_num_quantizers=NUM_CODE_GROUPS)
    config.architectures = ["Qwen3TTSTokenizerV2Model"]
    model = Qwen3TTSTokenizerV2Model(config)
    with torch.no_grad():
        # Codebook sums start at zero (EMA buffers): left so, every code decodes to silence.
        for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
            if name.endswith(("embedding_sum", "embed_sum")):
                tensor.normal_()
        # HF's N(0, 0.02) conv init decodes to ~1e-8; torch's default init is audible noise.
        for module in model.decoder.modules():
            if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
                module.reset_parameters()
    model.save_pretrained(out)
    EncodecFeatureExtractor(feature_size=1, sampling_rate=24000,
                            padding_value=0.0).save_pretrained(out)


def build_shared(out: Path) -> Path:
    """Text tokenizer files and the speech tokenizer, identical in every checkpoint."""
    from qwen_tts.core.models import Qwen3TTSProcessor

    out.mkdir(parents=True, exist_ok=True)
    Qwen3TTSProcessor(tokenizer=_text_tokenizer()).save_pretrained(out)
    # The real repositories ship the slow-tokenizer files only; make the tiny one load the same way.
    for name in ("tokenizer.json", "added_tokens.json", "special_tokens_map.json"):
        (out / name).unlink(missing_ok=True)
    (out / "preprocessor_config.json").write_text(json.dumps({"processor_class": "Qwen3TTSProcessor"}))
    json.dump(dict(do_sample=True, top_k=50, top_p=1.0, temperature=0.9, repetition_penalty=1.05,
                   subtalker_dosample=True, subtalker_top_k=50, subtalker_top_p=1.0,
                   subtalker_temperature=0.9, max_new_tokens=12),
              (out / "generation_config.json").open("w"), indent=1)
    _speech_tokenizer(out / "speech_tokenizer")
    return out


def build_checkpoint(out: Path, shared: Path, kind: str, size: str) -> Path:
    """One checkpoint: ``kind`` is base | custom_voice | voice_design, ``size`` 0.6B | 1.7B."""
    import torch
    from qwen_tts.core.models import Qwen3TTSConfig, Qwen3TTSForConditionalGeneration
    from transformers import AutoTokenizer

    shutil.copytree(shared, out, dirs_exist_ok=True)
    tok = AutoTokenizer.from_pretrained(shared)
    ids = {t: tok.convert_tokens_to_ids(t) for t in
           ("<|im_start|>", "<|im_end|>", "<|tts_pad|>", "<|tts_text_bos|>", "<|tts_text_eod|>")}
    hidden = 64 if size == "0.6B" else 96
    speakers = SPEAKER_IDS if kind == "custom_voice" else {}
    talker = dict(
        vocab_size=3072, hidden_size=hidden, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=4096,
        num_code_groups=NUM_CODE_GROUPS, text_hidden_size=hidden, text_vocab_size=len(tok) + 8,
        rope_scaling={"rope_type": "default", "mrope_section": [6, 5, 5], "interleaved": True},
        codec_eos_token_id=2150, codec_think_id=2154, codec_nothink_id=2155,
        codec_think_bos_id=2156, codec_think_eos_id=2157, codec_pad_id=2148, codec_bos_id=2149,
        codec_language_id=LANGUAGE_IDS, spk_id=speakers,
        spk_is_dialect={name: DIALECTS.get(name, False) for name in speakers},
        code_predictor_config=dict(vocab_size=CODEBOOK, hidden_size=64, intermediate_size=128,
                                   num_hidden_layers=1, num_attention_heads=2,
                                   num_key_value_heads=1, head_dim=32,
                                   max_position_embeddings=64, num_code_groups=NUM_CODE_GROUPS),
    )
    config = Qwen3TTSConfig(
        talker_config=talker,
        speaker_encoder_config=dict(mel_dim=128, enc_dim=hidden, enc_channels=[32, 32, 32, 32, 96],
                                    enc_attention_channels=16, enc_res2net_scale=8,
                                    enc_se_channels=16, sample_rate=24000),
        tokenizer_type="qwen3_tts_tokenizer_12hz",
        tts_model_size="0b6" if size == "0.6B" else "1b7",
        tts_model_type=kind,
        im_start_token_id=ids["<|im_start|>"], im_end_token_id=ids["<|im_end|>"],
        tts_pad_token_id=ids["<|tts_pad|>"], tts_bos_token_id=ids["<|tts_text_bos|>"],
        tts_eos_token_id=ids["<|tts_text_eod|>"],
    )
    config.architectures = ["Qwen3TTSForConditionalGeneration"]
    torch.manual_seed({"base": 0, "custom_voice": 1, "voice_design": 2}[kind])
    Qwen3TTSForConditionalGeneration(config).save_pretrained(out)
    # save_pretrained writes model_type & co. into the speaker-encoder sub-config, whose class
    # takes no **kwargs; the real config.json holds only its own keys.
    path = out / "config.json"
    data = json.loads(path.read_text())
    data["speaker_encoder_config"] = {k: data["speaker_encoder_config"][k]
                                      for k in _SPEAKER_ENCODER_KEYS}
    path.write_text(json.dumps(data, indent=1))
    # save_pretrained also writes a transformers generation_config.json: restore qwen's own.
    shutil.copyfile(shared / "generation_config.json", out / "generation_config.json")
    return out
