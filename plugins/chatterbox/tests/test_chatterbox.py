"""Real inference through the plugin on tiny offline models, and each upstream trap."""

from __future__ import annotations

import asyncio
import socket
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import voicebox_core as vb
from voicebox_core.synthesis import SynthesisRequest, Synthesizer, Voice


def run(coro):
    return asyncio.run(coro)


def assert_audio(audio: np.ndarray, rate: int) -> None:
    assert rate == 24000
    assert isinstance(audio, np.ndarray) and audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size > 0 and np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
    assert float(np.abs(audio).max()) > 0.0


# -- metadata ----------------------------------------------------------------------------


def test_metadata_is_cheap_and_truthful():
    from voicebox_engine_chatterbox import plugin

    engines = []
    plugin.voicebox_register_engines(engines.append)
    by_name = {e.name: e for e in engines}
    assert set(by_name) == {"chatterbox", "chatterbox_turbo"}
    mtl, turbo = by_name["chatterbox"], by_name["chatterbox_turbo"]
    assert len(mtl.default_model.languages) == 23 and turbo.default_model.languages == ("en",)
    assert turbo.reference_seconds == (5.0, 30.0)
    for info in engines:
        assert vb.config.validate_engine(info) == []
        assert info.voice_kinds == ("cloned",) and info.default_voice is None
        model = info.default_model
        assert model.needs_trim and model.sample_rate == 24000 and "mps" not in model.devices
    from chatterbox.mtl_tts import SUPPORTED_LANGUAGES

    assert set(mtl.default_model.languages) == set(SUPPORTED_LANGUAGES)


# -- multilingual: clone and speak in two languages --------------------------------------


@pytest.mark.parametrize(("language", "text"), [("en", "Hello world, this is a test."),
                                                  ("fr", "Bonjour à tous, ceci est un essai.")])
def test_multilingual_clones_and_speaks(mtl, clips, language, text):
    prompt, cached = run(mtl.create_voice_prompt(str(clips["3s"]), "reference words"))
    assert prompt == {"ref_audio": str(clips["3s"]), "ref_text": "reference words"} and not cached
    audio, rate = run(mtl.generate(text, prompt, language, seed=7))
    assert_audio(audio, rate)
    ids = mtl.model.tokenizer.encode(text, language_id=language)
    assert ids[0] == mtl.model.tokenizer.tokenizer.token_to_id(f"[{language}]")


def test_multilingual_through_the_synthesizer_in_german(tiny_models, clips):
    registry = vb.Registry.discover()
    result = run(Synthesizer(registry).synthesize(SynthesisRequest(
        text="Guten Tag. Wie geht es dir?", model="chatterbox-tts", language="de", seed=3,
        voice=Voice.clone([(str(clips["3s"]), "hallo")]))))
    assert result.sample_rate == 24000 and result.language == "de"
    assert result.audio.dtype == np.float32 and result.audio.size > 0


def test_multilingual_rejects_bad_input(mtl, clips):
    prompt = {"ref_audio": str(clips["3s"]), "ref_text": ""}
    with pytest.raises(vb.UnsupportedLanguageError):
        run(mtl.generate("Hello.", prompt, "xx"))
    with pytest.raises(vb.InvalidRequestError):
        run(mtl.generate("Hello.", {"ref_text": "no audio"}, "en"))
    with pytest.raises(vb.ReferenceAudioError):
        run(mtl.generate("Hello.", {"ref_audio": str(clips["3s"]) + ".missing"}, "en"))
    with pytest.raises(vb.InvalidRequestError):
        run(mtl.load_model("1B"))


def test_combine_voice_prompts(mtl, clips):
    audio, text = run(mtl.combine_voice_prompts([str(clips["3s"]), str(clips["5s"])], ["a", "b"]))
    assert audio.dtype == np.float32 and text == "a b"
    assert abs(audio.size - 8 * 24000) < 10


# -- turbo -------------------------------------------------------------------------------


def test_turbo_clones_and_speaks_with_tags(turbo, clips):
    prompt, _ = run(turbo.create_voice_prompt(str(clips["6s"]), ""))
    audio, rate = run(turbo.generate("Well [laugh] that was fun.", prompt, "en", seed=1))
    assert_audio(audio, rate)
    ids = turbo.model.tokenizer("Well [laugh] that").input_ids
    assert turbo.model.tokenizer.convert_tokens_to_ids("[laugh]") in ids


def test_turbo_only_speaks_english(turbo, clips):
    with pytest.raises(vb.UnsupportedLanguageError):
        run(turbo.generate("Hallo.", {"ref_audio": str(clips["6s"])}, "de"))


@pytest.mark.parametrize("clip", ["3s", "5s"])
def test_turbo_short_reference_is_a_typed_4xx_error(turbo, clips, clip):
    """Upstream asserts len > 5 s; the plugin answers ReferenceAudioError (422) instead."""
    with pytest.raises(vb.ReferenceAudioError, match="longer than 5 s") as caught:
        run(turbo.create_voice_prompt(str(clips[clip]), ""))
    assert caught.value.status_code == 422
    with pytest.raises(vb.ReferenceAudioError):
        run(turbo.generate("Hello.", {"ref_audio": str(clips[clip])}, "en"))


