"""A tiny random-weight VibeVoice in transformers' own format, as a "-hf" checkpoint folder.

Built from transformers' classes (``VibeVoiceConfig``, ``VibeVoiceForConditionalGeneration``,
``VibeVoiceProcessor`` with its acoustic feature extractor and a Qwen2 tokenizer) and saved
with ``save_pretrained``: config.json, generation_config.json, model.safetensors,
processor_config.json, chat_template.jinja, tokenizer.json, tokenizer_config.json.

Tiny: a byte-level tokenizer (256 symbols and the four special tokens VibeVoice uses), a
two-layer Qwen2 of width 64, depth-1 acoustic and semantic tokenizers with the real
downsampling ratios (hop 3200 samples = 7.5 Hz at 24 kHz), a two-layer diffusion head.

Random weights never choose the speech token, so generate() would return no audio. Two
weights are set so they do (``steer``): the last attention layer's value bias adds a fixed
direction to every hidden state and the speech token's lm_head row points along it; and the
acoustic decoder's output layer is scaled so decoded latents are audible. The tiny model then
speaks until ``max_new_tokens`` (it never chooses the end token).
"""

from __future__ import annotations

from pathlib import Path

SPECIALS = ("<|endoftext|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>")
DOWNSAMPLING = [2, 2, 4, 5, 5, 8]

#: VibeVoice's prompt: a system line, each voiced speaker's clip placeholder once, every turn
#: as "Speaker <role>: text", then the start of speech. Roles are "0", "1"...
CHAT_TEMPLATE = (
    "{{- system_prompt | default(' Transform the text provided by various speakers into speech output, "
    "utilizing the distinct voice of each respective speaker.\\n') -}}"
    "{%- set seen = namespace(roles='') -%}"
    "{%- for message in messages -%}"
    "{%- if (message['content'] | selectattr('type', 'equalto', 'audio') | list) and "
    "(',' ~ message['role'] ~ ',') not in seen.roles -%}"
    "{%- set seen.roles = seen.roles ~ ',' ~ message['role'] ~ ',' -%}"
    "{%- endif -%}{%- endfor -%}"
    "{%- if seen.roles -%}{{ ' Voice input:\\n' }}"
    "{%- for role in seen.roles.split(',') if role -%}"
    "{{ ' Speaker ' ~ role ~ ':<|vision_start|><|vision_pad|><|vision_end|>\\n' }}"
    "{%- endfor -%}{%- endif -%}"
    "{{ ' Text input:\\n' }}"
    "{%- for message in messages -%}"
    "{%- for item in message['content'] | selectattr('type', 'equalto', 'text') -%}"
    "{{ ' Speaker ' ~ message['role'] ~ ': ' ~ item['text'] ~ '\\n' }}"
    "{%- endfor -%}{%- endfor -%}"
    "{{ ' Speech output:\\n<|vision_start|>' }}"
)


def _tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import pre_tokenizers
    from transformers import Qwen2TokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokenizer = Qwen2TokenizerFast(vocab={t: i for i, t in enumerate((SPECIALS[0], *alphabet))}, merges=[],
                                   model_max_length=32768)
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIALS[1:])})
    return tokenizer


def _steer(model, speech_token: int) -> None:  # type: ignore[no-untyped-def]
    import torch

    language_model = model.model.language_model
    attention = language_model.layers[-1].self_attn
    text = model.config.text_config
    head_dim = text.hidden_size // text.num_attention_heads
    repeats = text.num_attention_heads // text.num_key_value_heads
    with torch.no_grad():
        bias = torch.randn(text.num_key_value_heads * head_dim) * 50.0
        attention.v_proj.bias.copy_(bias)
        per_head = bias.view(text.num_key_value_heads, head_dim).repeat_interleave(repeats, dim=0).reshape(-1)
        direction = attention.o_proj.weight @ per_head
        model.lm_head.weight[speech_token].copy_(direction / direction.norm())
        decoder = model.model.audio_tower.decoder
        peak = model.model.audio_tower.decode(torch.randn(1, 8, model.config.audio_config.hidden_size)).audio.abs().max()
        decoder.head.conv.weight.mul_(0.3 / peak)
        if decoder.head.conv.bias is not None:
            decoder.head.conv.bias.mul_(0.3 / peak)


def build(out: Path) -> None:
    import torch
    from transformers import (
        GenerationConfig,
        VibeVoiceAcousticTokenizerFeatureExtractor,
        VibeVoiceConfig,
        VibeVoiceForConditionalGeneration,
        VibeVoiceProcessor,
    )

    torch.manual_seed(0)
    tokenizer = _tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIALS}
    hop = 1
    for ratio in DOWNSAMPLING:
        hop *= ratio
    processor = VibeVoiceProcessor(
        feature_extractor=VibeVoiceAcousticTokenizerFeatureExtractor(sampling_rate=24000, pad_to_multiple_of=hop),
        tokenizer=tokenizer, chat_template=CHAT_TEMPLATE)
    stages = {"num_filters": 4, "kernel_size": 7, "downsampling_ratios": DOWNSAMPLING,
              "depths": [1] * (len(DOWNSAMPLING) + 1)}
    config = VibeVoiceConfig(
        text_config={"model_type": "qwen2", "vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "max_position_embeddings": 8192, "tie_word_embeddings": True,
                     "pad_token_id": ids[SPECIALS[0]], "eos_token_id": ids[SPECIALS[0]], "bos_token_id": None},
        audio_config={"model_type": "vibevoice_acoustic_tokenizer", "hidden_size": 16, **stages},
        semantic_model_config={"model_type": "vibevoice_acoustic_tokenizer_encoder", "hidden_size": 32, **stages},
        diffusion_head_config={"num_hidden_layers": 2, "intermediate_size": 96, "frequency_embedding_size": 32},
        pad_token_id=ids[SPECIALS[0]], eos_token_id=ids[SPECIALS[0]], audio_bos_token_id=ids[SPECIALS[1]],
        audio_eos_token_id=ids[SPECIALS[2]], audio_token_id=ids[SPECIALS[3]],
    )
    model = VibeVoiceForConditionalGeneration(config).eval()
    _steer(model, ids[SPECIALS[3]])
    generation = GenerationConfig(max_new_tokens=40500, do_sample=False, guidance_scale=1.3, bos_token_id=None,
                                  eos_token_id=ids[SPECIALS[0]], pad_token_id=ids[SPECIALS[0]])
    generation.noise_scheduler_class = "DPMSolverMultistepScheduler"
    generation.noise_scheduler_config = {"beta_schedule": "squaredcos_cap_v2", "prediction_type": "v_prediction"}
    generation.num_diffusion_steps = 10
    model.generation_config = generation
    out.mkdir(parents=True, exist_ok=True)
    processor.save_pretrained(str(out))
    model.save_pretrained(str(out))


__all__ = ["CHAT_TEMPLATE", "build"]
