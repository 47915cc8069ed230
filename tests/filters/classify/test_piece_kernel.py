"""Pieces as byte ranges (``piece_kernel``) against ``document_pieces`` + ``tokenize_many_binary``."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pytest

from filters.classify.piece_kernel import piece_ranges, space_table
from filters.classify.stage import ClassifyStage, document_pieces
from filters.classify.tokens import tokenize_many_binary, tokenize_pieces_binary
from filters.signals.script_detect import utf8_buffers

# line breaks where the cut looks for them, all-space windows (dropped), every kind of
# space str.isspace knows, characters of 1-4 UTF-8 bytes, the batch separator
ALPHABET = (list("ab \n\n\n\t\r{};=x1") + ["\u3000", "\u00a0", "\x1c", "\x85", "\u2028", "中", "é", "\U0001F600",
                                           "\ufdd3", "  \n  \n"])


def _texts(rng: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        n = rng.choice([0, 3, 20, 60, 200, 700])
        out.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, n))))
    out += [" " * 90, "\n" * 90, "中" * 90, "x" * 89 + "\n", "\n" + "y" * 95]  # whitespace-only long texts: no piece
    return out


def _python(texts: list[str], mode: str, chunk_chars: int, max_chunks: int):
    pieces, offsets = document_pieces(texts, mode, chunk_chars, max_chunks)
    lengths = [len(p) for p in pieces]
    return pieces, offsets, lengths, tokenize_many_binary(pieces)


@pytest.mark.parametrize("mode", ["share", "chunks", "head"])
@pytest.mark.parametrize("chunk_chars,max_chunks", [(16, 3), (16, 0), (40, 1), (7, 2), (1, 4), (33, 5)])
def test_pieces_and_lines_equal_the_python_path(mode, chunk_chars, max_chunks):
    texts = _texts(random.Random(chunk_chars * 31 + max_chunks), 600)
    pieces, offsets, lengths, lines = _python(texts, mode, chunk_chars, max_chunks)
    data, text_offsets = utf8_buffers(pa.array(texts, pa.large_string()))
    docs = np.arange(len(texts), dtype=np.int64)
    starts, ends, got_lengths, got_offsets = piece_ranges(data, text_offsets, docs, chunk_chars, max_chunks,
                                                          mode == "head", space_table())
    assert got_offsets.tolist() == offsets.tolist()
    some = docs[1::3]  # a subset, read in place
    sub = piece_ranges(data, text_offsets, some, chunk_chars, max_chunks, mode == "head", space_table())
    assert [bytes(data[s:e]).decode() for s, e in zip(sub[0], sub[1])] == document_pieces(
        [texts[i] for i in some], mode, chunk_chars, max_chunks)[0]
    assert got_offsets.tolist() == offsets.tolist()
    assert [bytes(data[s:e]).decode() for s, e in zip(starts, ends)] == pieces
    assert got_lengths.tolist() == lengths
    assert tokenize_pieces_binary(data, starts, ends).to_pylist() == lines.to_pylist()


def test_lines_made_piece_by_piece_equal_the_joined_batch(dev_data):
    """tokenize_pieces tokenizes each piece alone: the same lines as one joined batch,
    also for symbol runs that double in size (the output buffer grows)."""
    texts = [json.loads(line)["text"] for path in sorted(dev_data.glob("*.jsonl")) for line in path.open(encoding="utf-8")]
    texts = [t for t in texts if isinstance(t, str)] + ["{};=" * 500, "", "\ufdd3", "1\ufdd32345", "x\\\ufdd3frac"]
    data, offsets = utf8_buffers(pa.array(texts, pa.large_string()))
    starts, ends = offsets[:-1].copy(), offsets[1:].copy()
    assert tokenize_pieces_binary(data, starts, ends).to_pylist() == tokenize_many_binary(texts).to_pylist()
    assert tokenize_pieces_binary(data, starts[::-1].copy(), ends[::-1].copy()).to_pylist() == \
        tokenize_many_binary(texts[::-1]).to_pylist()
    assert tokenize_pieces_binary(data, starts[:0], ends[:0]).to_pylist() == []


def test_spread_picks_round_half_to_even():
    """Ten pieces, four kept: step 3.0; nine pieces, five kept: step 2.0; 2.5 rounds to 2."""
    for count, keep in [(10, 4), (9, 5), (6, 3), (11, 5), (7, 4)]:
        text = "".join(f"{i:03d}\n" for i in range(count))  # 4-char lines, chunk 4: one piece per line
        data, offsets = utf8_buffers(pa.array([text], pa.large_string()))
        starts, ends, _, _ = piece_ranges(data, offsets, np.zeros(1, np.int64), 4, keep, False, space_table())
        step = (count - 1) / (keep - 1)
        assert [int(bytes(data[s:e])[:3]) for s, e in zip(starts, ends)] == [round(i * step) for i in range(keep)]


def test_the_stage_scores_the_same_on_both_paths(dev_data):
    """The compiled predictor reads the byte-range pieces; the fastText library path still
    cuts Python strings with document_pieces: same scores, to the bit, in every mode."""
    texts = [json.loads(line)["text"] for path in sorted(dev_data.glob("*.jsonl")) for line in path.open(encoding="utf-8")]
    texts = pa.array([t for t in texts if isinstance(t, str)], pa.large_string())
    for mode in ("share", "chunks", "head"):
        pieces, offsets = document_pieces(texts.to_pylist(), mode, 300, 4)
        assert np.diff(offsets).sum() > len(texts) or mode == "head"  # documents are cut
        fast = ClassifyStage(long_docs=mode, chunk_chars=300, max_chunks=4).raw_scores(texts)
        slow = ClassifyStage(long_docs=mode, chunk_chars=300, max_chunks=4, predictor="fasttext").raw_scores(texts)
        assert (fast[0] > 0).sum() > 100 and (fast[1] > 0).sum() > 100
        assert np.array_equal(fast[0], slow[0]) and np.array_equal(fast[1], slow[1])
