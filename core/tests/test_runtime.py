"""Runtime helpers: text chunking, audio, prompt cache, model files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voicebox_core import ModelConfig, ModelNotDownloadedError, ReferenceAudioError
from voicebox_core.runtime import (
    VoicePromptCache,
    cached_snapshot,
    crossfade_concat,
    delete_model,
    ensure_model,
    has_speakable_text,
    load_audio,
    load_reference_audio,
    model_disk_bytes,
    normalize_audio,
    resample,
    save_audio,
    split_text_into_chunks,
    trim_tts_output,
)
from voicebox_core.testing import write_reference_clip


def test_chunking_keeps_every_word_and_respects_the_limit() -> None:
    sentence = "The rain in Spain stays mainly in the plain, or so they say; who knows? "
    text = sentence * 280  # about 20 000 characters
    chunks = split_text_into_chunks(text, 500)
    assert all(len(c) <= 500 for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_chunking_splits_unbroken_text_and_keeps_tags() -> None:
    assert split_text_into_chunks("a" * 1200, 500) == ["a" * 500, "a" * 500, "a" * 200]
    chunks = split_text_into_chunks("word [laugh] " * 100, 60)
    assert all("[laugh" not in c or "[laugh]" in c for c in chunks)
    cjk = "你好世界。" * 200
    assert "".join(split_text_into_chunks(cjk, 100)) == cjk


@pytest.mark.parametrize(("text", "ok"), [("hi", True), ("42", True), ("é", True), ("日本", True),
                                          ("", False), ("?!.", False), ("[laugh]", False)])
def test_speakable_text(text: str, ok: bool) -> None:
    assert has_speakable_text(text) is ok


def test_resample_keeps_duration_and_pitch() -> None:
    rate = 16000
    tone = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
    out = resample(tone, rate, 24000)
    assert len(out) == 24000 and out.dtype == np.float32
    peak = np.argmax(np.abs(np.fft.rfft(out))) * 24000 / len(out)
    assert abs(peak - 440) < 2


def test_normalize_and_trim() -> None:
    rate = 24000
    voice = 0.5 * np.sin(2 * np.pi * 200 * np.arange(rate) / rate).astype(np.float32)
    padded = np.concatenate([voice, np.zeros(rate * 2, np.float32), voice])
    trimmed = trim_tts_output(padded, rate)
    assert rate <= len(trimmed) < rate * 1.5  # cut at the long internal silence
    assert abs(trimmed[-1]) < 1e-3  # faded out
    assert np.max(np.abs(normalize_audio(voice))) <= 0.85 + 1e-6
    assert not normalize_audio(np.zeros(10, np.float32)).any()


def test_crossfade_concat_length() -> None:
    a, b = np.ones(1000, np.float32), np.ones(1000, np.float32)
    assert len(crossfade_concat([a, b], 10000, crossfade_ms=10)) == 1900


def test_save_audio_is_atomic_and_round_trips(tmp_path: Path) -> None:
    audio = np.linspace(-0.5, 0.5, 800, dtype=np.float32)
    path = save_audio(tmp_path / "a.wav", audio, 8000)
    loaded, rate = load_audio(path)
    assert rate == 8000 and np.allclose(loaded, audio, atol=1e-3)
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_saved_audio_has_the_permissions_the_umask_gives(tmp_path: Path, umask: int) -> None:
    import os
    import stat

    before = os.umask(umask)
    try:
        path = save_audio(tmp_path / "shared.wav", np.zeros(800, np.float32), 8000)
    finally:
        os.umask(before)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_reference_audio_validation(tmp_path: Path) -> None:
    good = write_reference_clip(tmp_path / "good.wav")
    assert load_reference_audio(good)[1] == 24000
    short = write_reference_clip(tmp_path / "short.wav", seconds=1.0)
    with pytest.raises(ReferenceAudioError, match="between 2 and 30 s"):
        load_reference_audio(short)
    silent = save_audio(tmp_path / "silent.wav", np.zeros(24000 * 3, np.float32), 24000)
    with pytest.raises(ReferenceAudioError, match="silent"):
        load_reference_audio(silent)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all")
    with pytest.raises(ReferenceAudioError, match="could not be decoded"):
        load_reference_audio(junk)


def test_prompt_cache_memory_disk_and_prefix(tmp_path: Path) -> None:
    clip = write_reference_clip(tmp_path / "c.wav")
    cache = VoicePromptCache(tmp_path / "cache")
    key = cache.key("myengine", clip, "text")
    assert key.startswith("myengine_") and key != cache.key("myengine", clip, "other")
    cache.put(key, {"a": np.arange(3)})
    fresh = VoicePromptCache(tmp_path / "cache")  # a new process reads it from disk
    assert fresh.get(key)["a"].tolist() == [0, 1, 2]
    fresh.clear("myengine")
    assert fresh.keys() == [] and fresh.get(key) is None


def _model(**changes: object) -> ModelConfig:
    fields: dict = dict(model_name="m-1", display_name="M", engine="e", hf_repo_id="org/repo",
                        sample_rate=24000, languages=("en",), files=("config.json", "weights/*.bin"))
    fields.update(changes)
    return ModelConfig(**fields)


def _snapshot(hub: Path, files: dict[str, bytes]) -> Path:
    repo = hub / "models--org--repo"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    for name, data in files.items():
        (snap / name).parent.mkdir(parents=True, exist_ok=True)
        (snap / name).write_bytes(data)
    return snap


def test_cache_completeness_offline_reuse_and_delete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = _model()
    with pytest.raises(ModelNotDownloadedError, match="voicebox models download m-1"):
        ensure_model(model)
    snap = _snapshot(tmp_path / "hub", {"config.json": b"{}"})
    assert cached_snapshot(model) is None  # weights missing: incomplete
    (snap / "weights").mkdir()
    (snap / "weights" / "a.bin").write_bytes(b"x" * 10)
    assert ensure_model(model) == snap
    assert model_disk_bytes(model) == 12
    (snap / "voices").mkdir()
    (snap / "voices" / "v.pt").write_bytes(b"v" * 5)
    with_voices = _model(on_demand_files=("voices/*.pt",))
    assert cached_snapshot(with_voices) == snap and model_disk_bytes(with_voices) == 17
    assert delete_model(_model(model_name="m-3", files=("nothing",), on_demand_files=("voices/*.pt",)))
    assert not (snap / "voices" / "v.pt").exists()
    other = _model(model_name="m-2", files=("config.json",))
    assert delete_model(other) and cached_snapshot(model) is None
    assert (snap / "weights" / "a.bin").is_file()  # only the model's own files went


def test_a_gated_repository_says_what_to_do_not_check_the_network(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The Hub's 403 on a gated repository (401 without a login) is a refusal, not a network fault."""
    import types

    from voicebox_core.runtime import download

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("VOICEBOX_OFFLINE", raising=False)
    codec = _model(model_name="codec", hf_repo_id="org/gated-codec", files=("codec.bin",))
    for status, why in ((403, "licence this account has not accepted"), (401, "not logged in")):
        class Refused(OSError):  # what huggingface_hub raises: an error with the HTTP response
            response = types.SimpleNamespace(status_code=status)

        def refuse(config, status=status):  # type: ignore[no-untyped-def]
            if config.hf_repo_id == "org/gated-codec":
                raise Refused(f"{status} Client Error")
            return [("config.json", 2)]

        monkeypatch.setattr(download, "_plan", refuse)
        with pytest.raises(ModelNotDownloadedError) as refused:
            ensure_model(_model(files=("config.json",), requires=(codec,)))
        message = str(refused.value)
        assert why in message and "https://huggingface.co/org/gated-codec" in message
        assert "hf auth login" in message and "voicebox models download m-1" in message
        assert "check the network" not in message


