"""The CLI as a user meets it: exit codes, one-line errors, atomic output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf


def voicebox(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "voicebox_core", *args], capture_output=True,
                          text=True, env=environ, timeout=120)


def test_say_writes_a_wav(tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    result = voicebox("say", "Hello there, how are you?", "--engine", "reference", "-o", str(out))
    assert result.returncode == 0, result.stderr
    audio, rate = sf.read(out)
    assert rate == 16000 and len(audio) > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["hello.wav"]  # no temporary left behind


def test_say_writes_a_file_others_may_read_when_the_umask_allows(tmp_path: Path) -> None:
    """``voicebox say -o hello.wav`` for a media player running as another user (umask 022)."""
    import stat

    out = tmp_path / "hello.wav"
    done = subprocess.run([sys.executable, "-m", "voicebox_core", "say", "Hello.", "--engine", "reference",
                           "-o", str(out)], capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: os.umask(0o022))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_say_with_model_voice_language_and_seed(tmp_path: Path) -> None:
    out = tmp_path / "x.flac"
    result = voicebox("say", "Guten Tag", "--model", "reference-24k", "--voice", "alto",
                      "--language", "de", "--seed", "7", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert sf.info(out).samplerate == 24000


def test_say_clones_from_a_reference_clip(tmp_path: Path) -> None:
    from voicebox_core.testing import write_reference_clip

    clip = write_reference_clip(tmp_path / "ref.wav")
    out = tmp_path / "clone.wav"
    result = voicebox("say", "Cloned words", "--engine", "reference", "--ref-audio", str(clip),
                      "--ref-text", "a buzz", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.is_file()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--engine", "nope"], "unknown engine 'nope'; installed engines: reference"),
        (["--model", "nope"], "unknown model 'nope'; available models: reference, reference-16k"),
        (["--engine", "reference", "--voice", "nope"], "its voices: alto, high, low"),
        (["--model", "reference-16k", "--voice", "bright"], "unknown voice 'bright'"),
        (["--engine", "reference", "--language", "fr"], "choose one of: de, en"),
        (["--engine", "reference", "--voice", "alto", "--language", "en"], "voices for 'en': low, high, bright"),
        (["--engine", "reference", "--seed", "-1"], "seed -1 is out of range"),
        (["--engine", "reference", "--ref-audio", "/nonexistent.wav"], "does not exist"),
        (["--engine", "reference", "--instruct", "whisper"], "does not take an instruct prompt"),
        ([], "give --engine"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "out.wav"
    result = voicebox("say", "Hello", *args, "-o", str(out))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_punctuation_only_text_is_rejected(tmp_path: Path) -> None:
    result = voicebox("say", "?!...", "--engine", "reference", "-o", str(tmp_path / "o.wav"))
    assert result.returncode == 2 and "no letters or digits" in result.stderr


def test_output_must_be_an_audio_file(tmp_path: Path) -> None:
    result = voicebox("say", "Hi", "--engine", "reference", "-o", str(tmp_path))
    assert result.returncode == 2 and "is a directory" in result.stderr
    result = voicebox("say", "Hi", "--engine", "reference", "-o", str(tmp_path / "x.txt"))
    assert result.returncode == 2 and "must end in .wav" in result.stderr


def test_models_list_and_download_of_a_bundled_model() -> None:
    result = voicebox("models", "list")
    assert result.returncode == 0 and "reference-16k  (reference, 0 MB): ready" in result.stdout
    result = voicebox("models", "download", "reference-24k")
    assert result.returncode == 0 and "nothing to download" in result.stdout
    assert voicebox("models", "download", "nope").returncode == 2


def test_usage_errors_come_from_argparse() -> None:
    result = voicebox("say")
    assert result.returncode == 2 and "usage:" in result.stderr


def test_engines_help_lists_only_what_a_user_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "voicebox_core", "engines", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "install" in done.stdout
    assert "SUPPRESS" not in done.stdout and "probe" not in done.stdout


def test_a_preset_voice_picks_its_own_model(tmp_path: Path) -> None:
    """Engines with one model per voice: --engine plus --voice is enough."""
    import asyncio

    from voicebox_core import Registry, SynthesisRequest, Synthesizer, Voice

    synth = Synthesizer(Registry.discover())
    plan = synth.plan(SynthesisRequest("Hi", "reference", Voice.preset("alto"), language="de"))
    assert plan.model.model_name == "reference-16k"  # alto works with every model
    plan = synth.plan(SynthesisRequest("Hi", "reference-24k", Voice.preset("low")))
    assert plan.model.model_name == "reference-24k"
    assert asyncio.run(synth.synthesize(SynthesisRequest("Hi", "reference"))).sample_rate == 16000
    bright = synth.plan(SynthesisRequest("Hallo", "reference", Voice.preset("bright"), language="de"))
    assert bright.model.model_name == "reference-24k" and bright.language == "de"
    result = voicebox("say", "Hi", "--engine", "reference", "--voice", "bright", "-o", str(tmp_path / "b.wav"))
    assert result.returncode == 0 and "reference-24k" in result.stdout
