"""The conformance tests. See :mod:`voicebox_core.testing` for how an engine uses them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from voicebox_core.config import EngineInfo, ModelConfig, validate_engine
from voicebox_core.errors import (
    EmptyTextError,
    ReferenceAudioError,
    UnknownVoiceError,
    UnsupportedLanguageError,
)
from voicebox_core.registry import Registry
from voicebox_core.runtime.cache import prompt_cache
from voicebox_core.synthesis import SynthesisRequest, Synthesizer, Voice

__all__ = ["ConformanceSuite"]

_LISTING = """
import json, sys
from voicebox_core.registry import Registry
registry = Registry.discover()
print(json.dumps({"engines": [e.name for e in registry.engines], "modules": sorted(sys.modules),
                  "plugins": {e: {"name": registry.plugin_of(e).name, "heavy": list(registry.plugin_of(e).heavy_imports),
                                  "slow": registry.plugin_of(e).slow, "reason": registry.plugin_of(e).slow_reason}
                              for e in [i.name for i in registry.engines]}}))
"""


def audio_problems(audio: object, rate: object, expected_rate: int) -> list[str]:
    """Everything wrong with what ``generate`` returned, each with the helper that fixes it."""
    problems = []
    if not isinstance(audio, np.ndarray):
        return [f"generate returned {type(audio).__name__} audio, not a numpy array: "
                "return voicebox_core.runtime.as_mono_float32(audio)"]
    if audio.dtype != np.float32:
        problems.append(f"audio dtype is {audio.dtype}, not float32: return as_mono_float32(audio)")
    if audio.ndim != 1:
        problems.append(f"audio has {audio.ndim} dimensions {audio.shape}, not 1 (mono): "
                        "return as_mono_float32(audio)")
    if audio.size == 0:
        problems.append("audio is empty: the engine produced no samples")
    elif not np.isfinite(audio).all():
        problems.append("audio holds NaN or infinite samples")
    elif float(np.max(np.abs(audio))) > 1.0:
        problems.append(f"audio peaks at {float(np.max(np.abs(audio))):.2f}, beyond [-1, 1]: "
                        "scale it (voicebox_core.runtime.normalize_audio) or clip it")
    if rate != expected_rate:
        problems.append(f"generate returned {rate} Hz but the model declares {expected_rate} Hz: "
                        "return the model's ModelConfig.sample_rate (resample if needed)")
    return problems


class ConformanceSuite:
    """Base class of an engine's conformance tests; not collected itself (no ``Test`` prefix)."""

    #: The engine under test (required).
    engine: ClassVar[str]
    #: Model to test; None means the engine's default model.
    model: ClassVar[str | None] = None
    #: Top-level modules that listing engines must not import (torch is always checked).
    model_libraries: ClassVar[tuple[str, ...]] = ()
    #: Text spoken by the generation tests.
    text: ClassVar[str] = "Hello world. This is a test."
    #: Language of that text.
    language: ClassVar[str | None] = None

    # -- fixtures an engine may override -------------------------------------------------

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def voicebox_environment(cls) -> Iterator[None]:
        """Override (class scope) to point the engine at its tiny offline model."""
        yield

    @pytest.fixture(scope="class")
    @classmethod
    def registry(cls, voicebox_environment: None) -> Registry:
        return Registry.discover()

    @pytest.fixture(scope="class")
    @classmethod
    def synthesizer(cls, registry: Registry) -> Synthesizer:
        return Synthesizer(registry, max_loaded=4)

    @pytest.fixture(scope="class")
    @classmethod
    def info(cls, registry: Registry) -> EngineInfo:
        """The engine's metadata; when it is not registered, the plugin's own failure first."""
        if cls.engine not in {e.name for e in registry.engines}:
            if registry.failures:
                pytest.fail(f"engine {cls.engine!r} is not registered: a plugin was set aside at "
                            "discovery: " + "; ".join(
                                f"{f.name} ({f.distribution} {f.version}) {f.reason} -- fix: {f.hint}"
                                for f in registry.failures), pytrace=False)
            pytest.fail(f"engine {cls.engine!r} is not registered by any installed plugin; installed "
                        f"engines: {', '.join(e.name for e in registry.engines) or 'none'}", pytrace=False)
        return registry.engine(cls.engine)

    @pytest.fixture(scope="class")
    @classmethod
    def model_config(cls, registry: Registry, info: EngineInfo) -> ModelConfig:
        return registry.model(cls.model) if cls.model else info.default_model

    @pytest.fixture(scope="class")
    @classmethod
    def voice(cls, info: EngineInfo, voicebox_reference_clip: tuple[Path, str]) -> Voice:
        """The voice the generation tests use: the default preset, else the reference clip."""
        if info.default_voice:
            return Voice.preset(info.default_voice)
        if "cloned" in info.voice_kinds:
            path, text = voicebox_reference_clip
            return Voice.clone([(str(path), text)])
        return Voice.design("A calm, clear voice.")

    def request(self, model_config: ModelConfig, voice: Voice, **changes: Any) -> SynthesisRequest:
        fields: dict[str, Any] = {"text": self.text, "model": model_config.model_name,
                                  "voice": voice, "language": self.language, "seed": 1234}
        fields.update(changes)
        return SynthesisRequest(**fields)

    # -- registration --------------------------------------------------------------------

    def test_registration_is_valid(self, registry: Registry, info: EngineInfo) -> None:
        assert validate_engine(info) == []
        plugin = registry.plugin_of(self.engine)
        assert plugin.distribution and plugin.version
        assert not [f for f in registry.failures if f.distribution == plugin.distribution]

    def test_listing_does_not_import_model_libraries(self, info: EngineInfo) -> None:
        """This engine's plugin keeps discovery cheap (another plugin's cost is its own kit's)."""
        out = subprocess.run([sys.executable, "-c", _LISTING], capture_output=True, text=True,
                             check=True).stdout
        listing = json.loads(out.strip().splitlines()[-1])
        assert self.engine in listing["engines"]
        plugin = listing["plugins"][self.engine]
        assert not plugin["slow"], f"plugin {plugin['name']}: {plugin['reason']}"
        others = {p["name"] for e, p in listing["plugins"].items() if e != self.engine and p["slow"]}
        heavy = ("torch", *self.model_libraries)
        offenders = [m for m in listing["modules"] if any(m == h or m.startswith(h + ".") for h in heavy)]
        assert not offenders or others, (f"discovery imported {offenders[:10]} though no plugin "
                                         "reported it; look for an import at module level")

    # -- lifecycle -----------------------------------------------------------------------

    def test_load_unload_round_trip(self, registry: Registry, model_config: ModelConfig) -> None:
        backend = registry.backend(self.engine)
        asyncio.run(backend.load_model(model_config.model_size))
        assert backend.is_loaded()
        backend.unload_model()
        assert not backend.is_loaded()
        asyncio.run(backend.load_model(model_config.model_size))
        assert backend.is_loaded()
        assert isinstance(backend._get_model_path(model_config.model_size), str)

    # -- generation ----------------------------------------------------------------------

    def _generate(self, synthesizer: Synthesizer, request: SynthesisRequest) -> tuple[np.ndarray, int]:
        async def run() -> tuple[np.ndarray, int]:
            plan = synthesizer.plan(request)
            await synthesizer.load(plan.model.model_name)
            prompt = await synthesizer.voice_prompt(plan)
            backend = synthesizer.registry.backend(plan.engine.name)
            return await backend.generate(plan.chunks[0], prompt, plan.language, request.seed,
                                          request.instruct)

        return asyncio.run(run())

    def test_generate_returns_mono_float32_in_range(
        self, synthesizer: Synthesizer, model_config: ModelConfig, voice: Voice
    ) -> None:
        audio, rate = self._generate(synthesizer, self.request(model_config, voice))
        problems = audio_problems(audio, rate, model_config.sample_rate)
        assert not problems, "generate's audio breaks the contract:\n- " + "\n- ".join(problems)

    def test_same_seed_same_audio(
        self, info: EngineInfo, synthesizer: Synthesizer, model_config: ModelConfig, voice: Voice
    ) -> None:
        if not info.capabilities.deterministic:
            pytest.skip(f"engine {self.engine!r} does not declare determinism")
        first, _ = self._generate(synthesizer, self.request(model_config, voice))
        second, _ = self._generate(synthesizer, self.request(model_config, voice))
        np.testing.assert_array_equal(first, second)

    def test_synthesize_end_to_end(
        self, synthesizer: Synthesizer, model_config: ModelConfig, voice: Voice
    ) -> None:
        result = asyncio.run(synthesizer.synthesize(self.request(model_config, voice)))
        assert result.sample_rate == model_config.sample_rate
        assert result.audio.size > 0 and np.isfinite(result.audio).all()

    # -- streaming (engines with Capabilities(streaming=True)) ---------------------------

    def _stream(self, synthesizer: Synthesizer, request: SynthesisRequest) -> tuple[list[np.ndarray], list[float], float]:
        """The chunks of a stream, when each arrived and when the stream ended (seconds from its start)."""
        import time

        async def run() -> tuple[list[np.ndarray], list[float], float]:
            await synthesizer.load(request.model)  # loading is not streaming
            started, chunks, times = time.perf_counter(), [], []
            async for audio, _rate in synthesizer.stream(request):
                chunks.append(audio)
                times.append(time.perf_counter() - started)
            return chunks, times, time.perf_counter() - started

        return asyncio.run(run())

    def test_streamed_chunks_keep_the_contract_and_come_early(
        self, info: EngineInfo, synthesizer: Synthesizer, model_config: ModelConfig, voice: Voice
    ) -> None:
        if not info.capabilities.streaming:
            pytest.skip(f"engine {self.engine!r} does not stream (Capabilities.streaming)")
        text = " ".join([self.text] * 3)
        chunks, times, total = self._stream(synthesizer, self.request(model_config, voice, text=text,
                                                                      normalize=False))
        assert len(chunks) >= 2, f"a text of three sentences streamed as {len(chunks)} chunk(s)"
        for chunk in chunks:
            problems = audio_problems(chunk, model_config.sample_rate, model_config.sample_rate)
            assert not problems, "a streamed chunk breaks the contract:\n- " + "\n- ".join(problems)
        assert times[0] < total, "the first chunk arrived only when the utterance was complete"

    def test_streamed_chunks_are_what_the_engine_yields(
        self, info: EngineInfo, synthesizer: Synthesizer, model_config: ModelConfig, voice: Voice
    ) -> None:
        if not (info.capabilities.streaming and info.capabilities.deterministic):
            pytest.skip(f"engine {self.engine!r} does not stream deterministically")
        request = self.request(model_config, voice, normalize=False)
        streamed, _, _ = self._stream(synthesizer, request)

        async def direct() -> list[np.ndarray]:
            plan = synthesizer.plan(request)
            prompt = await synthesizer.voice_prompt(plan)
            backend = synthesizer.registry.backend(plan.engine.name)
            return [np.asarray(c, dtype=np.float32) async for c in
                    backend.generate_stream(plan.chunks[0], prompt, plan.language, request.seed, request.instruct)]

        np.testing.assert_array_equal(np.concatenate(streamed), np.concatenate(asyncio.run(direct())))

    # -- word timestamps (engines with Capabilities(word_timestamps=True)) -------------------

    def test_word_times_are_in_order_inside_the_audio(
        self, info: EngineInfo, synthesizer: Synthesizer, model_config: ModelConfig, voice: Voice
    ) -> None:
        if not info.capabilities.word_timestamps:
            pytest.skip(f"engine {self.engine!r} gives no word times (Capabilities.word_timestamps)")
        text = " ".join([self.text] * 3)

        async def run() -> tuple[list[np.ndarray], list[Any]]:
            chunks, words = [], []
            async for audio, _rate, chunk_words in synthesizer.stream_timed(self.request(model_config, voice, text=text)):
                chunks.append(audio)
                words.append(chunk_words)
            return chunks, words

        chunks, per_chunk = asyncio.run(run())
        if all(w is None for w in per_chunk):
            pytest.skip(f"engine {self.engine!r} has no alignment in {self.language or 'its language'}")
        assert None not in per_chunk, "some chunks of one utterance came with words, some without"
        words = [w for chunk_words in per_chunk for w in chunk_words]
        duration = sum(map(len, chunks)) / model_config.sample_rate
        assert words, "no word times for three sentences"
        for word in words:
            assert word.word.strip() and word.word in text, f"{word.word!r} is not a word of the text"
            assert 0 <= word.start <= word.end <= duration + 1e-3, f"{word} lies outside {duration:.3f} s of audio"
        starts = [w.start for w in words]
        assert starts == sorted(starts), "word times are out of order"
        whole = asyncio.run(synthesizer.synthesize(self.request(model_config, voice, text=text), timestamps=True))
        assert whole.words is not None and len(whole.words) == len(words)
        assert whole.words[-1].end <= whole.duration + 1e-3

    def test_voice_prompt_cache_keys_carry_engine_prefix(
        self, info: EngineInfo, registry: Registry, voicebox_reference_clip: tuple[Path, str]
    ) -> None:
        if "cloned" not in info.voice_kinds:
            pytest.skip("engine has no cloned voices, so no voice-prompt cache")
        before = set(prompt_cache.keys())
        path, text = voicebox_reference_clip
        backend = registry.backend(self.engine)
        asyncio.run(backend.load_model(registry.engine(self.engine).default_model.model_size))
        asyncio.run(backend.create_voice_prompt(str(path), text, True))
        _, cached = asyncio.run(backend.create_voice_prompt(str(path), text, True))
        added = set(prompt_cache.keys()) - before
        if not added and not cached:
            pytest.skip("engine does not cache voice prompts")
        assert all(key.startswith(f"{self.engine}_") for key in added), added

    # -- bad input -----------------------------------------------------------------------

    @pytest.mark.parametrize("text", ["", "   ", "?!... —"])
    def test_empty_text_is_rejected(
        self, synthesizer: Synthesizer, model_config: ModelConfig, voice: Voice, text: str
    ) -> None:
        with pytest.raises(EmptyTextError):
            synthesizer.plan(self.request(model_config, voice, text=text))

    def test_unknown_language_is_rejected(
        self, synthesizer: Synthesizer, model_config: ModelConfig, voice: Voice
    ) -> None:
        with pytest.raises(UnsupportedLanguageError):
            synthesizer.plan(self.request(model_config, voice, language="xx"))

    def test_missing_reference_file_is_rejected(
        self, info: EngineInfo, synthesizer: Synthesizer, model_config: ModelConfig, tmp_path: Path
    ) -> None:
        if "cloned" not in info.voice_kinds:
            pytest.skip("engine has no cloned voices")
        voice = Voice.clone([(str(tmp_path / "missing.wav"), "hello")])
        with pytest.raises(ReferenceAudioError):
            synthesizer.plan(self.request(model_config, voice))

    def test_unknown_preset_voice_is_rejected(
        self, info: EngineInfo, synthesizer: Synthesizer, model_config: ModelConfig
    ) -> None:
        if "preset" not in info.voice_kinds:
            pytest.skip("engine has no preset voices")
        with pytest.raises(UnknownVoiceError):
            synthesizer.plan(self.request(model_config, Voice.preset("no-such-voice")))