def test_local_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model(model_name="my.model-1")
    monkeypatch.setenv("VOICEBOX_MODEL_PATH_MY_MODEL_1", str(tmp_path))
    assert ensure_model(model) == tmp_path
    monkeypatch.setenv("VOICEBOX_MODEL_PATH_MY_MODEL_1", str(tmp_path / "missing"))
    with pytest.raises(ModelNotDownloadedError, match="not a directory"):
        ensure_model(model)


def test_required_repositories_count_for_completeness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    codec = _model(model_name="codec", hf_repo_id="org/codec", files=("codec.bin",))
    model = _model(files=("config.json",), requires=(codec,))
    _snapshot(tmp_path / "hub", {"config.json": b"{}"})
    from voicebox_core.runtime import is_downloaded

    assert cached_snapshot(model) is not None and not is_downloaded(model)
    with pytest.raises(ModelNotDownloadedError, match="voicebox models download m-1"):
        ensure_model(model)
    codec_repo = tmp_path / "hub" / "models--org--codec"
    (codec_repo / "refs").mkdir(parents=True)
    (codec_repo / "refs" / "main").write_text("1" * 40)
    (codec_repo / "snapshots" / ("1" * 40)).mkdir(parents=True)
    (codec_repo / "snapshots" / ("1" * 40) / "codec.bin").write_bytes(b"abc")
    assert is_downloaded(model) and ensure_model(model).name == "0" * 40
    assert model_disk_bytes(model) == 2 + 3


