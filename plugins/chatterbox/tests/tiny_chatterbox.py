"""Tiny random-weight Chatterbox checkpoints in upstream's own file formats (tests only).

chatterbox-tts hard-codes its model sizes, so :func:`shrink` patches those constants and
constructors while a ``pytest.MonkeyPatch`` is active. It is applied by the test fixture,
never by the plugin: the plugin loads whatever checkpoint it finds through upstream's
``from_local``, and with the patches active that checkpoint is the tiny one built here.

The T3 weights are edited so generation is short and always the same: each speech token's
embedding lights one hidden unit that the speech head maps to the next token, a chain
BOS -> t1 -> ... -> t10 -> STOP (recipe of research/scripts/chatterbox_qwen/tiny_chatterbox.py).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a frozen binary runs shrink() too, and has no pytest
    import pytest

DIM = 64
MTL_LANGUAGES = ("ar", "da", "de", "el", "en", "es", "fi", "fr", "he", "hi", "it", "ja", "ko",
                 "ms", "nl", "no", "pl", "pt", "ru", "sv", "sw", "tr", "zh")
#: A few Chinese glyphs with their Cangjie codes, in the format of Cangjie5_TC.json.
CANGJIE = ["你\tonf", "好\tvnd", "中\tl", "文\tyk"]
TURBO_TAGS = ["[laugh]", "[chuckle]", "[cough]"]


def shrink(mp: pytest.MonkeyPatch) -> None:
    """Make every hard-coded Chatterbox size tiny until ``mp.undo()``."""
    from chatterbox.models.s3gen import s3gen as s3m
    from chatterbox.models.s3gen.transformer import upsample_encoder as ue
    from chatterbox.models.t3 import llama_configs
    from chatterbox.models.t3.inference import alignment_stream_analyzer as asa
    from chatterbox.models.t3.modules import cond_enc, perceiver
    from s3tokenizer.model_v2 import S3TokenizerV2

    llama = llama_configs.LLAMA_CONFIGS["Llama_520M"]
    for key, value in dict(hidden_size=DIM, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=2, head_dim=DIM // 2).items():
        mp.setitem(llama, key, value)
    gpt2 = llama_configs.LLAMA_CONFIGS["GPT2_medium"]
    for key, value in dict(n_embd=DIM, hidden_size=DIM, n_head=2, n_layer=2).items():
        mp.setitem(gpt2, key, value)
    mp.setattr(cond_enc, "Perceiver", functools.partial(perceiver.Perceiver, 32, DIM, DIM, 2))
    # S3TokenizerV2's default ModelConfig instance is built at def time: edit it in place.
    # Its head size must stay 64 (the rotary embedding hard-codes it).
    default = S3TokenizerV2.__init__.__defaults__[0]
    for key, value in dict(n_audio_state=64, n_audio_head=1, n_audio_layer=1).items():
        mp.setattr(default, key, value)

    def sized(cls, **fixed):
        @functools.wraps(cls)
        def build(*args, **kwargs):
            kwargs.update(fixed)
            return cls(*args, **kwargs)
        return build

    mp.setattr(ue, "PreLookaheadLayer", sized(ue.PreLookaheadLayer, channels=64))
    mp.setattr(ue, "Upsample1D", sized(ue.Upsample1D, channels=64, out_channels=64))
    mp.setattr(s3m, "UpsampleConformerEncoder", sized(
        s3m.UpsampleConformerEncoder, input_size=64, output_size=64, attention_heads=2,
        linear_units=64, num_blocks=1))
    mp.setattr(s3m, "CausalMaskedDiffWithXvec", sized(s3m.CausalMaskedDiffWithXvec, input_size=64))
    mp.setattr(s3m, "ConditionalDecoder", sized(
        s3m.ConditionalDecoder, channels=[32], n_blocks=1, num_mid_blocks=1, num_heads=2,
        attention_head_dim=16))
    mp.setattr(s3m, "HiFTGenerator", sized(s3m.HiFTGenerator, base_channels=32))
    mp.setattr(s3m, "ConvRNNF0Predictor", sized(s3m.ConvRNNF0Predictor, cond_channels=32))
    mp.setattr(s3m, "CAMPPlus", sized(s3m.CAMPPlus, init_channels=32, growth_rate=8, bn_size=2))
    # The alignment analyzer hooks (layer, head) pairs of the 30-layer model.
    mp.setattr(asa, "LLAMA_ALIGNED_HEADS", [(1, 1), (1, 0), (0, 1)])


def _chain(state: dict, self_loop: bool, n: int = 10) -> None:
    emb, head = state["speech_emb.weight"], state["speech_head.weight"]
    tokens = [6561] + [100 + 7 * k for k in range(n)] + [6562]
    if self_loop:  # multilingual suppresses EOS early; a repeated token makes it stop
        tokens[-1] = tokens[-2]
    emb[:, : n + 1] = 0
    head[:, : n + 1] = 0
    for k in range(n + 1):
        emb[tokens[k], k] = 20.0
        head[tokens[k + 1], k] = 3.0


def _contiguous(state: dict) -> dict:
    return {k: v.contiguous() for k, v in state.items()}


def _char_vocab(extra: list[str]) -> dict[str, int]:
    vocab = {"[STOP]": 0, "[UNK]": 1, "[SPACE]": 2, "[START]": 255}
    chars = "abcdefghijklmnopqrstuvwxyz0123456789.,!?'\"-\u0301\u0300\u0302\u0308\u0327"
    for index, char in enumerate(chars):
        vocab[char] = 3 + index
    for index, token in enumerate(extra):
        vocab[token] = 300 + index
    return vocab


def _save_char_tokenizer(path: Path, extra: list[str]) -> None:
    from tokenizers import Tokenizer, models

    tokenizer = Tokenizer(models.BPE(vocab=_char_vocab(extra), merges=[], unk_token="[UNK]"))
    tokenizer.add_special_tokens(["[START]", "[STOP]", "[UNK]", "[SPACE]", *extra])
    tokenizer.save(str(path))


def build_multilingual(out: Path) -> None:
    """ve.pt, t3_mtl23ls_v2.safetensors, s3gen.pt, grapheme JSON and Cangjie5_TC.json."""
    import torch
    from chatterbox.models.s3gen import S3Gen
    from chatterbox.models.t3 import T3
    from chatterbox.models.t3.modules.t3_config import T3Config
    from chatterbox.models.voice_encoder import VoiceEncoder
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(VoiceEncoder().state_dict(), out / "ve.pt")
    t3_state = T3(T3Config.multilingual()).state_dict()
    _chain(t3_state, self_loop=True)
    save_file(_contiguous(t3_state), out / "t3_mtl23ls_v2.safetensors")
    torch.save(S3Gen().state_dict(), out / "s3gen.pt")
    cangjie = sorted({f"[cj_{c}]" for line in CANGJIE for c in line.split("\t")[1]} | {"[cj_.]"})
    _save_char_tokenizer(out / "grapheme_mtl_merged_expanded_v1.json",
                         [f"[{lang}]" for lang in MTL_LANGUAGES] + cangjie)
    (out / "Cangjie5_TC.json").write_text(json.dumps(CANGJIE, ensure_ascii=False), encoding="utf-8")


def build_turbo(out: Path) -> None:
    """ve/t3_turbo_v1/s3gen_meanflow safetensors and a GPT-2 byte-level tokenizer."""
    import torch
    from chatterbox.models.s3gen import S3Gen
    from chatterbox.models.t3 import T3
    from chatterbox.models.t3.modules.t3_config import T3Config
    from chatterbox.models.voice_encoder import VoiceEncoder
    from safetensors.torch import save_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2TokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    save_file(_contiguous(VoiceEncoder().state_dict()), out / "ve.safetensors")
    hp = T3Config(text_tokens_dict_size=50276)  # the overrides of ChatterboxTurboTTS.from_local
    hp.llama_config_name = "GPT2_medium"
    hp.speech_tokens_dict_size = 6563
    hp.input_pos_emb = None
    hp.speech_cond_prompt_len = 375
    hp.use_perceiver_resampler = False
    hp.emotion_adv = False
    t3_state = T3(hp).state_dict()
    _chain(t3_state, self_loop=False)
    save_file(_contiguous(t3_state), out / "t3_turbo_v1.safetensors")
    save_file(_contiguous(S3Gen(meanflow=True).state_dict()), out / "s3gen_meanflow.safetensors")
    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab["<|endoftext|>"] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    # GPT2TokenizerFast, not a generic fast tokenizer: transformers 5 saves the latter as
    # class "TokenizersBackend", which transformers 4.57 cannot load.
    tokenizer = GPT2TokenizerFast(tokenizer_object=backend, bos_token="<|endoftext|>",
                                  eos_token="<|endoftext|>", unk_token="<|endoftext|>")
    tokenizer.add_tokens(TURBO_TAGS)
    tokenizer.save_pretrained(str(out))


def as_hf_snapshot(hub: Path, repo_id: str, build, commit: str) -> Path:
    """Build into ``hub/models--org--name/snapshots/<commit>`` with ``refs/main`` and blobs."""
    from voicebox_core.testing import write_tiny_snapshot

    return write_tiny_snapshot(hub, repo_id, build, commit=commit)


def reference_wav(path: Path, seconds: float, sample_rate: int = 24000) -> Path:
    """A voiced, non-silent clip (the kit's generator, any length)."""
    from voicebox_core.testing import write_reference_clip

    return write_reference_clip(path, seconds=seconds, sample_rate=sample_rate)


__all__ = ["as_hf_snapshot", "build_multilingual", "build_turbo", "reference_wav", "shrink"]
