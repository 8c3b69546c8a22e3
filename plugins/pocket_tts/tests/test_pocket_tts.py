"""Pocket TTS through the plugin on the tiny offline checkpoints, and the upstream traps of
docs/audits/pocket_tts.md: threads, streaming and its stop, cloning and its gate, float clips."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import soundfile as sf
import voicebox_core as vb
from voicebox_core.config import validate_engine
from voicebox_core.registry import Registry
from voicebox_core.runtime import prompt_cache
from voicebox_core.testing import write_reference_clip
from voicebox_engine_pocket_tts import plugin

ALBA = {"voice_type": "preset", "preset_engine": "pocket_tts", "preset_voice_id": "alba"}
TEXT = "Hello world. This is a test."
FRAME = 1920  # 80 ms at 24 kHz: one latent, one decoded chunk


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def preset(voice_id: str) -> dict[str, str]:
    return {"voice_type": "preset", "preset_engine": "pocket_tts", "preset_voice_id": voice_id}


@pytest.fixture(scope="module")
def backend(tiny_pocket: Path):  # type: ignore[no-untyped-def]
    from voicebox_engine_pocket_tts.backend import PocketTTSBackend

    loaded = PocketTTSBackend()
    yield loaded
    loaded.unload_model()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The kit's voiced clip as 32-bit float WAV (``wave`` cannot read it) and as 16-bit WAV at
    44.1 kHz, and another voice."""
    folder = tmp_path_factory.mktemp("pocket-clips")
    audio, rate = sf.read(write_reference_clip(folder / "pcm.wav", seconds=3.0), dtype="float32")
    sf.write(folder / "float.wav", audio, rate, subtype="FLOAT")
    return {"float": folder / "float.wav",
            "44k": write_reference_clip(folder / "44k.wav", seconds=3.0, sample_rate=44100),
            "other": write_reference_clip(folder / "other.wav", seconds=4.0, seed=7)}


def check_audio(audio: np.ndarray, rate: int) -> None:
    assert rate == 24000 and audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size and audio.size % FRAME == 0 and np.isfinite(audio).all()
    assert float(np.max(np.abs(audio))) <= 1.0


async def stream(backend, text: str, voice: dict, seed: int | None = 1, language: str = "en") -> tuple[list, list, float]:  # type: ignore[no-untyped-def]
    started, chunks, times = time.perf_counter(), [], []
    async for chunk in backend.generate_stream(text, voice, language, seed):
        chunks.append(chunk)
        times.append(time.perf_counter() - started)
    return chunks, times, time.perf_counter() - started


# -- metadata ----------------------------------------------------------------------------------


def test_metadata_fourteen_models_27_voices_in_7_languages() -> None:
    infos: list[vb.EngineInfo] = []
    plugin.voicebox_register_engines(infos.append)
    (info,) = infos
    assert validate_engine(info) == []
    assert info.default_model.model_name == "pocket-tts" and info.default_voice == "alba"
    assert info.capabilities.streaming and info.capabilities.deterministic
    assert len(info.models) == 14 and set(info.languages) == {"en", "fr", "de", "it", "es", "pt", "nl"}
    for model in info.models:
        assert model.sample_rate == 24000 and len(model.languages) == 1 and model.revision
        if model.model_name.endswith("-clone"):  # gated weights, open tokenizer
            assert model.hf_repo_id == "kyutai/pocket-tts" and not model.on_demand_files
            (tokenizer,) = model.requires
            assert tokenizer.hf_repo_id == plugin.OPEN_REPO and tokenizer.files[0].endswith("/tokenizer.json")
        else:
            assert model.hf_repo_id == plugin.OPEN_REPO and model.revision == plugin.OPEN_REVISION
            assert not model.requires and model.on_demand_files[0].endswith("/embeddings/*.safetensors")
    assert info.model("pocket-tts-clone").revision == "db04f0e653473e5c7333c69686ac92b7460b0c1d"


