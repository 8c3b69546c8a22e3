"""Piper's word timestamps: the voice graph with its alignment output, and words found in phonemes.

Piper's VITS graph predicts each phoneme's duration; piper exposes them
(``include_alignments``) once the graph has an extra output, which
``piper.patch_voice_with_alignment`` adds with the ``onnx`` package. :func:`aligned_copy`
makes that patched copy once per voice file and keeps it under the data dir's cache; without
``onnx`` the engine still speaks and says it has no timestamps. ``onnx`` is imported only
there, when a voice is loaded: the backend's metadata never needs it.

Words are found in those phonemes by aligning each written word's own phonemes (espeak-ng,
the word alone) with the sentence's (:func:`word_phonemes`); a word espeak-ng reads as nothing
(a lone dash) has no time. :meth:`Owners.words_of` turns a sentence's phoneme durations into
its words' :class:`~voicebox_core.timing.WordTime`.

Kept apart from ``backend.py`` so that the backend reads as the TTSBackend flow.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voicebox_core.runtime import data_dir
from voicebox_core.runtime.files import atomic_file
from voicebox_core.timing import WordTime

if TYPE_CHECKING:
    from piper import PiperVoice

__all__ = ["Owners", "aligned_copy", "word_phonemes"]

# The backend's logger: these messages keep the name they were always logged under.
_LOG = logging.getLogger("voicebox_engine_piper.backend")


def aligned_copy(model_path: Path) -> Path:
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
        # Whole or not at all, for a second process; onnx.save(model, handle) would fail here
        # (it takes the handle's name, an fd, for a path) and cost the voice its timestamps.
        with atomic_file(target) as handle:
            handle.write(model.SerializeToString())
    except Exception as exc:  # noqa: BLE001 - already patched, an unusual or corrupt graph, a full disk:
        # the voice still speaks (and a corrupt one fails to load with the backend's typed error)
        _LOG.info("piper: %s keeps its own graph, without word timestamps (%s)", model_path.name, exc)
        return model_path
    return target


#: Phoneme symbols that are not sounds: stress, length, word gaps, punctuation.
_STRESS = set("ˈˌ")
_NOT_SOUNDS = set("ˈˌːˑ ") | set(".,;:!?¡¿—…\"'«»“”()-")


@dataclasses.dataclass
class Owners:
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


def word_phonemes(voice: PiperVoice, text: str) -> Owners:
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
    return Owners(words, owner)
