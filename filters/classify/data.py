"""Training rows for the fastText classifiers: reading, chunking, held-out splits.

Kept apart from the trainer so that the model-building script, the evaluation
benchmark and the ``train-classifier`` CLI read files, cut long documents and
choose held-out rows in exactly the same way:

* :func:`read_records` reads JSONL (plain, ``.gz``, ``.zst``) or Parquet.
* :func:`text_chunks` cuts a long document at line breaks into pieces of about
  ``chunk_chars``; the ``classify`` stage uses the same function at inference, so
  a model is trained on pieces of the size it will score.
* :func:`is_holdout` decides held-out membership from a hash of a key (a row id or
  a file path), never from position, so the split is stable when files grow and a
  file's chunks never straddle train and evaluation.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence


@dataclass
class LabeledText:
    """One training or evaluation example."""

    text: str
    positive: bool
    group: str  # where it came from, e.g. "dev:math_pos_en" or "code:rust"
    lang: str = "en"
    key: str = ""  # the hash key of the split (row id or file path)
    meta: dict = field(default_factory=dict)


def _open_text(path: Path) -> io.TextIOBase:
    name = path.name
    if name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    if name.endswith(".zst"):
        import zstandard

        return io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(path.open("rb")), encoding="utf-8")
    return path.open(encoding="utf-8")


def read_records(path: str | Path, text_field: str = "text") -> list[dict]:
    """All records of a JSONL(.gz/.zst) or Parquet file that have a non-empty ``text_field``.

    Each record is returned whole (so ids, languages and licenses can be carried
    into model cards); a record whose text field is missing or blank is skipped.
    """
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        rows = []
        with _open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: not JSON: {exc}") from None
    return [r for r in rows if isinstance(r.get(text_field), str) and r[text_field].strip()]


def split_key_hash(key: str, salt: str = "taosha-classify") -> int:
    """A stable 0..9999 bucket for ``key``."""
    digest = hashlib.blake2b(f"{salt}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000


def is_holdout(key: str, fraction: float, salt: str = "taosha-classify") -> bool:
    """True if ``key`` falls in the held-out ``fraction`` (by hash, not position)."""
    return split_key_hash(key, salt) < int(round(fraction * 10_000))


def text_chunks(text: str, chunk_chars: int, max_chunks: int = 0) -> list[str]:
    """Cut ``text`` at line breaks into pieces of about ``chunk_chars`` characters.

    A single line longer than ``chunk_chars`` is cut hard. With ``max_chunks`` > 0
    and more pieces than that, ``max_chunks`` pieces spread evenly over the document
    are returned (start, middle, end), so a long page is still sampled everywhere.
    A text that fits is returned as one piece.
    """
    if len(text) <= chunk_chars:
        return [text]
    pieces: list[str] = []
    start, n = 0, len(text)
    while start < n:
        end = min(start + chunk_chars, n)
        if end < n:
            cut = text.rfind("\n", start + chunk_chars // 2, end)
            if cut > start:
                end = cut + 1
        piece = text[start:end]
        if piece.strip():
            pieces.append(piece)
        start = end
    if max_chunks > 0 and len(pieces) > max_chunks:
        if max_chunks == 1:
            return pieces[:1]
        step = (len(pieces) - 1) / (max_chunks - 1)
        pieces = [pieces[round(i * step)] for i in range(max_chunks)]
    return pieces


def chunk_examples(examples: Sequence[LabeledText], chunk_chars: int, max_chunks: int) -> Iterator[LabeledText]:
    """Each example cut with :func:`text_chunks`; chunks inherit label, group and key."""
    for ex in examples:
        for piece in text_chunks(ex.text, chunk_chars, max_chunks):
            yield LabeledText(piece, ex.positive, ex.group, ex.lang, ex.key, ex.meta)


def label_line(label: str, tokens: str) -> str:
    """One line of a fastText supervised training file."""
    return f"__label__{label} {tokens}\n"