def test_preset_voices_carry_their_own_language_and_speak_every_model_s() -> None:
    voices = {v.voice_id: v for v in plugin.VOICES}
    assert len(voices) == 27
    assert Counter(v.language for v in voices.values()) == {"en": 21, "fr": 1, "de": 1, "it": 1, "es": 1, "pt": 1, "nl": 1}
    assert {k: voices[k].language for k in ("estelle", "juergen", "giovanni", "lola", "rafael", "daan")} == {
        "estelle": "fr", "juergen": "de", "giovanni": "it", "lola": "es", "rafael": "pt", "daan": "nl"}
    assert all(v.speaks(code) for v in voices.values() for code in ("en", "fr", "de", "it", "es", "pt", "nl"))
    assert voices["bill_boerst"].display_name == "Bill Boerst" and voices["alba"].gender == "female"


# -- threads -----------------------------------------------------------------------------------

_THREADS = """
import asyncio, importlib, json, sys, torch
torch.set_num_threads(3)
if sys.argv[1] == "upstream":  # imported in a worker thread too: the count is process-wide
    asyncio.run(asyncio.to_thread(importlib.import_module, "pocket_tts"))
else:
    from voicebox_engine_pocket_tts.backend import PocketTTSBackend
    asyncio.run(PocketTTSBackend().load_model())  # imports pocket_tts in a worker thread
print(json.dumps({"threads": torch.get_num_threads(), "pocket_tts": "pocket_tts" in sys.modules}))
"""


def test_torch_keeps_its_thread_count_though_pocket_tts_sets_one(tiny_pocket: Path) -> None:
    def threads(how: str) -> dict:
        done = subprocess.run([sys.executable, "-c", _THREADS, how], capture_output=True, text=True,
                              timeout=300, env=os.environ.copy())
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert threads("upstream") == {"threads": 1, "pocket_tts": True}  # the trap is real
    assert threads("backend") == {"threads": 3, "pocket_tts": True}


# -- preset voices -----------------------------------------------------------------------------


def test_preset_voices_speak_and_differ(backend) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("en"))
    alba, rate = run(backend.generate(TEXT, ALBA, "en", 5))
    marius, _ = run(backend.generate(TEXT, preset("marius"), "en", 5))
    check_audio(alba, rate)
    check_audio(marius, rate)
    assert not (alba.shape == marius.shape and np.array_equal(alba, marius))  # the voice's state matters


def test_french_model_speaks_its_voices(backend) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("pocket-tts-fr"))
    audio, rate = run(backend.generate("Bonjour à tous. Ça va très bien.", preset("estelle"), "fr", 2))
    check_audio(audio, rate)
    # The English voice speaks French on the French model (every voice is exported for every language).
    audio, rate = run(backend.generate("Bonjour à tous.", ALBA, "fr", 2))
    check_audio(audio, rate)


def test_languages_follow_the_model(backend, tiny_pocket: Path) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("en"))
    with pytest.raises(vb.UnsupportedLanguageError, match="pocket-tts"):
        run(backend.generate(TEXT, ALBA, "de", 1))
    # With no language asked for, the core passes the preset's own: the model speaks English.
    audio, _ = run(backend.generate(TEXT, preset("giovanni"), "it", 1))
    assert audio.size
    synthesizer = vb.Synthesizer(Registry.discover())
    with pytest.raises(vb.UnsupportedLanguageError):
        synthesizer.plan(vb.SynthesisRequest(text=TEXT, model="pocket-tts", voice=vb.Voice.preset("alba"), language="fr"))
    result = run(synthesizer.synthesize(vb.SynthesisRequest(
        text="Bonjour.", model="pocket-tts-fr", voice=vb.Voice.preset("estelle"), seed=1)))
    assert result.language == "fr" and result.sample_rate == 24000 and result.audio.size


def test_a_voice_not_in_the_cache_fails_offline_with_a_hint(backend) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("en"))
    with pytest.raises(vb.ModelNotDownloadedError, match=r"voice 'jane' \(languages/english/embeddings/jane"
                                                         r".*first use.*network is off"):
        run(backend.generate(TEXT, preset("jane"), "en", 1))
    with pytest.raises(vb.UnknownVoiceError):
        run(backend.generate(TEXT, preset("nobody"), "en", 1))


