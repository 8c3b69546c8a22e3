"""Real inference through the plugin's backends on tiny Qwen3-TTS checkpoints (offline, CPU)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voicebox_core import (
    InvalidRequestError,
    ModelNotDownloadedError,
    Registry,
    SynthesisRequest,
    Synthesizer,
    UnknownModelError,
    UnknownVoiceError,
    UnsupportedLanguageError,
    Voice,
)
from voicebox_core.runtime import load_audio, prompt_cache
from voicebox_engine_qwen.backend import (
    QwenBaseBackend,
    QwenCustomVoiceBackend,
    QwenVoiceDesignBackend,
)
from voicebox_engine_qwen.plugin import LANGUAGE_NAMES, LANGUAGES, MODELS, SAMPLE_RATE, SPEAKERS

pytestmark = pytest.mark.usefixtures("offline")

TEXT = "Hello world, this is a test."


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def assert_audio(audio: np.ndarray, rate: int) -> None:
    assert rate == SAMPLE_RATE
    assert isinstance(audio, np.ndarray) and audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size > 0 and np.isfinite(audio).all()
    assert 0.0 < float(np.max(np.abs(audio))) <= 1.0  # noise, but not silence


@pytest.fixture(scope="module")
def base(qwen_hf_cache: dict[str, Path]) -> QwenBaseBackend:
    backend = QwenBaseBackend()
    run(backend.load_model("0.6B"))
    return backend


@pytest.fixture(scope="module")
def custom_voice(qwen_hf_cache: dict[str, Path]) -> QwenCustomVoiceBackend:
    backend = QwenCustomVoiceBackend()
    run(backend.load_model("1.7B"))
    return backend


# -- metadata ------------------------------------------------------------------------------


def test_metadata_module_imports_no_torch() -> None:
    code = ("import sys, voicebox_engine_qwen.plugin as p; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'qwen_tts', 'transformers', 'torchaudio', 'librosa')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_models_keep_voicebox_names_and_each_size_its_own_repo() -> None:
    repos = {m.model_name: (m.engine, m.model_size, m.hf_repo_id) for m in MODELS}
    assert repos == {
        "qwen-tts-1.7B": ("qwen", "1.7B", "Qwen/Qwen3-TTS-12Hz-1.7B-Base"),
        "qwen-tts-0.6B": ("qwen", "0.6B", "Qwen/Qwen3-TTS-12Hz-0.6B-Base"),
        "qwen-custom-voice-1.7B": ("qwen_custom_voice", "1.7B", "Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice"),
        "qwen-custom-voice-0.6B": ("qwen_custom_voice", "0.6B", "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice"),
        "qwen-voice-design-1.7B": ("qwen_voice_design", "1.7B", "Qwen/Qwen3-TTS-12Hz-1.7B-VoiceDesign"),
    }
    assert [v for v, _, _ in SPEAKERS] == ["Vivian", "Serena", "Uncle_Fu", "Dylan", "Eric",
                                          "Ryan", "Aiden", "Ono_Anna", "Sohee"]
    assert all(m.sample_rate == 24000 and m.languages == LANGUAGES for m in MODELS)
    assert set(LANGUAGES) == {"zh", "en", "ja", "ko", "de", "fr", "ru", "pt", "es", "it", "auto"}


def test_language_table_matches_the_checkpoint(base: QwenBaseBackend) -> None:
    supported = set(base._model.get_supported_languages())
    assert {name.lower() for name in LANGUAGE_NAMES.values()} == supported


def test_sizes_resolve_to_their_own_snapshot(qwen_hf_cache: dict[str, Path]) -> None:
    backend = QwenBaseBackend()
    assert backend._get_model_path("0.6B") == "Qwen/Qwen3-TTS-12Hz-0.6B-Base"
    assert backend._get_model_path("default") == "Qwen/Qwen3-TTS-12Hz-1.7B-Base"
    run(backend.load_model("0.6B"))
    assert backend.model_size == "0.6B" and backend._model.model.tts_model_size == "0b6"
    run(backend.load_model("1.7B"))  # a size change reloads
    assert backend.model_size == "1.7B" and backend._model.model.tts_model_size == "1b7"
    with pytest.raises(UnknownModelError):
        run(backend.load_model("4B"))


def test_cpu_needs_no_accelerate_and_runs_float32(base: QwenBaseBackend) -> None:
    assert importlib.util.find_spec("accelerate") is None
    assert base.device == "cpu"
    assert next(base._model.model.parameters()).dtype.is_floating_point
    assert str(next(base._model.model.parameters()).dtype) == "torch.float32"


# -- Base: cloning -------------------------------------------------------------------------


def test_clone_with_transcript(base: QwenBaseBackend, voicebox_reference_clip: tuple[Path, str]) -> None:
    path, text = voicebox_reference_clip
    prompt, cached = run(base.create_voice_prompt(str(path), text, use_cache=False))
    assert not cached
    assert prompt["icl_mode"] and not prompt["x_vector_only_mode"]
    assert prompt["ref_text"] == text and prompt["model_size"] == "0.6B"
    assert prompt["ref_code"].ndim == 2 and prompt["ref_code"].device.type == "cpu"
    assert_audio(*run(base.generate(TEXT, prompt, "en", seed=3)))


def test_clone_without_transcript_uses_x_vector_only(
    base: QwenBaseBackend, voicebox_reference_clip: tuple[Path, str]
) -> None:
    path, _ = voicebox_reference_clip
    prompt, _ = run(base.create_voice_prompt(str(path), "  ", use_cache=False))
    assert prompt["x_vector_only_mode"] and not prompt["icl_mode"]
    assert prompt["ref_code"] is None and prompt["ref_text"] is None
    audio, rate = run(base.generate(TEXT, prompt, "auto", seed=3))
    assert_audio(audio, rate)


def test_prompt_cache_hit_on_second_call(
    base: QwenBaseBackend, voicebox_reference_clip: tuple[Path, str]
) -> None:
    path, text = voicebox_reference_clip
    key = prompt_cache.key("qwen", path, text)
    prompt_cache.clear("qwen")
    first, cached_first = run(base.create_voice_prompt(str(path), text))
    second, cached_second = run(base.create_voice_prompt(str(path), text))
    assert (cached_first, cached_second) == (False, True)
    assert key.startswith("qwen_") and key in prompt_cache.keys()
    assert (prompt_cache.directory / f"{key}.prompt").is_file()
    assert second["ref_spk_embedding"].equal(first["ref_spk_embedding"])


def test_prompt_cache_keeps_one_entry_per_size(voicebox_reference_clip: tuple[Path, str]) -> None:
    path, text = voicebox_reference_clip
    prompt_cache.clear("qwen")
    backend = QwenBaseBackend()
    run(backend.load_model("0.6B"))
    small, _ = run(backend.create_voice_prompt(str(path), text))
    run(backend.load_model("1.7B"))
    large, cached = run(backend.create_voice_prompt(str(path), text))
    assert not cached, "a 0.6B prompt must not be served to the 1.7B model"
    assert small["ref_spk_embedding"].shape != large["ref_spk_embedding"].shape
    assert set(prompt_cache.get(prompt_cache.key("qwen", path, text))) == {"0.6B", "1.7B"}
    with pytest.raises(InvalidRequestError, match="0.6B model"):
        run(backend.generate(TEXT, small, "en"))
    assert_audio(*run(backend.generate(TEXT, large, "en", seed=1)))


def test_combine_voice_prompts(
    base: QwenBaseBackend, voicebox_reference_clip: tuple[Path, str], second_clip: Path
) -> None:
    path, text = voicebox_reference_clip
    audio, joined = run(base.combine_voice_prompts([str(path), str(second_clip)], [text, " Second. "]))
    expected = len(load_audio(path, SAMPLE_RATE)[0]) + len(load_audio(second_clip, SAMPLE_RATE)[0])
    assert audio.dtype == np.float32 and audio.ndim == 1 and len(audio) == expected
    assert 0.0 < float(np.max(np.abs(audio))) <= 0.85 + 1e-6
    assert joined == f"{text} Second."
    _, partial = run(base.combine_voice_prompts([str(path), str(second_clip)], [text, ""]))
    assert partial == "", "a transcript covering only part of the audio must fall back to x-vector"
    with pytest.raises(InvalidRequestError):
        run(base.combine_voice_prompts([str(path)], []))


def test_multi_sample_profile_end_to_end(
    voicebox_reference_clip: tuple[Path, str], second_clip: Path
) -> None:
    path, text = voicebox_reference_clip
    synthesizer = Synthesizer(Registry.discover())
    voice = Voice.clone([(str(path), text), (str(second_clip), "A second sample.")])
    result = run(synthesizer.synthesize(SynthesisRequest(TEXT, "qwen-tts-0.6B", voice, "en", seed=5)))
    assert result.sample_rate == SAMPLE_RATE and result.audio.size > 0
    assert np.isfinite(result.audio).all()


def test_base_rejects_other_voice_kinds(base: QwenBaseBackend) -> None:
    with pytest.raises(InvalidRequestError, match="cloned voice prompt"):
        run(base.generate(TEXT, {"voice_type": "preset", "preset_voice_id": "Ryan"}, "en"))


def test_unknown_language_is_typed(base: QwenBaseBackend, voicebox_reference_clip: tuple[Path, str]) -> None:
    path, text = voicebox_reference_clip
    prompt, _ = run(base.create_voice_prompt(str(path), text))
    with pytest.raises(UnsupportedLanguageError):
        run(base.generate(TEXT, prompt, "xx"))
    synthesizer = Synthesizer(Registry.discover())
    request = SynthesisRequest(TEXT, "qwen-tts-0.6B", Voice.clone([(str(path), text)]), "xx")
    with pytest.raises(UnsupportedLanguageError):  # refused before any model work
        synthesizer.plan(request)
    auto = synthesizer.plan(SynthesisRequest(TEXT, "qwen-tts-0.6B", Voice.clone([(str(path), text)]), "auto"))
    assert auto.language == "auto"


def test_preset_speakers_speak_every_language(custom_voice: QwenCustomVoiceBackend) -> None:
    synthesizer = Synthesizer(Registry.discover())
    plan = synthesizer.plan(SynthesisRequest(TEXT, "qwen_custom_voice", Voice.preset("Ryan"), "zh"))
    assert plan.language == "zh"


# -- CustomVoice -----------------------------------------------------------------------------


def test_preset_speaker_with_instruct(custom_voice: QwenCustomVoiceBackend) -> None:
    model = custom_voice._model
    seen: list[dict] = []
    original = model.generate_custom_voice

    def recording(**kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs)
        return original(**kwargs)

    model.generate_custom_voice = recording
    try:
        prompt = {"voice_type": "preset", "preset_engine": "qwen_custom_voice", "preset_voice_id": "Vivian"}
        assert_audio(*run(custom_voice.generate(TEXT, prompt, "zh", seed=7, instruct="Speak happily.")))
    finally:
        model.generate_custom_voice = original
    assert seen == [{"text": TEXT, "speaker": "Vivian", "language": "Chinese", "instruct": "Speak happily."}]


def test_dialect_speaker_and_case_insensitive_id(custom_voice: QwenCustomVoiceBackend) -> None:
    assert_audio(*run(custom_voice.generate("你好", {"preset_voice_id": "dylan"}, "zh", seed=1)))


def test_unknown_speaker_is_typed(custom_voice: QwenCustomVoiceBackend) -> None:
    with pytest.raises(UnknownVoiceError):
        run(custom_voice.generate(TEXT, {"voice_type": "preset", "preset_voice_id": "Chelsie"}, "en"))


def test_custom_voice_does_not_clone(custom_voice: QwenCustomVoiceBackend,
                                     voicebox_reference_clip: tuple[Path, str]) -> None:
    path, text = voicebox_reference_clip
    with pytest.raises(InvalidRequestError):
        run(custom_voice.create_voice_prompt(str(path), text))


def test_instruct_is_refused_on_0_6b_custom_voice() -> None:
    synthesizer = Synthesizer(Registry.discover())
    request = SynthesisRequest(TEXT, "qwen-custom-voice-0.6B", Voice.preset("Ryan"), "en",
                               instruct="Whisper.")
    with pytest.raises(InvalidRequestError):
        synthesizer.plan(request)
    backend = QwenCustomVoiceBackend()
    run(backend.load_model("0.6B"))
    with pytest.raises(InvalidRequestError, match="ignores style instructions"):
        run(backend.generate(TEXT, {"preset_voice_id": "Ryan"}, "en", instruct="Whisper."))
    assert_audio(*run(backend.generate(TEXT, {"preset_voice_id": "Ryan"}, "en", seed=2)))


# -- VoiceDesign -----------------------------------------------------------------------------


def test_voice_design_through_the_synthesizer() -> None:
    synthesizer = Synthesizer(Registry.discover())
    request = SynthesisRequest(TEXT, "qwen-voice-design-1.7B", Voice.design("A calm old man, low voice."),
                               "en", seed=11, instruct="Slowly.")
    result = run(synthesizer.synthesize(request))
    assert result.sample_rate == SAMPLE_RATE and result.audio.size > 0


def test_voice_design_needs_a_description() -> None:
    backend = QwenVoiceDesignBackend()
    with pytest.raises(InvalidRequestError, match="designed voice"):
        run(backend.generate(TEXT, {"voice_type": "designed", "design_prompt": " "}, "en"))


# -- model files ------------------------------------------------------------------------------


def test_wrong_checkpoint_kind_is_refused(qwen_hf_cache: dict[str, Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOX_MODEL_PATH_QWEN_TTS_0_6B", str(qwen_hf_cache["qwen-custom-voice-0.6B"]))
    backend = QwenBaseBackend()
    assert backend._get_model_path("0.6B") == str(qwen_hf_cache["qwen-custom-voice-0.6B"])
    with pytest.raises(ModelNotDownloadedError, match="'custom_voice'"):
        run(backend.load_model("0.6B"))
    assert not backend.is_loaded()


def test_missing_model_offline_is_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(ModelNotDownloadedError, match="voicebox models download qwen-tts-0.6B"):
        run(QwenBaseBackend().load_model("0.6B"))


def test_incomplete_snapshot_is_not_used(qwen_hf_cache: dict[str, Path], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    repo = qwen_hf_cache["qwen-tts-0.6B"].parents[1]  # hub/models--Qwen--.../snapshots/<commit>
    copy = shutil.copytree(repo, tmp_path / "hub" / repo.name)
    next(copy.glob("snapshots/*/speech_tokenizer/model.safetensors")).unlink()
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelNotDownloadedError):
        run(QwenBaseBackend().load_model("0.6B"))


def test_snapshot_files_match_model_config(qwen_hf_cache: dict[str, Path]) -> None:
    for config in MODELS:
        snapshot = qwen_hf_cache[config.model_name]
        assert all((snapshot / name).is_file() for name in config.files), config.model_name
        assert json.loads((snapshot / "config.json").read_text())["tts_model_type"]