def test_turbo_short_reference_is_rejected_before_loading(tiny_models, clips):
    synthesizer = Synthesizer(vb.Registry.discover())
    request = SynthesisRequest(text="Hello.", model="chatterbox-turbo",
                               voice=Voice.clone([(str(clips["3s"]), "")]))
    with pytest.raises(vb.ReferenceAudioError):
        synthesizer.plan(request)
    assert synthesizer.loaded_models() == []


def test_turbo_loudness_gain_stays_float32_under_numpy2(turbo):
    """pyloudnorm's float64 gain promotes float32 audio under numpy 2 (NEP 50)."""
    assert int(np.__version__.split(".")[0]) >= 2, "this env must exercise numpy 2"
    rng = np.random.default_rng(0)
    wav = (0.1 * rng.standard_normal(24000 * 2)).astype(np.float32)
    upstream = type(turbo.model).norm_loudness.__wrapped__
    assert upstream(turbo.model, wav, 24000).dtype == np.float64  # the trap is real here
    assert turbo.model.norm_loudness(wav, 24000).dtype == np.float32


# -- multilingual tokenizer: Cangjie table and pkuseg ------------------------------------


def test_cangjie_table_comes_from_the_snapshot(mtl):
    converter = mtl.model.tokenizer.cangjie_converter
    assert converter.word2cj == {"你": "onf", "好": "vnd", "中": "l", "文": "yk"}
    ids = mtl.model.tokenizer.encode("你好", language_id="zh")
    cj = mtl.model.tokenizer.tokenizer.token_to_id("[cj_o]")
    assert cj in ids and mtl.model.tokenizer.tokenizer.token_to_id("[UNK]") not in ids
    from chatterbox.models.tokenizers import tokenizer as module
    from huggingface_hub import hf_hub_download

    assert module.hf_hub_download is hf_hub_download  # the load-time redirect was undone


def test_upstream_tokenizer_alone_loses_the_table_offline(tiny_models):
    """Without the plugin, MTLTokenizer looks in a cache inside the snapshot and gives up."""
    from chatterbox.models.tokenizers import MTLTokenizer

    snapshot = tiny_models["chatterbox"]
    tokenizer = MTLTokenizer(str(snapshot / "grapheme_mtl_merged_expanded_v1.json"))
    assert tokenizer.cangjie_converter.word2cj == {}


@pytest.fixture
def fake_pkuseg(monkeypatch, mtl):
    """An installed spacy_pkuseg whose model download fails, as it does offline."""
    calls = []

    class pkuseg:  # noqa: N801 - upstream's name
        def __init__(self, *args, **kwargs):
            calls.append("init")
            raise OSError("network is unreachable (spacy_ontonotes.zip)")

    monkeypatch.setitem(sys.modules, "spacy_pkuseg", types.SimpleNamespace(pkuseg=pkuseg))
    converter = mtl.model.tokenizer.cangjie_converter
    monkeypatch.delattr(converter, "_voicebox_segmenter_tried", raising=False)
    yield calls
    converter.__dict__.pop("_voicebox_segmenter_tried", None)
    converter.segmenter = None


def test_pkuseg_is_not_built_on_non_chinese_paths(fake_pkuseg, mtl, clips, tiny_models):
    from voicebox_engine_chatterbox.backend import ChatterboxBackend

    fresh = ChatterboxBackend()
    run(fresh.load_model())
    assert fresh.model.tokenizer.cangjie_converter.segmenter is None
    run(mtl.generate("Hello there.", {"ref_audio": str(clips["3s"])}, "en"))
    assert fake_pkuseg == []