def test_nothing_reaches_the_network(backend, clips: dict[str, Path], no_network: list) -> None:  # type: ignore[no-untyped-def]
    backend.unload_model()
    for size in ("en", "en-clone"):
        run(backend.load_model(size))
        assert run(backend.generate(TEXT, ALBA, "en", 1))[0].size
    prompt, _ = run(backend.create_voice_prompt(str(clips["float"]), "", False))
    assert run(backend.generate(TEXT, prompt, "en", 1))[0].size
    assert no_network == []


# -- determinism and streaming -----------------------------------------------------------------


def test_same_seed_same_audio_other_seed_other_audio(backend) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("en"))
    first, _ = run(backend.generate(TEXT, ALBA, "en", 11))
    again, _ = run(backend.generate(TEXT, ALBA, "en", 11))
    other, _ = run(backend.generate(TEXT, ALBA, "en", 12))
    np.testing.assert_array_equal(first, again)
    assert not (first.shape == other.shape and np.array_equal(first, other))


def test_stream_comes_frame_by_frame_and_joins_into_generate(backend) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("en"))
    text = "Hello world. This is a test. The stream goes on for a while, sentence after sentence."
    chunks, times, total = run(stream(backend, text, ALBA, seed=4))
    assert len(chunks) >= 10 and {c.size for c in chunks} == {FRAME}
    assert times[0] < total / 2, (times[0], total)  # the first frame long before the utterance ends
    whole, _ = run(backend.generate(text, ALBA, "en", 4))
    np.testing.assert_array_equal(np.concatenate(chunks), whole)


def _upstream_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if "run_generation" in t.name or "_decode_audio_worker" in t.name]


def test_closing_after_the_first_chunk_stops_upstream_within_a_frame(backend) -> None:  # type: ignore[no-untyped-def]
    """Upstream generates in a thread of its own; closing the stream sets its stop event."""
    run(backend.load_model("en"))
    steps: list[float] = []

    def slow_step(module, inputs, output):  # type: ignore[no-untyped-def]  # a CPU ~10x slower than the tiny model
        steps.append(time.perf_counter())
        time.sleep(0.02)

    text = " ".join(["One more sentence to say."] * 6)
    full = len(run(stream(backend, text, ALBA, seed=3))[0])
    hook = backend._loaded.model.flow_lm.transformer.register_forward_hook(slow_step)
    try:
        async def first_chunk_then_close() -> int:
            chunks = backend.generate_stream(text, ALBA, "en", 3)
            await chunks.__anext__()
            await chunks.aclose()
            return len(steps)

        at_close = run(first_chunk_then_close())
        time.sleep(0.3)
        assert len(steps) - at_close <= 1, (at_close, len(steps))  # at most the step under way
        assert len(steps) < full / 2, (len(steps), full)  # far from the end of the text
        deadline = time.monotonic() + 5
        while _upstream_threads() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _upstream_threads() == []
    finally:
        hook.remove()
    assert run(backend.generate(TEXT, ALBA, "en", 1))[0].size  # the engine is free again


# -- cloning -----------------------------------------------------------------------------------


def test_upstream_cannot_read_a_float_wav(clips: dict[str, Path]) -> None:
    import wave

    from voicebox_engine_pocket_tts.backend import import_pocket_tts

    import_pocket_tts()
    from pocket_tts.data.audio import audio_read

    with pytest.raises(wave.Error, match="unknown format: 3"):
        audio_read(clips["float"])


def test_the_clone_model_clones_float_and_resampled_clips(backend, clips: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("en-clone"))
    made = {}
    for name in ("float", "44k", "other"):
        prompt, cached = run(backend.create_voice_prompt(str(clips[name]), "ignored transcript", False))
        assert not cached and prompt["audio"].dtype == np.float32
        made[name], rate = run(backend.generate(TEXT, prompt, "en", 9))
        check_audio(made[name], rate)
    assert not (made["float"].shape == made["other"].shape and np.array_equal(made["float"], made["other"]))
    # The preset voices work on the cloning model too (their states come from the open repository).
    check_audio(*run(backend.generate(TEXT, ALBA, "en", 9)))


