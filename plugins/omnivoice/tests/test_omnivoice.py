"""OmniVoice through the plugin on the tiny checkpoint: cloning, design, languages, errors (offline)."""

from __future__ import annotations

import asyncio
import importlib.util
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import voicebox_core as vb
from voicebox_core.registry import Registry
from voicebox_core.testing import write_reference_clip

TRANSCRIPT = "This is a short test of my speaking voice."


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reference_clip(tmp_path_factory.mktemp("omnivoice-clips") / "voice.wav", seconds=3.0)


def synthesize(request: vb.SynthesisRequest) -> vb.Synthesis:
    return run(vb.Synthesizer(Registry.discover()).synthesize(request))


# -- metadata ------------------------------------------------------------------------------


def test_metadata_import_pulls_in_no_model_library() -> None:
    code = ("import sys, voicebox_engine_omnivoice.plugin; print(sorted(m for m in "
            "('torch', 'transformers', 'omnivoice', 'torchaudio', 'accelerate') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_the_vendored_languages_are_upstreams() -> None:
    from omnivoice.utils.lang_map import LANG_IDS
    from voicebox_engine_omnivoice._languages import CODES, TO_UPSTREAM
    from voicebox_engine_omnivoice.plugin import LANGUAGES

    assert {TO_UPSTREAM.get(code, code) for code in CODES} == LANG_IDS and len(CODES) == len(LANG_IDS) == 646
    assert not set(TO_UPSTREAM) & LANG_IDS  # a renamed code never shadows another upstream id
    assert LANGUAGES[0] == "auto" and {"en", "zh", "ja", "ar", "ne", "yue", "fil"} <= set(LANGUAGES)


def test_a_voicebox_code_becomes_upstreams_id() -> None:
    from voicebox_engine_omnivoice.backend import upstream_language

    assert [upstream_language(c) for c in ("en", "ar", "ne", "yue", "pt-BR", "auto")] == \
        ["en", "arb", "npi", "yue", "pt", None]
    with pytest.raises(vb.UnsupportedLanguageError, match="'xx' is not supported by model 'omnivoice'"):
        upstream_language("xx")


# -- speaking ------------------------------------------------------------------------------


def test_a_cloned_voice_through_the_synthesizer(tiny_omnivoice: Path, clip: Path) -> None:
    voice = vb.Voice.clone([(str(clip), TRANSCRIPT)])
    result = synthesize(vb.SynthesisRequest(text="Hello there, how are you?", model="omnivoice", voice=voice, seed=4))
    assert result.sample_rate == 24000 and result.audio.dtype == np.float32 and result.audio.size
    again = synthesize(vb.SynthesisRequest(text="Hello there, how are you?", model="omnivoice", voice=voice, seed=4))
    np.testing.assert_array_equal(result.audio, again.audio)


def test_the_language_reaches_upstream_as_its_id(backend, tiny_omnivoice: Path, clip: Path,  # type: ignore[no-untyped-def]
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    prompt, _ = run(backend.create_voice_prompt(str(clip), TRANSCRIPT, False))
    model = backend._model
    seen: list[Any] = []
    real = model.generate

    def spy(**kwargs: Any) -> Any:
        seen.append(kwargs["language"])
        return real(**kwargs)

    monkeypatch.setattr(model, "generate", spy)
    for code in ("ar", "auto", "ja"):
        audio, rate = run(backend.generate("مرحبا", prompt, code, 1))
        assert audio.size and rate == 24000
    assert seen == ["arb", None, "ja"]


def test_a_designed_voice_and_an_instruct_on_a_clone(backend, tiny_omnivoice: Path, clip: Path) -> None:  # type: ignore[no-untyped-def]
    designed = synthesize(vb.SynthesisRequest(text="A designed voice speaks.", model="omnivoice",
                                              voice=vb.Voice.design("female, elderly"), instruct="whisper", seed=2))
    assert designed.audio.size and np.isfinite(designed.audio).all()
    prompt, _ = run(backend.create_voice_prompt(str(clip), TRANSCRIPT, False))
    audio, _ = run(backend.generate("Steadied by attributes.", prompt, "en", 1, instruct="male, low pitch"))
    assert audio.size


def test_free_text_instruct_is_refused_with_upstreams_suggestions(backend, tiny_omnivoice: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(vb.InvalidRequestError, match=r"(?s)'feemale'.*female.*Valid English items"):
        run(backend.generate("Hi.", {"voice_type": "designed", "design_prompt": "feemale"}, "en", 1))
    with pytest.raises(vb.InvalidRequestError, match="speak happily"):
        synthesize(vb.SynthesisRequest(text="Hi.", model="omnivoice", voice=vb.Voice.design("speak happily")))


def test_a_clone_needs_its_transcript(backend, tiny_omnivoice: Path, clip: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(vb.InvalidRequestError, match="transcript of the reference clip"):
        run(backend.create_voice_prompt(str(clip), "  ", False))


def test_a_preset_voice_or_an_empty_design_is_refused(backend, tiny_omnivoice: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(vb.InvalidRequestError, match=r"cloned voice .* or a designed one"):
        run(backend.generate("Hi.", {"voice_type": "preset", "preset_voice_id": "x"}, "en", 1))
    with pytest.raises(vb.InvalidRequestError, match="needs a description"):
        run(backend.generate("Hi.", {"voice_type": "designed", "design_prompt": " "}, "en", 1))


def test_the_prompt_is_plain_data_and_cached(backend, tiny_omnivoice: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_reference_clip(tmp_path / "cached.wav", seconds=3.0, seed=9)
    prompt, hit = run(backend.create_voice_prompt(str(path), TRANSCRIPT, True))
    assert not hit and prompt["voice_type"] == "cloned" and prompt["ref_text"].startswith("This is")
    assert type(prompt["tokens"]).__module__ == "torch" and prompt["tokens"].shape[0] == 2  # 2 codebooks
    again, hit = run(backend.create_voice_prompt(str(path), TRANSCRIPT, True))
    assert hit and again["tokens"].equal(prompt["tokens"])


def test_several_samples_make_one_clip_and_one_transcript(backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    paths = [str(write_reference_clip(tmp_path / f"s{i}.wav", seconds=3.0, seed=i)) for i in range(2)]
    audio, text = run(backend.combine_voice_prompts(paths, ["First part.", "Second part."]))
    assert audio.dtype == np.float32 and len(audio) > 6 * 24000 and text == "First part. Second part."


def test_bad_options_are_refused(backend, tiny_omnivoice: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("VOICEBOX_OMNIVOICE_OPTIONS", '{"steps": 2}')
    with pytest.raises(vb.InvalidRequestError, match="VOICEBOX_OMNIVOICE_OPTIONS must be a JSON object"):
        run(backend.generate("Hi.", {"voice_type": "designed", "design_prompt": "male"}, "en", 1))


def test_inference_never_imports_the_demo_or_training_stack(tiny_omnivoice: Path, clip: Path) -> None:
    synthesize(vb.SynthesisRequest(text="Checking imports.", model="omnivoice",
                                   voice=vb.Voice.clone([(str(clip), TRANSCRIPT)]), seed=1))
    assert "omnivoice" in sys.modules
    assert not [m for m in ("gradio", "webdataset", "tensorboardX", "librosa") if m in sys.modules]


def test_a_missing_model_offline_names_the_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voicebox_engine_omnivoice.backend import OmniVoiceBackend

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(vb.ModelNotDownloadedError, match="omnivoice"):
        run(OmniVoiceBackend().load_model())


# -- frozen builds -------------------------------------------------------------------------


def test_the_hooks_name_modules_that_exist() -> None:
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed")
    from voicebox_engine_omnivoice import __pyinstaller as hooks

    (folder,) = hooks.get_hook_dirs()
    hook = runpy.run_path(str(Path(folder) / "hook-voicebox_engine_omnivoice.py"))
    missing = [m for m in hook["hiddenimports"] if importlib.util.find_spec(m) is None]
    assert not missing, missing
    excluded = runpy.run_path(str(Path(folder) / "hook-omnivoice.py"))["excludedimports"]
    assert {"gradio", "webdataset", "omnivoice.training"} <= set(excluded)