def test_pkuseg_download_failure_degrades_chinese(fake_pkuseg, mtl, clips, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # online: the plugin may try pkuseg once
    audio, rate = run(mtl.generate("你好中文", {"ref_audio": str(clips["3s"])}, "zh"))
    assert_audio(audio, rate)
    run(mtl.generate("你好", {"ref_audio": str(clips["3s"])}, "zh"))
    assert fake_pkuseg == ["init"]


def test_pkuseg_is_not_tried_offline_without_its_model(fake_pkuseg, mtl, clips):
    run(mtl.generate("你好", {"ref_audio": str(clips["3s"])}, "zh"))
    assert fake_pkuseg == []


# -- loading: no token, no network, CPU map_location ------------------------------------


@pytest.fixture
def guarded_network(monkeypatch):
    """Hub in online mode, HF_TOKEN set, sockets refused, upstream downloaders armed."""
    import huggingface_hub
    import huggingface_hub.constants

    attempts = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise OSError("network disabled by the test")

    def forbidden(*args, **kwargs):
        attempts.append(("snapshot_download", kwargs.get("token")))
        raise AssertionError("upstream snapshot_download must not be used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    import chatterbox.mtl_tts
    import chatterbox.tts_turbo

    for module in (huggingface_hub, chatterbox.mtl_tts, chatterbox.tts_turbo):
        monkeypatch.setattr(module, "snapshot_download", forbidden)
    return attempts


@pytest.fixture
def torch_loads(monkeypatch):
    import torch

    seen = []
    original = torch.load

    def recording(*args, **kwargs):
        seen.append(kwargs.get("map_location"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording)
    return seen


@pytest.mark.parametrize("engine", ["chatterbox", "chatterbox_turbo"])
def test_load_uses_the_cache_only(tiny_models, guarded_network, torch_loads, engine):
    from voicebox_engine_chatterbox import backend as module

    backend = {"chatterbox": module.ChatterboxBackend,
               "chatterbox_turbo": module.ChatterboxTurboBackend}[engine]()
    run(backend.load_model())
    assert backend.is_loaded() and backend._device == "cpu"
    assert guarded_network == []  # no socket, no upstream download, HF_TOKEN unused
    import torch

    assert all(loc is not None and torch.device(loc) == torch.device("cpu") for loc in torch_loads)
    if engine == "chatterbox":
        assert torch_loads, "ve.pt and s3gen.pt go through torch.load"
        assert len(backend.model.tokenizer.cangjie_converter.word2cj) == 4
    backend.unload_model()
    assert not backend.is_loaded()


def test_missing_model_offline_is_a_typed_error(tiny_models, monkeypatch, tmp_path):
    from voicebox_engine_chatterbox.backend import ChatterboxBackend

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(vb.ModelNotDownloadedError, match="chatterbox-tts"):
        run(ChatterboxBackend().load_model())


def test_local_override_directory_is_used(tiny_models, monkeypatch):
    from voicebox_engine_chatterbox.backend import ChatterboxTurboBackend

    monkeypatch.setenv("VOICEBOX_MODEL_PATH_CHATTERBOX_TURBO", str(tiny_models["chatterbox_turbo"]))
    monkeypatch.setenv("HF_HUB_CACHE", "/nonexistent")
    backend = ChatterboxTurboBackend()
    run(backend.load_model())
    assert backend.is_loaded()


# -- dtype, cfg, watermark ---------------------------------------------------------------


def test_float64_inputs_are_cast_to_float32(mtl):
    import torch

    audio64 = torch.randn(16000, dtype=torch.float64)
    tokenizer = mtl.model.s3gen.tokenizer
    with pytest.raises(RuntimeError):  # upstream, unpatched: float64 audio vs float32 filters
        type(tokenizer).log_mel_spectrogram(tokenizer, audio64)
    assert tokenizer.log_mel_spectrogram(audio64).dtype == torch.float32
    mels64 = torch.rand(1, 40, mtl.model.ve.hp.num_mels, dtype=torch.float64)
    with pytest.raises((RuntimeError, ValueError)):  # LSTM: input float64, weights float32
        type(mtl.model.ve).forward(mtl.model.ve, mels64)
    assert mtl.model.ve(mels64).dtype == torch.float32


def test_cfg_weight_zero_does_not_crash(mtl, clips, monkeypatch):
    monkeypatch.setattr(mtl, "overrides", {"cfg_weight": 0.0})
    assert mtl.settings("en")["cfg_weight"] == 0.0
    audio, rate = run(mtl.generate("No guidance.", {"ref_audio": str(clips["3s"])}, "en", seed=2))
    assert_audio(audio, rate)


@pytest.mark.parametrize("settings", [{"cfg_weight": -1.0}, {"cfg_weight": float("nan")},
                                      {"cfg": 0.5}])
def test_bad_settings_are_rejected(settings):
    from voicebox_engine_chatterbox.backend import ChatterboxBackend

    with pytest.raises(vb.InvalidRequestError):
        ChatterboxBackend(**settings)


def test_hebrew_uses_its_tuned_settings(mtl):
    assert mtl.settings("he")["cfg_weight"] == 0.7 and mtl.settings("en")["cfg_weight"] == 0.5


def test_watermarker_is_perth_not_none(mtl, turbo):
    import perth

    for backend in (mtl, turbo):
        assert isinstance(backend.model.watermarker, perth.PerthImplicitWatermarker)


def test_broken_perth_is_a_clear_install_error(tiny_models, monkeypatch):
    import perth

    from voicebox_engine_chatterbox.backend import ChatterboxBackend, ChatterboxInstallError

    monkeypatch.setattr(perth, "PerthImplicitWatermarker", None)
    with pytest.raises(ChatterboxInstallError, match="setuptools<81"):
        run(ChatterboxBackend().load_model())


def test_same_seed_same_audio_both_engines(mtl, turbo, clips):
    for backend, clip in ((mtl, "3s"), (turbo, "6s")):
        prompt = {"ref_audio": str(clips[clip])}
        first, _ = run(backend.generate("Same again.", prompt, "en", seed=11))
        second, _ = run(backend.generate("Same again.", prompt, "en", seed=11))
        np.testing.assert_array_equal(first, second)


def test_snapshot_is_laid_out_like_the_hub(tiny_models):
    snapshot: Path = tiny_models["chatterbox"]
    assert snapshot.parent.parent.name == "models--ResembleAI--chatterbox"
    assert (snapshot.parent.parent / "refs" / "main").read_text() == snapshot.name
    assert (snapshot / "t3_mtl23ls_v2.safetensors").is_symlink()