def test_a_clip_is_encoded_once_per_cloning_model(backend, clips: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("en"))  # a preset model: the prompt is the clip, encoded later
    prompt, _ = run(backend.create_voice_prompt(str(clips["other"]), "", True))
    again, cached = run(backend.create_voice_prompt(str(clips["other"]), "", True))
    assert cached and again is prompt and any(k.startswith("pocket_tts_") for k in prompt_cache.keys())
    for model in ("en-clone", "fr-clone"):
        run(backend.load_model(model))
        encodings: list[int] = []
        hook = backend._loaded.model.mimi.encoder.register_forward_hook(
            lambda *args, seen=encodings: seen.append(1))
        try:
            for _ in range(2):
                run(backend.generate("Salut. Hello.", prompt, model[:2], 1))
        finally:
            hook.remove()
        assert len(encodings) == 1, model


def test_a_preset_model_refuses_a_cloned_voice(backend, clips: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("fr"))
    prompt, _ = run(backend.create_voice_prompt(str(clips["float"]), "", False))
    with pytest.raises(vb.InvalidRequestError, match=r"'pocket-tts-fr' has no voice cloning; use "
                                                     r"'pocket-tts-fr-clone'.*huggingface.co/kyutai/pocket-tts"):
        run(backend.generate("Bonjour.", prompt, "fr", 1))


