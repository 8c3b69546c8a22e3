"""VoxCPM's own behaviour through the plugin, on the tiny checkpoints (offline)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import voicebox_core as vb
from voicebox_core.registry import Registry
from voicebox_core.runtime import prompt_cache
from voicebox_core.testing import write_reference_clip


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reference_clip(tmp_path_factory.mktemp("voxcpm-clips") / "ref.wav", seconds=3.0)


def synth(text: str, model: str, voice: vb.Voice, **extra: object) -> vb.Synthesis:
    synthesizer = vb.Synthesizer(Registry.discover())
    return run(synthesizer.synthesize(vb.SynthesisRequest(text=text, model=model, voice=voice, seed=3, **extra)))


def test_metadata_import_pulls_in_no_model_library() -> None:
    code = ("import sys, voicebox_engine_voxcpm.plugin; "
            "print(sorted(m for m in ('torch', 'voxcpm', 'transformers', 'librosa') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_each_model_speaks_at_its_declared_rate(tiny_voxcpm: Path, clip: Path) -> None:
    for model, rate in (("voxcpm-0.5b", 16000), ("voxcpm-1.5", 44100), ("voxcpm2", 48000)):
        result = synth("Hello there.", model, vb.Voice.clone([(str(clip), "hello there")]))
        assert result.sample_rate == rate and result.audio.dtype == np.float32 and result.audio.size


def test_voxcpm2_clones_without_a_transcript_the_others_ask_for_it(backend, tiny_voxcpm: Path, clip: Path) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("2"))
    prompt, _ = run(backend.create_voice_prompt(str(clip), "", False))
    audio, rate = run(backend.generate("Hello.", prompt, "en", 1))
    assert rate == 48000 and audio.size
    run(backend.load_model("0.5B"))
    with pytest.raises(vb.InvalidRequestError, match=r"give the reference text.*voxcpm2"):
        run(backend.create_voice_prompt(str(clip), "", False))


def test_designed_voices_and_instructions_are_voxcpm2_s(backend, tiny_voxcpm: Path) -> None:  # type: ignore[no-untyped-def]
    designed = {"voice_type": "designed", "design_prompt": "a calm, low voice"}
    run(backend.load_model("2"))
    plain, _ = run(backend.generate("Hello there.", {"voice_type": "designed", "design_prompt": ""}, "en", 5))
    described, _ = run(backend.generate("Hello there.", designed, "en", 5))
    instructed, _ = run(backend.generate("Hello there.", designed, "en", 5, instruct="slowly"))
    assert plain.size and described.size and instructed.size
    assert not (plain.shape == described.shape and np.array_equal(plain, described))  # the text the model saw differs
    run(backend.load_model("1.5"))
    with pytest.raises(vb.InvalidRequestError, match="takes no voice description or instruction"):
        run(backend.generate("Hello there.", designed, "en", 5))


def test_a_designed_profile_through_the_synthesizer(tiny_voxcpm: Path) -> None:
    result = synth("Hello there.", "voxcpm2", vb.Voice.design("an old sailor"), instruct="cheerfully")
    assert result.sample_rate == 48000 and result.audio.size


def test_prompts_are_cached_per_model_size(backend, tiny_voxcpm: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip = write_reference_clip(tmp_path / "fresh.wav", seconds=2.5, seed=11)  # in no cache yet
    keys = set()
    for size in ("0.5B", "2"):
        run(backend.load_model(size))
        first, cached = run(backend.create_voice_prompt(str(clip), "hello there", True))
        again, cached_again = run(backend.create_voice_prompt(str(clip), "hello there", True))
        assert (cached, cached_again) == (False, True) and again is first
        keys.add(first["cache_key"])
    assert len(keys) == 2 and all(k.startswith("voxcpm_") and k in prompt_cache.keys() for k in keys)
    run(backend.load_model("1.5"))
    with pytest.raises(vb.InvalidRequestError, match=r"encoded for VoxCPM 2, not 1.5"):
        run(backend.generate("Hello.", first, "en", 1))


def test_v1_prompt_clips_do_not_need_torchcodec(backend, tiny_voxcpm: Path, clip: Path) -> None:  # type: ignore[no-untyped-def]
    """voxcpm's 0.5B/1.5 code calls torchaudio.load, which needs torchcodec since torchaudio 2.9."""
    import torchaudio
    import voxcpm.model.voxcpm as v1

    run(backend.load_model("0.5B"))
    prompt, _ = run(backend.create_voice_prompt(str(clip), "hello there", False))
    assert prompt["prompt_cache"] and v1.torchaudio is torchaudio  # the module is as it was


def test_languages_follow_each_model(backend, tiny_voxcpm: Path) -> None:  # type: ignore[no-untyped-def]
    designed = {"voice_type": "designed", "design_prompt": ""}
    run(backend.load_model("2"))
    audio, _ = run(backend.generate("Guten Tag.", designed, "auto", 1))
    assert audio.size
    with pytest.raises(vb.UnsupportedLanguageError):
        run(backend.generate("Guten Tag.", designed, "de", 1))


def test_one_model_in_memory_and_unknown_sizes(backend, tiny_voxcpm: Path) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("1.5"))
    assert backend.loaded_size == "1.5"
    run(backend.load_model("2"))
    assert backend.loaded_size == "2"
    with pytest.raises(vb.UnknownModelError, match=r"voxcpm-0.5b"):
        run(backend.load_model("7B"))
    backend.unload_model()
    assert not backend.is_loaded()


def test_bad_options_are_a_clear_error(backend, tiny_voxcpm: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("2"))
    monkeypatch.setenv("VOICEBOX_VOXCPM_OPTIONS", '{"temperature": 3}')
    with pytest.raises(vb.InvalidRequestError, match="VOICEBOX_VOXCPM_OPTIONS must be a JSON object of"):
        run(backend.generate("Hi.", {"voice_type": "designed", "design_prompt": ""}, "en", 1))


def test_a_missing_model_offline_names_the_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voicebox_engine_voxcpm.backend import VoxCPMBackend

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(vb.ModelNotDownloadedError, match=r"voxcpm-0.5b"):
        run(VoxCPMBackend().load_model("0.5B"))
