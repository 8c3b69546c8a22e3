"""The TADA plugin on a tiny random-weight TADA, through hume-tada's real inference path."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voicebox_core import (
    GenerationError,
    InvalidRequestError,
    ModelNotDownloadedError,
    UnknownModelError,
    UnsupportedLanguageError,
)
from voicebox_core.runtime import DownloadProgress, prompt_cache
from voicebox_core.testing import write_reference_clip

TEXT = "Please call Stella."
REF_TEXT = "The quick brown fox jumps over the lazy dog."


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 22.05 kHz on purpose: the backend resamples to TADA's 24 kHz itself.
    return write_reference_clip(tmp_path_factory.mktemp("tada") / "ref.wav", sample_rate=22050)


@pytest.fixture(scope="module")
def prompt(backend, clip: Path) -> dict:  # type: ignore[no-untyped-def]
    run(backend.load_model("1B"))
    voice_prompt, _cached = run(backend.create_voice_prompt(str(clip), REF_TEXT))
    return voice_prompt


# -- metadata ------------------------------------------------------------------------------


def test_each_size_names_its_own_repo_everywhere() -> None:
    from voicebox_engine_tada.plugin import MODELS

    by_size = {m.model_size: m for m in MODELS}
    assert by_size["1B"].model_name == "tada-1b" and by_size["1B"].hf_repo_id == "HumeAI/tada-1b"
    assert by_size["3B"].model_name == "tada-3b-ml" and by_size["3B"].hf_repo_id == "HumeAI/tada-3b-ml"
    assert by_size["1B"].languages == ("en",)
    assert set(by_size["3B"].languages) == {"en", "ar", "zh", "de", "es", "fr", "it", "ja", "pl", "pt"}
    assert all(m.sample_rate == 24000 and "mps" not in m.devices for m in MODELS)


def test_metadata_import_loads_neither_torch_nor_tada_nor_dac() -> None:
    code = ("import sys, voicebox_engine_tada.plugin as p; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'tada', 'dac', 'transformers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the dac shim --------------------------------------------------------------------------


def test_dac_shim_is_the_snake_of_the_paper_without_torchscript() -> None:
    import torch

    from voicebox_engine_tada.dac_shim import Snake1d

    layer = Snake1d(3)
    assert tuple(layer.alpha.shape) == (1, 3, 1) and list(layer.state_dict()) == ["alpha"]
    with torch.no_grad():
        layer.alpha.copy_(torch.tensor([0.5, 1.0, 2.0]).reshape(1, 3, 1))
    x = torch.linspace(-3, 3, 24).reshape(1, 3, 8)
    alpha = layer.alpha.detach()
    expected = x + torch.sin(alpha * x) ** 2 / alpha
    torch.testing.assert_close(layer(x), expected)
    assert not isinstance(Snake1d.forward, torch.jit.ScriptFunction)
    assert layer(x.reshape(1, 3, 2, 4)).shape == (1, 3, 2, 4)


def test_tada_is_imported_with_the_shim_which_then_disappears() -> None:
    from voicebox_engine_tada.backend import import_tada
    from voicebox_engine_tada.dac_shim import Snake1d

    import_tada()
    import tada.modules.decoder as decoder
    import tada.modules.encoder as encoder

    assert encoder.Snake1d is Snake1d and decoder.Snake1d is Snake1d
    assert not any(name == "dac" or name.startswith("dac.") for name in sys.modules)


def test_dac_shim_leaves_an_imported_real_dac_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from voicebox_engine_tada.dac_shim import dac_modules

    real = types.ModuleType("dac")
    monkeypatch.setitem(sys.modules, "dac", real)
    with dac_modules() as installed:
        assert installed is False and sys.modules["dac"] is real
    assert sys.modules["dac"] is real


# -- loading: sizes, redirects, offline ----------------------------------------------------


def test_load_model_3b_loads_the_3b_snapshot_and_back(backend) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("3B"))
    assert backend.is_loaded() and backend.loaded_size == "3B"
    config = backend._loaded.model.config
    assert config.voicebox_fixture == "HumeAI/tada-3b-ml" and config.hidden_size == 48
    assert "models--HumeAI--tada-3b-ml" in str(backend._loaded.model_dir)
    run(backend.load_model("1B"))
    config = backend._loaded.model.config
    assert backend.loaded_size == "1B"
    assert config.voicebox_fixture == "HumeAI/tada-1b" and config.hidden_size == 32
    assert backend._get_model_path("3B") == "HumeAI/tada-3b-ml"
    assert backend._get_model_path("1B") == "HumeAI/tada-1b"
    with pytest.raises(UnknownModelError):
        run(backend.load_model("7B"))


def test_gated_tokenizer_and_codec_id_are_redirected_at_config_level(backend, tiny_tada: Path) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    run(backend.load_model("1B"))
    assert not (tiny_tada / "models--meta-llama--Llama-3.2-1B").exists()
    mirror = "models--unsloth--Llama-3.2-1B"
    aligner = backend._encoder._aligner
    assert mirror in aligner.config.tokenizer_name
    assert "models--facebook--wav2vec2-large" in aligner.config.base_model_name
    assert mirror in backend._loaded.model.config.tokenizer_name
    assert backend._loaded.model.tokenizer is backend._tokenizer
    # Class defaults untouched: only config instances were redirected.
    assert type(aligner.config).tokenizer_name == "meta-llama/Llama-3.2-1B"
    # AutoTokenizer.from_pretrained is still transformers' own classmethod.
    assert isinstance(AutoTokenizer.__dict__["from_pretrained"], classmethod)
    assert AutoTokenizer.from_pretrained.__func__.__module__.startswith("transformers.")


def test_tokenizer_from_a_user_supplied_folder(monkeypatch: pytest.MonkeyPatch, tiny_tada: Path,
                                               tmp_path: Path) -> None:
    from voicebox_engine_tada.backend import _tokenizer_dir

    mirror = next((tiny_tada / "models--unsloth--Llama-3.2-1B" / "snapshots").iterdir())
    local = tmp_path / "llama-tokenizer"
    import shutil

    shutil.copytree(mirror, local)
    monkeypatch.setenv("VOICEBOX_TADA_TOKENIZER_PATH", str(local))
    assert _tokenizer_dir(None) == local
    monkeypatch.setenv("VOICEBOX_TADA_TOKENIZER_PATH", str(tmp_path))
    with pytest.raises(ModelNotDownloadedError, match="VOICEBOX_TADA_TOKENIZER_PATH"):
        _tokenizer_dir(None)
    monkeypatch.delenv("VOICEBOX_TADA_TOKENIZER_PATH")
    monkeypatch.setenv("VOICEBOX_MODEL_PATH_TADA_TOKENIZER", str(local))
    assert _tokenizer_dir(None) == local


def test_missing_files_offline_is_a_typed_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from voicebox_engine_tada.backend import TadaBackend

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelNotDownloadedError, match="tada-3b-ml"):
        run(TadaBackend().load_model("3B"))


def test_companion_progress_is_reported_under_the_sizes_model_name() -> None:
    from voicebox_engine_tada.backend import rekeyed

    seen: list[DownloadProgress] = []
    report = rekeyed(seen.append, "tada-3b-ml")
    assert report is not None
    report(DownloadProgress("tada-codec", "decoder/model.safetensors", 5, 10))
    assert seen == [DownloadProgress("tada-3b-ml", "tada-codec/decoder/model.safetensors", 5, 10)]
    assert rekeyed(None, "tada-1b") is None


# -- cloning and generation ----------------------------------------------------------------


def test_clone_and_generate(backend, prompt: dict) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("1B"))
    audio, rate = run(backend.generate(TEXT, prompt, "en", seed=7))
    assert rate == 24000
    assert audio.dtype == np.float32 and audio.ndim == 1 and audio.size > 2400
    assert np.isfinite(audio).all() and 0 < float(np.abs(audio).max()) <= 1.0


def test_voice_prompt_is_the_encoder_output_on_cpu(prompt: dict) -> None:
    import torch

    assert prompt["voice_type"] == "cloned" and prompt["engine"] == "tada"
    assert prompt["reference_text"] == REF_TEXT and prompt["transcribed"] is False
    encoded = prompt["encoder_output"]
    assert {"audio", "audio_len", "text", "token_positions", "token_values"} <= set(encoded)
    tensors = [v for v in encoded.values() if isinstance(v, torch.Tensor)]
    assert tensors and all(t.device.type == "cpu" for t in tensors)
    assert encoded["sample_rate"] == 24000 and encoded["token_values"].shape[-1] == 16


def test_second_prompt_is_a_cache_hit_in_memory_and_on_disk(backend, clip: Path, prompt: dict) -> None:  # type: ignore[no-untyped-def]
    import torch

    key = prompt_cache.key("tada", str(clip), REF_TEXT)
    assert key.startswith("tada_")
    assert (prompt_cache.directory / f"{key}.prompt").is_file()
    again, cached = run(backend.create_voice_prompt(str(clip), REF_TEXT))
    assert cached is True
    prompt_cache._memory.clear()  # a restarted server: only the disk copy is left
    from_disk, cached = run(backend.create_voice_prompt(str(clip), REF_TEXT))
    assert cached is True
    torch.testing.assert_close(from_disk["encoder_output"]["token_values"],
                               prompt["encoder_output"]["token_values"])
    fresh, cached = run(backend.create_voice_prompt(str(clip), REF_TEXT, use_cache=False))
    assert cached is False
    torch.testing.assert_close(fresh["encoder_output"]["token_values"],
                               prompt["encoder_output"]["token_values"])


def test_none_from_generate_becomes_a_generation_error(backend, prompt: dict,  # type: ignore[no-untyped-def]
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    run(backend.load_model("1B"))

    def broken_decoder(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("decoder failed")

    # hume-tada's generate catches this and puts None in GenerationOutput.audio.
    monkeypatch.setattr(backend._loaded.model, "_decode_wav", broken_decoder)
    with pytest.raises(GenerationError, match="could not decode"):
        run(backend.generate(TEXT, prompt, "en", seed=1))


def test_bad_requests_are_typed(backend, prompt: dict) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("1B"))
    with pytest.raises(UnsupportedLanguageError):
        run(backend.generate(TEXT, prompt, "ja"))
    with pytest.raises(InvalidRequestError, match="instruct"):
        run(backend.generate(TEXT, prompt, "en", instruct="whisper"))
    with pytest.raises(InvalidRequestError, match="cloned"):
        run(backend.generate(TEXT, {"voice_type": "preset", "preset_voice_id": "x"}, "en"))


def test_bad_inference_options_are_typed(backend, prompt: dict, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("VOICEBOX_TADA_INFERENCE_OPTIONS", "{not json")
    with pytest.raises(InvalidRequestError, match="VOICEBOX_TADA_INFERENCE_OPTIONS"):
        run(backend.generate(TEXT, prompt, "en"))


def test_missing_transcript_needs_the_recogniser(backend, clip: Path) -> None:  # type: ignore[no-untyped-def]
    # English clips without a transcript go to Parakeet, which is not in the offline cache.
    with pytest.raises(ModelNotDownloadedError, match="tada-asr"):
        run(backend.create_voice_prompt(str(clip), "  "))


# -- multilingual (3B) ---------------------------------------------------------------------


def test_non_english_reencodes_with_that_languages_aligner(backend, prompt: dict) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("3B"))
    before = set(prompt_cache.keys())
    audio, rate = run(backend.generate("今日はとても良い天気ですね。", prompt, "ja", seed=3))
    assert rate == 24000 and audio.size > 0 and np.isfinite(audio).all()
    added = set(prompt_cache.keys()) - before
    assert added == {f"tada_ja_{prompt['cache_key'].removeprefix('tada_')}"}
    assert set(backend._aligners) == {"en", "ja"}
    # Two different checkpoints: aligner/ and aligner-ja/ of the codec repo.
    en_weights = next(backend._aligners["en"].parameters())
    ja_weights = next(backend._aligners["ja"].parameters())
    assert not bool((en_weights == ja_weights).all())


def test_non_english_without_transcript_is_refused(backend, prompt: dict) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("3B"))
    asr_prompt = {**prompt, "transcribed": True, "cache_key": "tada_asr"}
    with pytest.raises(InvalidRequestError, match="transcript"):
        run(backend.generate("Hola.", asr_prompt, "es"))


def test_missing_language_aligner_offline_is_a_typed_error(backend, prompt: dict) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("3B"))
    with pytest.raises(ModelNotDownloadedError, match="tada-codec-aligner-de"):
        run(backend.generate("Hallo Welt.", prompt, "de"))