def test_combined_clips_are_one_clip_at_the_model_rate(backend, clips: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    audio, text = run(backend.combine_voice_prompts([str(clips["float"]), str(clips["44k"])], ["one", "two"]))
    assert audio.dtype == np.float32 and audio.size == 24000 * 6 + 24000 // 5 and text == "one two"


# -- the gated repository ----------------------------------------------------------------------

GATED_SAYS = {
    401: "Access to model kyutai/pocket-tts is restricted. You must have access to it and be authenticated "
         "to access it. Please log in.",
    403: "Access to model kyutai/pocket-tts is restricted and you are not in the authorized list. Visit "
         "https://huggingface.co/kyutai/pocket-tts to ask for access.",
}


class _GatedHub(BaseHTTPRequestHandler):
    """The Hub's answer to every request for kyutai/pocket-tts without access (its headers are
    what huggingface_hub turns into GatedRepoError); anything else is not found."""

    status: ClassVar[int] = 401
    seen: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        self.seen.append(self.path)
        gated = self.path.startswith(("/api/models/kyutai/pocket-tts/", "/kyutai/pocket-tts/"))
        body = json.dumps({"error": GATED_SAYS[self.status] if gated else "Not found"}).encode()
        self.send_response(self.status if gated else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Error-Code", "GatedRepo" if gated else "RepoNotFound")
        self.send_header("X-Error-Message", GATED_SAYS[self.status] if gated else "Repository not found")
        self.send_header("X-Request-Id", "Root=1-test")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _answer


@pytest.fixture(params=[401, 403], ids=["not-logged-in", "licence-not-accepted"])
def gated_hub(request: pytest.FixtureRequest, tiny_pocket: Path, tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """A loopback Hugging Face that gates kyutai/pocket-tts, and the environment of a user with
    an empty cache (the open tokenizer given as a local copy) and no token, online."""
    from voicebox_core.runtime.download import cached_snapshot

    handler = type("Hub", (_GatedHub,), {"status": request.param, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tokenizer = plugin.MODELS[1].requires[0]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "VOICEBOX_MODEL", "HUGGING")) and k.lower() not in ("http_proxy", "https_proxy")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{server.server_address[1]}", HF_HOME=str(tmp_path / "hf"),
               HF_HUB_OFFLINE="0", VOICEBOX_OFFLINE="0", HF_HUB_DISABLE_TELEMETRY="1", NO_PROXY="127.0.0.1",
               VOICEBOX_DATA_DIR=str(tmp_path / "data"),
               VOICEBOX_MODEL_PATH_POCKET_TTS_CLONE_TOKENIZER=str(cached_snapshot(tokenizer)))
    try:
        yield request.param, env
        assert handler.seen and all("kyutai/pocket-tts/" in path for path in handler.seen), handler.seen
    finally:
        server.shutdown()


_LOAD_GATED = """
import asyncio, json
from voicebox_engine_pocket_tts.backend import PocketTTSBackend
try:
    asyncio.run(PocketTTSBackend().load_model("en-clone"))
except Exception as exc:
    print(json.dumps({"type": type(exc).__name__, "message": str(exc), "cause": repr(exc.__cause__),
                      "context_shown": exc.__context__ is not None and not exc.__suppress_context__}))
"""


def test_the_gated_clone_model_is_one_clear_error(gated_hub: tuple[int, dict[str, str]]) -> None:
    """The real download path (voicebox-core's ensure_model, huggingface_hub's model_info) meets
    the Hub's gated answer; the user reads one error that says what to do."""
    status, env = gated_hub
    done = subprocess.run([sys.executable, "-c", _LOAD_GATED], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    error = json.loads(done.stdout.strip().splitlines()[-1])
    assert error["type"] == "ModelNotDownloadedError" and error["cause"] == "None" and not error["context_shown"]
    why = "you are not logged in" if status == 401 else "this account has not accepted the licence"
    assert error["message"] == (
        f"model 'pocket-tts-clone' (voice cloning) uses Kyutai's gated weights and Hugging Face refused them "
        f"({why}): accept the licence at https://huggingface.co/kyutai/pocket-tts, log in (`hf auth login` or "
        "HF_TOKEN), then run `voicebox models download pocket-tts-clone`; or use the preset voices, which need "
        "none of this (model 'pocket-tts')")
    if status == 401:  # and through the CLI, as a user meets it
        cli = Path(sys.executable).with_name("voicebox")
        said = subprocess.run([str(cli), "say", "Hello.", "--model", "pocket-tts-clone", "--voice", "alba",
                               "-o", str(Path(env["VOICEBOX_DATA_DIR"]) / "out.wav")],
                              capture_output=True, text=True, env=env, timeout=300)
        assert said.returncode != 0
        assert said.stderr.strip() == f"voicebox: error: {error['message']}"


# -- lifecycle and options ---------------------------------------------------------------------


def test_models_load_one_at_a_time_and_sizes_are_checked(backend) -> None:  # type: ignore[no-untyped-def]
    run(backend.load_model("fr-clone"))
    assert backend.is_loaded() and backend._loaded.config.model_name == "pocket-tts-fr-clone"
    run(backend.load_model("pocket-tts"))
    assert backend._loaded.config.model_name == "pocket-tts"
    assert backend._get_model_path("en-clone") == "kyutai/pocket-tts"
    with pytest.raises(vb.UnknownModelError, match="en-clone"):
        run(backend.load_model("en_24l"))
    with pytest.raises(vb.InvalidRequestError, match="instruct"):
        run(backend.generate(TEXT, ALBA, "en", 1, instruct="whisper"))
    with pytest.raises(vb.EmptyTextError):
        run(backend.generate("  ... ", ALBA, "en", 1))


def test_a_model_missing_offline_names_its_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voicebox_engine_pocket_tts.backend import PocketTTSBackend

    with pytest.raises(vb.ModelNotDownloadedError, match=r"voicebox models download pocket-tts-de`"):
        run(PocketTTSBackend().load_model("de"))
    monkeypatch.setenv("VOICEBOX_POCKET_TTS_OPTIONS", '{"temperature": 0.7}')
    with pytest.raises(vb.InvalidRequestError, match='VOICEBOX_POCKET_TTS_OPTIONS must be a JSON object with only "config"'):
        run(PocketTTSBackend().load_model("en"))
