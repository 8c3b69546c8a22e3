"""Build a tiny random-weight TADA, laid out as Hugging Face snapshots under the real repo ids.

Written into ``<hub>/models--<org>--<name>/{refs/main, snapshots/<commit>/...}``:

* ``unsloth/Llama-3.2-1B`` (the ungated tokenizer mirror the plugin uses): a byte-level BPE
  trained here with ``tokenizers`` on a few sentences, carrying the Llama-3 special tokens
  TADA's prompt template uses, saved as a ``PreTrainedTokenizerFast``. Nothing is written
  under ``meta-llama/Llama-3.2-1B``, so a load that still reached for the gated repo fails.
* ``facebook/wav2vec2-large``: only a tiny ``config.json`` (TADA reads nothing else).
* ``HumeAI/tada-codec``: ``encoder/``, ``decoder/``, ``aligner/`` and ``aligner-ja/``
  (``save_pretrained`` of hume-tada's own classes, random weights).
* ``HumeAI/tada-1b`` and ``HumeAI/tada-3b-ml``: ``TadaForCausalLM`` of two different tiny
  shapes (hidden 32 vs 48), each config carrying a ``voicebox_fixture`` marker naming its repo.

Random weights make TADA's flow-matching head emit arbitrary duration bits, which can decode
outside ``num_time_classes`` and crash ``nn.Embedding``. :func:`_steer_head` makes the head
emit a constant velocity instead, so with ``noise_temperature=0`` the ODE ends exactly on a
chosen vector: valid durations (3 frames before/after each token) and small acoustic values.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

FAKE_COMMIT = "7ada000000000000000000000000000000000001"
ACOUSTIC_DIM = 16
CORPUS = (
    "The quick brown fox jumps over the lazy dog.",
    "Hello world. This is a test of a tiny tokenizer for offline tests!",
    "Please call Stella. Ask her to bring these things with her from the store.",
    "今日はとても良い天気ですね。散歩に行きましょう。",
)
LLAMA3_SPECIAL = (
    "<|begin_of_text|>", "<|end_of_text|>", "<|finetune_right_pad_id|>",
    "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
)
#: Per size: repo id and the tiny LLM shape that tells the two apart.
SIZES = {
    "1B": ("HumeAI/tada-1b", {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2}),
    "3B": ("HumeAI/tada-3b-ml", {"hidden_size": 48, "intermediate_size": 96, "num_attention_heads": 3}),
}


def snapshot(hub: Path, repo_id: str) -> Path:
    """The (empty, or partly built) snapshot folder of ``repo_id``, with ``refs/main`` naming it.
    Plain files: one builder's config names another's snapshot folder before it is complete."""
    from voicebox_core.testing import write_tiny_snapshot

    return write_tiny_snapshot(hub, repo_id, {}, commit=FAKE_COMMIT, blobs=False)


def _tokenizer(hub: Path):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=list(LLAMA3_SPECIAL),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    bpe.train_from_iterator(list(CORPUS) * 10, trainer)
    bos = "<|begin_of_text|>"
    bpe.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bpe.token_to_id(bos))])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=bos,
                                        eos_token="<|end_of_text|>")
    tokenizer.save_pretrained(snapshot(hub, "unsloth/Llama-3.2-1B"))
    return tokenizer


def _steer_head(llm, frames_before: int = 3, frames_after: int = 3) -> None:  # type: ignore[no-untyped-def]
    import torch
    from tada.utils.gray_code import encode_time_with_gray_code

    head = llm.prediction_head
    hidden = head.config.hidden_size
    bits = llm.num_time_bits
    target = torch.cat([
        torch.randn(llm.config.acoustic_dim) * 0.5,
        encode_time_with_gray_code(torch.tensor(frames_before), bits),
        encode_time_with_gray_code(torch.tensor(frames_after), bits),
    ])
    silu = torch.nn.functional.silu
    with torch.no_grad():
        head.noisy_images_proj.weight.zero_()  # the velocity ignores the noisy sample...
        head.cond_proj.weight.zero_()  # ...and the LLM's condition
        for layer in head.layers:
            layer.adaLN_modulation[-1].weight.zero_()  # zero gates: layers pass x through
        first = head.t_embedder.mlp[0].weight
        first.zero_()
        first[:, head.t_embedder.frequency_embedding_size // 2 - 1] = 1.0  # cos(~0) == 1 for t in [0, 1]
        head.t_embedder.mlp[2].weight.copy_(torch.eye(hidden))
        gain = silu(silu(torch.tensor(1.0)))
        modulation = head.final_layer.adaLN_modulation[-1].weight
        modulation.zero_()
        modulation[0, :] = 1.0 / (gain * hidden)  # shift[0] == 1, scale == 0
        linear = head.final_layer.linear.weight
        linear.zero_()
        linear[:, 0] = target  # velocity == target


def build(hub: Path, languages: tuple[str, ...] = ("ja",)) -> dict[str, float]:
    """Write every repository into ``hub``; return build timings in seconds."""
    started = time.perf_counter()
    import torch
    from transformers import Wav2Vec2Config
    from voicebox_engine_tada.backend import import_tada

    tada = import_tada()
    torch.manual_seed(0)
    tokenizer = _tokenizer(hub)
    vocab = len(tokenizer)
    Wav2Vec2Config(
        vocab_size=vocab, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, conv_dim=(16,) * 7, conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, feat_extract_norm="layer", do_stable_layer_norm=True,
    ).save_pretrained(snapshot(hub, "facebook/wav2vec2-large"))

    # The Aligner builds itself from tokenizer_name/base_model_name: point a config instance
    # at the fixture's own folders (what the backend does with the real ones).
    codec = snapshot(hub, "HumeAI/tada-codec")
    aligner_config = tada.AlignerConfig()
    aligner_config.tokenizer_name = str(snapshot(hub, "unsloth/Llama-3.2-1B"))
    aligner_config.base_model_name = str(snapshot(hub, "facebook/wav2vec2-large"))
    for folder in ("aligner", *(f"aligner-{lang}" for lang in languages)):
        tada.Aligner(aligner_config).save_pretrained(codec / folder)
    tada.Encoder(tada.Encoder.config_class(
        hidden_dim=32, embed_dim=ACOUSTIC_DIM, num_attn_layers=1, num_attn_heads=2,
        attn_dim_feedforward=64)).save_pretrained(codec / "encoder")
    tada.Decoder(tada.Decoder.config_class(
        embed_dim=ACOUSTIC_DIM, hidden_dim=32, num_attn_layers=1, num_attn_heads=2,
        attn_dim_feedforward=64, wav_decoder_channels=64)).save_pretrained(codec / "decoder")
    codec_done = time.perf_counter()

    for repo_id, shape in SIZES.values():
        config = tada.TadaConfig(
            vocab_size=vocab, num_hidden_layers=1, num_key_value_heads=1, head_dim=16,
            max_position_embeddings=512, tie_word_embeddings=True,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            acoustic_dim=ACOUSTIC_DIM, num_time_classes=256, shift_acoustic=5, head_layers=1,
            head_ffn_ratio=2.0, **shape,
        )
        config.voicebox_fixture = repo_id
        llm = tada.TadaForCausalLM(config)
        _steer_head(llm)
        llm.save_pretrained(snapshot(hub, repo_id))
    done = time.perf_counter()
    return {"codec_s": codec_done - started, "llms_s": done - codec_done, "total_s": done - started}


if __name__ == "__main__":
    hub = Path(os.environ["HF_HUB_CACHE"])
    print(build(hub))