def test_offline_refusal_names_the_folder_variables_of_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frozen or offline user's way in: the exact variable of each missing repository."""
    from voicebox_core.runtime.download import check_obtainable

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = _model(model_name="qwen-tts.0.6B")
    for refuse in (check_obtainable, ensure_model):
        with pytest.raises(ModelNotDownloadedError) as refused:
            refuse(model)
        assert "VOICEBOX_MODEL_PATH_QWEN_TTS_0_6B" in str(refused.value)
        assert "$VOICEBOX_MODELS_DIR/qwen-tts.0.6B" in str(refused.value)
    codec = _model(model_name="the-codec", hf_repo_id="org/codec", files=("codec.bin",))
    monkeypatch.setenv("VOICEBOX_MODEL_PATH_M_1", str(tmp_path))
    with pytest.raises(ModelNotDownloadedError) as refused:
        check_obtainable(_model(requires=(codec,)))
    message = str(refused.value)
    assert "VOICEBOX_MODEL_PATH_THE_CODEC" in message and "VOICEBOX_MODEL_PATH_M_1" not in message
    assert "voicebox models download m-1" in message and "\n" not in message


def test_download_progress_reaches_the_host_through_to_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backend calling ensure_model(config) in a worker thread reports to the host's listener."""
    import asyncio

    from voicebox_core.runtime import download, download_progress

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    seen: list = []

    def fake_download_all(parent, missing, progress):  # stands in for the network only
        progress(download.DownloadProgress(parent.model_name, "config.json", 2, 2))
        _snapshot(tmp_path / "hub", {"config.json": b"{}"})

    monkeypatch.setattr(download, "_download_all", fake_download_all)

    async def host() -> Path:
        with download_progress(seen.append):
            return await asyncio.to_thread(ensure_model, _model(files=("config.json",)))

    assert asyncio.run(host()).name == "0" * 40
    assert [(p.model_name, p.downloaded, p.total) for p in seen] == [("m-1", 2, 2)]


def test_the_labels_of_an_engine_with_hundreds_of_languages_stay_cached() -> None:
    """``GET /engines`` labels every code on each call: 700 codes must not evict each other."""
    import itertools
    import string

    from voicebox_core.runtime.languages import language_label, language_labels

    codes = tuple("".join(c) for c in itertools.islice(itertools.product(string.ascii_lowercase, repeat=3), 700))
    language_labels(codes)
    before = language_label.cache_info()
    assert language_labels(codes).keys() == set(codes)
    after = language_label.cache_info()
    assert after.hits - before.hits == 700 and after.misses == before.misses
