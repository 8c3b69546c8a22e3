"""Text helpers: what counts as speakable, and long-text chunking."""

from __future__ import annotations

import re

__all__ = ["complete_sentences", "has_speakable_text", "script_turns", "split_for_streaming", "split_script", "split_text_into_chunks"]

_WORDLIKE = re.compile(r"\w", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")
_CLAUSE_END = re.compile(r"(?<=[,;:，；：、—])\s*")
_CJK_STOPS = "。！？，；：、"
_TAG = re.compile(r"\[[^\]\s]{1,32}\]")


def has_speakable_text(text: str) -> bool:
    """True when the text holds at least one letter or digit in any script."""
    return bool(_WORDLIKE.search(_TAG.sub("", text)))


#: A sentence is complete once its end mark is followed by white space (more text coming).
_COMPLETE_SENTENCE = re.compile(r".+?(?:[.!?…]+[\"')\]]*\s+|[。！？]+)", re.DOTALL)


def complete_sentences(text: str) -> tuple[list[str], str]:
    """Text as it is written (an LLM's tokens, a streaming protocol's pieces): the sentences
    that are complete so far (stripped, empty ones dropped) and the rest, still being written."""
    done: list[str] = []
    while (match := _COMPLETE_SENTENCE.match(text)) is not None:
        if sentence := match.group(0).strip():
            done.append(sentence)
        text = text[match.end():]
    return done, text


def _pieces(text: str, splitter: re.Pattern[str]) -> list[str]:
    return [p for p in splitter.split(text) if p and p.strip()]


def _split_words(piece: str, max_chars: int) -> list[str]:
    """Split on spaces (CJK without spaces: by characters), keeping ``[tags]`` whole."""
    tokens = re.findall(r"\[[^\]]*\]\S*|\S+\s*", piece) if " " in piece.strip() else list(piece)
    out, current = [], ""
    for token in tokens:
        while len(token) > max_chars:  # a single unbroken run longer than a chunk
            if current:
                out.append(current)
                current = ""
            out.append(token[:max_chars])
            token = token[max_chars:]
        if len(current) + len(token) > max_chars and current:
            out.append(current)
            current = ""
        current += token
    if current.strip():
        out.append(current)
    return out


def split_text_into_chunks(text: str, max_chars: int = 800) -> list[str]:
    """Split text at sentence, then clause, then word boundaries into chunks of <= max_chars.

    Nothing is dropped: joining the chunks with spaces gives the text back, whitespace aside.
    """
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return [text] if text else []
    chunks: list[str] = []
    current = ""
    for sentence in _pieces(text, _SENTENCE_END):
        parts = [sentence]
        if len(sentence) > max_chars:
            parts = []
            for clause in _pieces(sentence, _CLAUSE_END):
                parts.extend(_split_words(clause, max_chars) if len(clause) > max_chars else [clause])
        for part in parts:
            part = part.strip()
            glue = "" if current[-1:] in _CJK_STOPS else " "
            candidate = f"{current}{glue}{part}".strip()
            if len(candidate) <= max_chars:
                current = candidate
            else:
                if current:
                    chunks.append(current)
                current = part
    if current:
        chunks.append(current)
    return chunks


def split_for_streaming(text: str, max_chars: int, first_chars: int | None = None) -> list[str]:
    """Chunks for audio that leaves as it is made: the first sentence alone (split further
    only if it is longer than ``first_chars``, default ``max_chars``), so the first audio is
    ready as early as the engine allows, then chunks of up to ``max_chars``."""
    text = " ".join(text.split())
    sentences = _pieces(text, _SENTENCE_END)
    if len(sentences) <= 1:
        return split_text_into_chunks(text, min(max_chars, first_chars or max_chars))
    first = split_text_into_chunks(sentences[0], min(max_chars, first_chars or max_chars))
    rest = text[text.index(sentences[0]) + len(sentences[0]):].strip()
    return first + split_text_into_chunks(rest, max_chars)


#: A turn of a dialogue script: a line that starts with ``Speaker N:`` (N from 1).
SPEAKER_LABEL = re.compile(r"^[ \t]*Speaker[ \t]+(\d+)[ \t]*:[ \t]*", re.IGNORECASE | re.MULTILINE)


def script_turns(text: str) -> list[tuple[int, str]]:
    """``(speaker number, text)`` of each turn; text before the first label is speaker 1's,
    a line without a label continues the turn above it."""
    turns: list[tuple[int, str]] = []
    marks = list(SPEAKER_LABEL.finditer(text))
    head = text[: marks[0].start()] if marks else text
    if head.strip():
        turns.append((1, " ".join(head.split())))
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(text)
        body = " ".join(text[mark.end():end].split())
        if body:
            turns.append((int(mark.group(1)), body))
    return turns


def split_script(text: str, max_chars: int) -> list[str]:
    """A dialogue script in chunks of whole turns (each keeps its ``Speaker N:`` label), none
    longer than ``max_chars`` unless one turn is: that turn is split at sentence boundaries
    and every piece is labelled again."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for speaker, body in script_turns(text):
        label = f"Speaker {speaker}: "
        for piece in split_text_into_chunks(body, max(20, max_chars - len(label))):
            line = label + piece
            if current and size + len(line) + 1 > max_chars:
                chunks.append("\n".join(current))
                current, size = [], 0
            current.append(line)
            size += len(line) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks
