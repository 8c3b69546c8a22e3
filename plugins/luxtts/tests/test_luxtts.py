"""Real LuxTTS inference through the plugin on the tiny offline model, and LuxTTS's traps.

Skipped, with the reason, where upstream LuxTTS (git-only) is not installed.
"""

from __future__ import annotations

import asyncio
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from lux_helpers import PROMPT_FRAME_RATE, SAMPLES_PER_FRAME, UPSTREAM_MISSING, run

pytest.importorskip("zipvoice.luxvoice", reason=UPSTREAM_MISSING)

from voicebox_core import (
    EmptyTextError,
    GenerationError,
    InvalidRequestError,
    ModelNotDownloadedError,
    ReferenceAudioError,
    Registry,
    SynthesisRequest,
    Synthesizer,
    UnknownModelError,
    Voice,
)
from voicebox_core.runtime import prompt_cache
from voicebox_core.testing import write_reference_clip
from voicebox_engine_luxtts.backend import LuxTTSBackend, cpu_speed

TEXT = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def backend(luxtts_snapshot: Path) -> LuxTTSBackend:
    backend = LuxTTSBackend()
    run(backend.load_model())
    return backend


@pytest.fixture(scope="module")
def prompt(backend: LuxTTSBackend, long_reference_clip: tuple[Path, str]) -> dict:
    path, text = long_reference_clip
    voice_prompt, _cached = run(backend.create_voice_prompt(str(path), text, False))
    return voice_prompt


def expected_samples(prompt: dict, text_tokens: int) -> int:
    """What upstream's torch path (``ZipVoice.forward_text_train``'s formula) would produce."""
    frames = int(prompt["prompt_features_lens"][0])
    return SAMPLES_PER_FRAME * math.ceil(frames / len(prompt["prompt_tokens"][0]) * text_tokens / 1.3)


# -- loading ----------------------------------------------------------------------------------


def test_loads_from_the_offline_cache_on_cpu(backend: LuxTTSBackend, luxtts_snapshot: Path) -> None:
    assert backend.is_loaded()
    assert backend._lux.device == "cpu"
    assert backend._get_model_path("default") == str(luxtts_snapshot)
    assert type(backend._lux.model).__name__ == "OnnxModel"  # upstream's CPU path


def test_whisper_is_never_built_and_loader_patches_are_undone(backend: LuxTTSBackend) -> None:
    import huggingface_hub
    import transformers
    import zipvoice.modeling_utils as mu

    assert type(backend._lux.transcriber).__name__ == "_NoTranscriber"
    with pytest.raises(GenerationError, match="Whisper"):
        backend._lux.transcriber(np.zeros(16000, dtype=np.float32))
    assert mu.pipeline is transformers.pipeline
    assert mu.snapshot_download is huggingface_hub.snapshot_download


def test_cpu_loader_reads_the_local_override_not_the_hub(
    luxtts_snapshot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "my-luxtts"
    shutil.copytree(luxtts_snapshot, local)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.setenv("VOICEBOX_MODEL_PATH_LUXTTS", str(local))
    backend = LuxTTSBackend()
    run(backend.load_model())
    assert backend.is_loaded() and backend._get_model_path("default") == str(local)


def test_missing_model_offline_is_a_typed_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    with pytest.raises(ModelNotDownloadedError, match="voicebox models download luxtts"):
        run(LuxTTSBackend().load_model())


def test_corrupt_onnx_is_a_typed_error(luxtts_snapshot: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    local = tmp_path / "broken"
    shutil.copytree(luxtts_snapshot, local)
    (local / "fm_decoder.onnx").write_bytes(b"not an onnx graph")
    monkeypatch.setenv("VOICEBOX_MODEL_PATH_LUXTTS", str(local))
    with pytest.raises(ModelNotDownloadedError, match="download it again"):
        run(LuxTTSBackend().load_model())


def test_unknown_model_size_is_rejected() -> None:
    with pytest.raises(UnknownModelError):
        run(LuxTTSBackend().load_model("1.7B"))


# -- voice prompts ----------------------------------------------------------------------------


def test_prompt_uses_the_given_transcript(backend: LuxTTSBackend, prompt: dict,
                                          long_reference_clip: tuple[Path, str]) -> None:
    _path, text = long_reference_clip
    assert prompt["prompt_tokens"] == backend._lux.tokenizer.texts_to_token_ids([text])
    assert prompt["voice_type"] == "cloned" and prompt["engine"] == "luxtts"


def test_prompt_covers_the_whole_clip_not_upstreams_first_5_seconds(prompt: dict) -> None:
    frames = int(prompt["prompt_features_lens"][0])
    assert prompt["prompt_features"].shape == (1, frames, 100)
    assert abs(frames - 8.0 * PROMPT_FRAME_RATE) <= 2  # the clip is 8 s at 22.05 kHz
    assert prompt["prompt_features"].device.type == "cpu"
    assert isinstance(prompt["prompt_rms"], float) and prompt["prompt_rms"] > 0


def test_prompt_is_cached_with_the_engine_prefix(backend: LuxTTSBackend, tmp_path: Path) -> None:
    clip = write_reference_clip(tmp_path / "cache-me.wav", seconds=4.0, seed=9)
    before = set(prompt_cache.keys())
    first, cached_first = run(backend.create_voice_prompt(str(clip), "Hello world.", True))
    second, cached_second = run(backend.create_voice_prompt(str(clip), "Hello world.", True))
    added = set(prompt_cache.keys()) - before
    assert (cached_first, cached_second) == (False, True)
    assert len(added) == 1 and next(iter(added)).startswith("luxtts_")
    assert second["prompt_tokens"] == first["prompt_tokens"]


@pytest.mark.parametrize("transcript", ["", "   ", "...!"])
def test_missing_transcript_is_refused(backend: LuxTTSBackend, long_reference_clip: tuple[Path, str],
                                       transcript: str) -> None:
    path, _text = long_reference_clip
    with pytest.raises(InvalidRequestError, match="transcript"):
        run(backend.create_voice_prompt(str(path), transcript, False))


def test_bad_reference_clips_are_refused(backend: LuxTTSBackend, tmp_path: Path) -> None:
    with pytest.raises(ReferenceAudioError):
        run(backend.create_voice_prompt(str(tmp_path / "missing.wav"), "Hello.", False))
    short = write_reference_clip(tmp_path / "short.wav", seconds=1.0)
    with pytest.raises(ReferenceAudioError, match="between 3 and 30"):
        run(backend.create_voice_prompt(str(short), "Hello.", False))


def test_combine_joins_clips_and_transcripts(backend: LuxTTSBackend, tmp_path: Path) -> None:
    a = write_reference_clip(tmp_path / "a.wav", seconds=2.0, sample_rate=16000, seed=1)
    b = write_reference_clip(tmp_path / "b.wav", seconds=2.0, sample_rate=24000, seed=2)
    audio, text = run(backend.combine_voice_prompts([str(a), str(b)], ["One two.", " Three four. "]))
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - int(4.2 * 24000)) <= 2
    assert text == "One two. Three four."


# -- generation -------------------------------------------------------------------------------


def test_generates_48k_mono_float32(backend: LuxTTSBackend, prompt: dict) -> None:
    audio, rate = run(backend.generate(TEXT, prompt, "en", seed=7))
    assert rate == 48000
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert np.isfinite(audio).all() and float(np.max(np.abs(audio))) <= 1.0
    tokens = len(backend._lux.tokenizer.texts_to_token_ids([TEXT])[0])
    assert abs(len(audio) - expected_samples(prompt, tokens)) <= 2 * SAMPLES_PER_FRAME


def test_short_text_after_a_long_prompt_still_speaks(backend: LuxTTSBackend, prompt: dict) -> None:
    """Upstream's ONNX length formula gives zero frames here and the vocoder crashes."""
    tokens = len(backend._lux.tokenizer.texts_to_token_ids(["Hi."])[0])
    assert tokens < 0.3 * len(prompt["prompt_tokens"][0])  # the failing regime upstream
    assert cpu_speed(len(prompt["prompt_tokens"][0]), tokens) < 1
    audio, rate = run(backend.generate("Hi.", prompt, "en", seed=1))
    assert rate == 48000 and len(audio) > 0
    assert abs(len(audio) - expected_samples(prompt, tokens)) <= 2 * SAMPLES_PER_FRAME


def test_same_seed_same_audio_other_seed_differs(backend: LuxTTSBackend, prompt: dict) -> None:
    first, _ = run(backend.generate(TEXT, prompt, "en", seed=11))
    second, _ = run(backend.generate(TEXT, prompt, "en", seed=11))
    other, _ = run(backend.generate(TEXT, prompt, "en", seed=12))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_chinese_text_is_spoken(backend: LuxTTSBackend, prompt: dict) -> None:
    audio, rate = run(backend.generate("你好世界，今天天气很好。", prompt, "zh", seed=3))  # noqa: RUF001
    assert rate == 48000 and audio.size > 0 and np.isfinite(audio).all()


def test_text_in_an_unsupported_script_is_refused(backend: LuxTTSBackend, prompt: dict) -> None:
    with pytest.raises(InvalidRequestError, match="English and Chinese"):
        run(backend.generate("こんにちは", prompt, "en"))


def test_bad_requests_are_typed_errors(backend: LuxTTSBackend, prompt: dict) -> None:
    with pytest.raises(EmptyTextError):
        run(backend.generate("  ", prompt))
    with pytest.raises(InvalidRequestError, match="instruct"):
        run(backend.generate(TEXT, prompt, instruct="whisper it"))
    with pytest.raises(InvalidRequestError, match="cloned"):
        run(backend.generate(TEXT, {"voice_type": "preset", "preset_voice_id": "x"}))


def test_unload_then_generate_reloads(luxtts_snapshot: Path, prompt: dict) -> None:
    backend = LuxTTSBackend()
    run(backend.load_model())
    backend.unload_model()
    assert not backend.is_loaded()
    audio, rate = run(backend.generate("Hello.", prompt, seed=2))
    assert backend.is_loaded() and rate == 48000 and audio.size > 0


def test_concurrent_loads_build_one_model(luxtts_snapshot: Path) -> None:
    backend = LuxTTSBackend()

    async def both() -> None:
        await asyncio.gather(backend.load_model(), backend.load_model())

    run(both())
    assert backend.is_loaded()


def test_through_the_synthesizer(luxtts_snapshot: Path, long_reference_clip: tuple[Path, str]) -> None:
    path, text = long_reference_clip
    synthesizer = Synthesizer(Registry.discover(), max_loaded=1)
    request = SynthesisRequest(text="Hello there. " * 40, model="luxtts",
                               voice=Voice.clone([(str(path), text)]), language="en", seed=5)
    result = run(synthesizer.synthesize(request))
    assert result.sample_rate == 48000 and result.chunks >= 2  # 520 characters, 300 per chunk
    assert result.audio.dtype == np.float32 and np.isfinite(result.audio).all()
