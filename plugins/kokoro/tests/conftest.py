"""Offline fixtures for the Kokoro plugin's tests: a tiny Kokoro-82M in a fake Hugging Face cache.

The checkpoint is built with kokoro's own ``KModel`` (random weights) and laid out exactly
like ``hexgrad/Kokoro-82M``: ``config.json`` with the real fixed dimensions (hidden 512,
style 128, 510-phoneme packs, the real vocab) but one layer and a 32-wide ALBERT, and
``kokoro-v1_0.pth`` holding ``{bert, bert_encoder, predictor, text_encoder, decoder}``
state dicts whose keys carry the ``module.`` prefix of the real file (so kokoro's
prefix-stripping fallback runs). About 57M parameters, 228 MB, built in ~10 s.

Voice packs (``voices/<id>.pt``, random ``[510, 1, 256]``):

- ``af_heart`` (American English) and ``ef_dora`` (Spanish), saved normally;
- ``bf_emma`` (British English) saved as if from a CUDA device (its storages are tagged
  ``cuda:0``), which is how a pack breaks ``torch.load`` without ``map_location``.

Every other voice is absent, so using one must fail offline with a download hint.
The cache environment is set here, before anything imports huggingface_hub.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from voicebox_core.testing import offline_hub

offline_hub("voicebox-kokoro-tests-", unset=("VOICEBOX_KOKORO_SPACY_MODEL",), keep_data_dir=True)

import pytest  # noqa: E402

REPO_ID = "hexgrad/Kokoro-82M"
REPO_DIR = "models--" + REPO_ID.replace("/", "--")
FAKE_COMMIT = "6e1a4a1b0c7d2f3e4a5b6c7d8e9f0a1b2c3d4e5f"
VOICES_IN_CACHE = ("af_heart", "ef_dora", "bf_emma")
CUDA_SAVED_VOICE = "bf_emma"
VOCAB = json.loads((Path(__file__).parent / "data" / "kokoro_vocab.json").read_text("utf-8"))["vocab"]


def tiny_config() -> dict:
    """Kokoro's config.json with its fixed dimensions kept and everything else shrunk."""
    return {
        "istftnet": {
            "upsample_kernel_sizes": [10, 6], "upsample_rates": [10, 6],
            "gen_istft_hop_size": 5, "gen_istft_n_fft": 20,
            "resblock_dilation_sizes": [[1, 3, 5]], "resblock_kernel_sizes": [3],
            "upsample_initial_channel": 512,  # fixed: the last decoder block emits 512
        },
        "dim_in": 64, "dropout": 0.2,
        "hidden_dim": 512,  # fixed: Decoder.asr_res is Conv1d(512, 64)
        "max_conv_dim": 512,
        "max_dur": 4,  # 1-4 frames (25 ms each) per phoneme keeps the audio short
        "multispeaker": True, "n_layer": 1, "n_mels": 80, "n_token": 178,
        "style_dim": 128,  # fixed: a voice pack row is [style 128 | prosody 128]
        "text_encoder_kernel_size": 5,
        "plbert": {
            "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64,
            "max_position_embeddings": 512,  # >= 510 phonemes + 2
            "num_hidden_layers": 1, "dropout": 0.1, "embedding_size": 32,
        },
        "vocab": VOCAB,
    }


def save_as_if_from_cuda(tensor, path: Path) -> None:  # type: ignore[no-untyped-def]
    """``torch.save`` with every storage tagged ``cuda:0``, as a GPU-saved voice pack is."""
    import torch
    from torch import serialization

    def tagger(obj):  # type: ignore[no-untyped-def]
        device = getattr(obj, "device", None)
        return "cuda:0" if device is not None and device.type == "cpu" else None

    serialization.register_package(1, tagger, lambda obj, location: None)
    try:
        torch.save(tensor, path)
    finally:
        serialization._package_registry[:] = [
            entry for entry in serialization._package_registry if entry[1] is not tagger
        ]


def build_tiny_snapshot(snapshot: Path, seed: int = 0) -> Path:
    """Write config.json, kokoro-v1_0.pth and the voice packs into ``snapshot``."""
    import torch
    from kokoro import KModel

    (snapshot / "voices").mkdir(parents=True, exist_ok=True)
    config = snapshot / "config.json"
    config.write_text(json.dumps(tiny_config(), ensure_ascii=False), "utf-8")
    weights = snapshot / "kokoro-v1_0.pth"
    torch.save({}, weights)  # an empty checkpoint: KModel keeps its random initialisation
    torch.manual_seed(seed)
    model = KModel(repo_id="hexgrad/Kokoro-82M", config=str(config), model=str(weights))
    parts = ("bert", "bert_encoder", "predictor", "text_encoder", "decoder")
    torch.save(
        {part: {f"module.{name}": value for name, value in getattr(model, part).state_dict().items()}
         for part in parts},
        weights,
    )
    generator = torch.Generator().manual_seed(seed + 1)
    for voice_id in VOICES_IN_CACHE:
        pack = torch.randn(510, 1, 256, generator=generator) * 0.1
        target = snapshot / "voices" / f"{voice_id}.pt"
        if voice_id == CUDA_SAVED_VOICE:
            save_as_if_from_cuda(pack, target)
        else:
            torch.save(pack, target)
    return snapshot


@pytest.fixture(scope="session")
def kokoro_hub() -> Path:
    """``hub/models--hexgrad--Kokoro-82M`` with refs/main and one tiny snapshot."""
    from voicebox_core.testing import write_tiny_snapshot

    snapshot = Path(os.environ["HF_HUB_CACHE"]) / REPO_DIR / "snapshots" / FAKE_COMMIT
    if (snapshot / "kokoro-v1_0.pth").exists():
        return snapshot
    return write_tiny_snapshot(os.environ["HF_HUB_CACHE"], REPO_ID, build_tiny_snapshot, commit=FAKE_COMMIT)


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple]]:
    """Any attempt to open a network connection fails at once (and is recorded)."""
    attempts: list[tuple] = []

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        attempts.append(args[1:] if args and isinstance(args[0], socket.socket) else args)
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts
