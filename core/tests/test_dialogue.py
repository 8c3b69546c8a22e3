"""Dialogues in the contract: several voices in one request, for engines that take them."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import voicebox_core as vb
from voicebox_core.config import validate_engine
from voicebox_core.registry import Registry
from voicebox_core.runtime.text import script_turns, split_script
from voicebox_core.testing import write_reference_clip


def test_script_turns_read_speaker_labels() -> None:
    text = "Opening words.\nSpeaker 2: Hi there!\n  and more\nspeaker 1 : Back to me."
    assert script_turns(text) == [(1, "Opening words."), (2, "Hi there! and more"), (1, "Back to me.")]
    assert script_turns("No labels at all.") == [(1, "No labels at all.")]
    assert script_turns("Speaker 3:\nSpeaker 1: x") == [(1, "x")]


def test_split_script_keeps_whole_labelled_turns() -> None:
    long_turn = " ".join(f"Sentence number {i} is here." for i in range(30))
    script = f"Speaker 1: Short.\nSpeaker 2: {long_turn}\nSpeaker 1: Bye."
    chunks = split_script(script, 120)
    assert all(len(c) <= 120 for c in chunks)
    lines = [line for c in chunks for line in c.splitlines()]
    assert all(line.startswith(("Speaker 1: ", "Speaker 2: ")) for line in lines)
    assert " ".join(line.split(": ", 1)[1] for line in lines if line.startswith("Speaker 2")) == long_turn


def test_an_engine_of_one_voice_refuses_a_dialogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOX_PLUGINS", "reference")
    clip = write_reference_clip(tmp_path / "b.wav")
    synthesizer = vb.Synthesizer(Registry.discover(isolated=False))
    request = vb.SynthesisRequest(text="Speaker 1: Hi.\nSpeaker 2: Hello.", model="reference",
                                  voice=vb.Voice.preset("low"), speakers=(vb.Voice.clone([(str(clip), "")]),))
    with pytest.raises(vb.InvalidRequestError, match="speaks with 1 voice\\(s\\) at a time; this dialogue has 2"):
        synthesizer.plan(request)
    plain = synthesizer.plan(replace(request, speakers=()))  # labels without speakers: plain text
    assert plain.speakers == ()


def test_max_speakers_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEBOX_PLUGINS", "reference")
    info = Registry.discover(isolated=False).engine("reference")
    assert validate_engine(info) == []
    for bad in (0, True, "2"):
        broken = replace(info, capabilities=replace(info.capabilities, max_speakers=bad))
        assert any("capabilities.max_speakers" in p for p in validate_engine(broken)), bad


def test_say_speaker_needs_a_file_and_a_first_voice(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "voicebox_core", "say", "Speaker 1: a\nSpeaker 2: b", "--engine", "reference",
           "-o", str(tmp_path / "o.wav")]
    missing = subprocess.run([*cli, "--voice", "low", "--speaker", str(tmp_path / "nope.wav")], capture_output=True,
                             text=True)
    assert missing.returncode == 2 and "is not a file" in missing.stderr and missing.stderr.count("\n") == 1
    clip = write_reference_clip(tmp_path / "b.wav")
    alone = subprocess.run([*cli, "--speaker", str(clip)], capture_output=True, text=True)
    assert alone.returncode == 2 and "Speaker 1's" in alone.stderr
    refused = subprocess.run([*cli, "--voice", "low", "--speaker", str(clip)], capture_output=True, text=True)
    assert refused.returncode == 2 and "1 voice(s) at a time" in refused.stderr
