"""VibeVoice through the plugin on the tiny checkpoints: dialogues, voices, errors (offline)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import voicebox_core as vb
from voicebox_core.registry import Registry
from voicebox_core.testing import write_reference_clip

SCRIPT = "Speaker 1: Welcome to the show.\nSpeaker 2: Thanks for having me.\nSpeaker 1: Let us begin."


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("vibevoice-clips")
    return [write_reference_clip(folder / f"speaker{i}.wav", seconds=2.5, seed=i) for i in range(5)]


def synthesize(request: vb.SynthesisRequest) -> vb.Synthesis:
    return run(vb.Synthesizer(Registry.discover()).synthesize(request))


def test_metadata_import_pulls_in_no_model_library() -> None:
    code = ("import sys, voicebox_engine_vibevoice.plugin; "
            "print(sorted(m for m in ('torch', 'transformers', 'diffusers') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_a_two_speaker_dialogue_through_the_synthesizer(tiny_vibevoice: Path, clips: list[Path]) -> None:
    voices = [vb.Voice.clone([(str(c), "")]) for c in clips[:2]]
    result = synthesize(vb.SynthesisRequest(text=SCRIPT, model="vibevoice", voice=voices[0],
                                            speakers=(voices[1],), seed=4))
    assert result.sample_rate == 24000 and result.audio.dtype == np.float32 and result.audio.size
    again = synthesize(vb.SynthesisRequest(text=SCRIPT, model="vibevoice", voice=voices[0],
                                           speakers=(voices[1],), seed=4))
    np.testing.assert_array_equal(result.audio, again.audio)


def test_the_backend_sees_one_message_per_turn_each_clip_once(backend, tiny_vibevoice: Path, clips: list[Path]) -> None:  # type: ignore[no-untyped-def]
    prompts = [run(backend.create_voice_prompt(str(c), "", False))[0] for c in clips[:2]]
    conversation = backend._conversation(SCRIPT, {"voice_type": "dialogue", "speakers": prompts})
    assert [m["role"] for m in conversation] == ["0", "1", "0"]
    assert [sum(i["type"] == "audio" for i in m["content"]) for m in conversation] == [1, 1, 0]
    assert conversation[1]["content"][0]["text"] == "Thanks for having me."
    assert prompts[0]["audio"].dtype == np.float32 and prompts[0]["audio"].ndim == 1


def test_a_script_naming_a_speaker_without_a_voice_is_refused(tiny_vibevoice: Path, clips: list[Path]) -> None:
    voices = [vb.Voice.clone([(str(c), "")]) for c in clips[:2]]
    with pytest.raises(vb.InvalidRequestError, match="Speaker 3, but 2 voice"):
        vb.Synthesizer(Registry.discover()).plan(vb.SynthesisRequest(
            text=SCRIPT + "\nSpeaker 3: Hello?", model="vibevoice", voice=voices[0], speakers=(voices[1],)))


def test_more_speakers_than_the_engine_voices_is_refused(tiny_vibevoice: Path, clips: list[Path]) -> None:
    voices = [vb.Voice.clone([(str(c), "")]) for c in clips]
    with pytest.raises(vb.InvalidRequestError, match="4 voice\\(s\\) at a time; this dialogue has 5"):
        vb.Synthesizer(Registry.discover()).plan(vb.SynthesisRequest(
            text=SCRIPT, model="vibevoice", voice=voices[0], speakers=tuple(voices[1:])))


def test_a_long_dialogue_is_chunked_at_turns_and_keeps_its_labels(tiny_vibevoice: Path, clips: list[Path]) -> None:
    voices = [vb.Voice.clone([(str(c), "")]) for c in clips[:2]]
    script = "\n".join(f"Speaker {1 + i % 2}: This is turn number {i} of a long conversation." for i in range(40))
    plan = vb.Synthesizer(Registry.discover()).plan(vb.SynthesisRequest(
        text=script, model="vibevoice", voice=voices[0], speakers=(voices[1],)))
    assert len(plan.chunks) > 1 and all(len(c) <= 600 for c in plan.chunks)
    assert all(line.startswith(("Speaker 1: ", "Speaker 2: ")) for c in plan.chunks for line in c.splitlines())


def test_one_voice_and_plain_text(tiny_vibevoice: Path, clips: list[Path]) -> None:
    result = synthesize(vb.SynthesisRequest(text="Just me, no labels.", model="vibevoice-7b",
                                            voice=vb.Voice.clone([(str(clips[0]), "")]), seed=1))
    assert result.audio.size and result.model.model_name == "vibevoice-7b"


def test_no_instruct_no_other_language(backend, tiny_vibevoice: Path, clips: list[Path]) -> None:  # type: ignore[no-untyped-def]
    prompt, _ = run(backend.create_voice_prompt(str(clips[0]), "", False))
    with pytest.raises(vb.InvalidRequestError, match="instruct"):
        run(backend.generate("Hi.", prompt, "en", 1, instruct="cheerfully"))
    with pytest.raises(vb.UnsupportedLanguageError):
        run(backend.generate("Hallo.", prompt, "de", 1))
    with pytest.raises(vb.InvalidRequestError, match="cloned voices"):
        run(backend.generate("Hi.", {"voice_type": "preset", "preset_voice_id": "x"}, "en", 1))


def test_the_token_budget_follows_the_text() -> None:
    from voicebox_engine_vibevoice.backend import token_budget

    assert token_budget("a" * 800) > token_budget("a" * 80) > 40
    assert token_budget("a" * 800) < 40500


def test_a_missing_model_offline_names_the_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voicebox_engine_vibevoice.backend import VibeVoiceBackend

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(vb.ModelNotDownloadedError, match="vibevoice-1.5b"):
        run(VibeVoiceBackend().load_model("1.5B"))
