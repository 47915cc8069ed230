"""The ``classify`` stage: fastText math and code classifiers give every document a
``math_score`` and a ``code_score`` in [0, 1] and a ``domain``.

Pipeline per batch (only rows not yet dropped are scored; dropped rows get nulls):

1. a vectorized prefilter (:mod:`filters.classify.prefilter`, Arrow regex counts)
   decides which documents can be math and which can be code at all; the others get
   a score of 0 and are never tokenized (most of a crawl, and the cheap half of the
   cascade);
2. each remaining text is cut into the pieces that are scored (``long_docs``):
   ``share`` (default) cuts it at line breaks into pieces of about ``chunk_chars``
   (at most ``max_chunks``, 8 by default, spread over the document: a bounded sample,
   so a 400 KB file costs what 16 KB do; 4 reads less of long pages, about 20-25% faster
   on the held-out mix, with a coarser share) and the document's score is
   the length-weighted mean of its pieces' scores, i.e. how much of the document is
   math or code: one formula in a news page does not make a math page, and a
   tutorial whose pieces are code with prose between is code; ``chunks`` takes the
   maximum over the pieces instead (a long page with one listing counts); ``crop``
   scores one sampled crop of ``chunk_chars`` characters; ``head`` the first
   ``chunk_chars`` characters;
3. the pieces go through :func:`filters.classify.tokens.tokenize_many`, the same
   function the trainer used (vectorized over the batch), once for both models, as the
   UTF-8 bytes fastText reads (no Python string per line). With the compiled predictor the
   pieces are byte ranges of the Arrow texts (:mod:`filters.classify.piece_kernel`, the
   same pieces and lines, tested), so no document becomes a Python string either;
4. one ``predict`` call per model over its gated pieces, read in place (``predictor``: taosha's compiled
   kernel, :mod:`filters.fasttext_infer`, by default: fastText's answers to the bit, ~1.7x
   faster; or the fastText library); the document score
   is mapped through the calibration stored in the model's card
   (:mod:`filters.classify.calibrate`), so a score is P(math) at an equal prior;
5. ``domain`` is the domain whose score clears its threshold (the larger margin
   when both do), else ``general``; documents whose domain is not in
   ``keep_domains`` are dropped with ``classify:<domain>``. Thresholds default to
   the ones the model card recommends (chosen for a target precision at a 1% base
   rate on calibration rows), else 0.5.

Scores are kept for every scored row, so thresholds can be re-cut without a rerun.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Sequence

import json

import numpy as np
import pyarrow as pa

from filters.classify.calibrate import apply_calibration
from filters.classify.data import text_chunks
from filters.classify.prefilter import gates
from filters.classify.piece_kernel import piece_ranges, space_table
from filters.classify.tokens import tokenize_many, tokenize_many_binary, tokenize_pieces_binary
from filters.signals.script_detect import utf8_buffers
from pipeline.active_rows import ActiveRows
from pipeline.stage import stage_reason

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
DEFAULT_MATH_MODEL = str(MODELS_DIR / "math_classifier.bin")
DEFAULT_CODE_MODEL = str(MODELS_DIR / "code_classifier.bin")
DOMAINS = ("math", "code", "general")
PREFILTER_CHARS = 16_000  # the gates read at least this much of each document's head


def positive_probability(model, lines: Sequence[str] | Sequence[bytes], label: str) -> np.ndarray:
    """P(``label``) for each tokenized line, from one batched fastText predict call.

    ``lines`` are ``str`` lines, or the bytes of :func:`tokenize_many` with ``encoded=True``
    (UTF-8, each ending in a newline: exactly what fastText's ``predict`` makes of a ``str``
    line), which go to fastText's batch predict as they are, without its per-line check and
    copy or a UTF-8 encoding per line.

    The shipped models are binary (``__label__<label>`` vs ``__label__other``); the
    probability of the positive label is the top probability when it wins and one
    minus it otherwise.
    """
    if not len(lines):
        return np.zeros(0, dtype=np.float32)
    if isinstance(lines[0], bytes):
        labels, probs = model.f.multilinePredict(list(lines), 1, 0.0, "strict")
    else:
        labels, probs = model.predict(list(lines), k=1)
    target = f"__label__{label}"
    top = np.fromiter((p[0] if len(p) else 0.0 for p in probs), dtype=np.float64, count=len(lines))
    is_pos = np.fromiter((bool(ls) and ls[0] == target for ls in labels), dtype=bool, count=len(lines))
    return _positive(top, is_pos)


def _positive(top: np.ndarray, is_pos: np.ndarray) -> np.ndarray:
    """P(positive) from the top label's probability: itself where the positive label won,
    one minus it otherwise (binary models)."""
    return np.clip(np.where(is_pos, top, 1.0 - top), 0.0, 1.0).astype(np.float32)


def positive_probability_compiled(predictor, lines: pa.Array, label: str, rows: np.ndarray | None = None) -> np.ndarray:
    """:func:`positive_probability` from a
    :class:`~filters.fasttext_infer.predictor.CompiledPredictor` over the same line bytes
    (an Arrow binary array; ``rows``: only those lines, read in place): the same top label
    and float32 probability as fastText's, so the same values to the bit."""
    if not len(lines) or (rows is not None and not len(rows)):
        return np.zeros(0, dtype=np.float32)
    idx, prob = predictor.top(lines, rows=rows)
    target = f"__label__{label}"
    target_idx = predictor.labels.index(target) if target in predictor.labels else -2  # -1: no label
    return _positive(np.where(idx >= 0, prob.astype(np.float64), 0.0), idx == target_idx)


def sampled_crop(text: str, chars: int, windows: int = 3) -> str:
    """``chars`` characters of ``text``: ``windows`` equal windows spread from start to end.

    Deterministic (the same text gives the same crop on every worker), and a page whose
    math or code sits after a long header still shows some of it to the model.
    """
    if len(text) <= chars:
        return text
    width = chars // windows
    step = (len(text) - width) / (windows - 1) if windows > 1 else 0
    return "\n".join(text[round(i * step): round(i * step) + width] for i in range(windows))


def document_pieces(texts: Sequence[str], mode: str, chunk_chars: int, max_chunks: int) -> tuple[list[str], np.ndarray]:
    """The pieces to score and, for each document, the index of its first piece.

    ``offsets`` has ``len(texts) + 1`` entries; document ``i`` owns pieces
    ``offsets[i]:offsets[i+1]`` (always at least one, possibly empty text).
    """
    pieces: list[str] = []
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    for i, text in enumerate(texts):
        if len(text) <= chunk_chars or mode == "head":
            pieces.append(text[:chunk_chars])
        elif mode == "crop":
            pieces.append(sampled_crop(text, chunk_chars))
        else:
            pieces.extend(text_chunks(text, chunk_chars, max_chunks))
        offsets[i + 1] = len(pieces)
    return pieces, offsets


def max_per_document(piece_scores: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Maximum piece score per document (every document has >= 1 piece)."""
    if len(offsets) <= 1:
        return np.zeros(0, dtype=np.float32)
    return np.maximum.reduceat(piece_scores, offsets[:-1]).astype(np.float32)


def share_per_document(piece_scores: np.ndarray, piece_lengths: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Length-weighted mean piece score per document: how much of it is math (or code)."""
    if len(offsets) <= 1:
        return np.zeros(0, dtype=np.float32)
    w = np.maximum(piece_lengths, 1).astype(np.float64)
    num = np.add.reduceat(piece_scores * w, offsets[:-1])
    return (num / np.add.reduceat(w, offsets[:-1])).astype(np.float32)


def load_card(model_path: str) -> dict:
    """The model card beside a model (``.json``), or {} for a model without one."""
    path = Path(model_path).with_suffix(".json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def assign_domain(math_score: np.ndarray, code_score: np.ndarray, math_threshold: float,
                  code_threshold: float) -> np.ndarray:
    """``math``/``code``/``general`` per document; when both clear, the larger margin wins."""
    math_margin = math_score - math_threshold
    code_margin = code_score - code_threshold
    is_math = (math_margin >= 0) & ((code_margin < 0) | (math_margin >= code_margin))
    is_code = (code_margin >= 0) & ~is_math
    return np.where(is_math, "math", np.where(is_code, "code", "general"))


@dataclass
class ClassifyStage:
    """Score math/code likelihood with the shipped (or your own) fastText models."""

    name: ClassVar[str] = "classify"

    math_model: str = field(default=DEFAULT_MATH_MODEL, metadata={"path": True, "model": "fasttext", "help": "fastText math model (.ftz/.bin)"})
    code_model: str = field(default=DEFAULT_CODE_MODEL, metadata={"path": True, "model": "fasttext", "help": "fastText code model (.ftz/.bin)"})
    math_label: str = "math"  # positive label inside the math model
    code_label: str = "code"  # positive label inside the code model
    math_threshold: float | None = None  # math_score >= this -> domain math (None: the card's, else 0.5)
    code_threshold: float | None = None  # code_score >= this -> domain code (None: the card's, else 0.5)
    keep_domains: list[str] = field(default_factory=lambda: ["math", "code"])  # add "general" to keep prose
    long_docs: Literal["share", "chunks", "crop", "head"] = "share"  # mean | max over pieces | one crop | the head
    prefilter: bool = True  # score only documents with math/code signals (others get 0)
    chunk_chars: int = 2000  # piece size (and crop/head size)
    max_chunks: int = 8  # pieces scored per document at most (spread over it)
    predictor: Literal["compiled", "fasttext"] = field(
        default="compiled",
        metadata={"help": "compiled: taosha's kernel (filters.fasttext_infer), fastText's answers ~1.7x faster; fasttext: the library"},
    )

    def __post_init__(self) -> None:
        if self.predictor not in ("compiled", "fasttext"):
            raise ValueError(f"predictor: {self.predictor!r}; known: compiled, fasttext")
        unknown = [d for d in self.keep_domains if d not in DOMAINS]
        if unknown:
            raise ValueError(f"keep_domains: unknown domain {unknown[0]!r}; known: {', '.join(DOMAINS)}")
        if self.chunk_chars < 1 or self.max_chunks < 1:
            raise ValueError("chunk_chars and max_chunks must be >= 1")
        self._models: tuple | None = None
        self._compiled: tuple | None = None
        self._cards = (load_card(self.math_model), load_card(self.code_model))
        if self.math_threshold is None:
            self.math_threshold = float(self._cards[0].get("recommended_threshold", 0.5))
        if self.code_threshold is None:
            self.code_threshold = float(self._cards[1].get("recommended_threshold", 0.5))

    def setup(self) -> None:
        if self._models is not None or self._compiled is not None:
            return
        if self.predictor == "compiled":
            from filters.fasttext_infer.predictor import load_or_none

            self._compiled = load_or_none([self.math_model, self.code_model], self.name)
        if self._compiled is None:
            import fasttext

            fasttext.FastText.eprint = lambda *a, **k: None  # silence the load_model warning
            self._models = (fasttext.load_model(self.math_model), fasttext.load_model(self.code_model))
        tokenize_many(["x"], encoded=True)  # load (or compile, once per cache) the tokenizer kernels before the first batch
        if self._compiled is not None:
            self.raw_scores(pa.array(["x = 1;\n" * 3], pa.large_string()))

    def __getstate__(self) -> dict:
        """Pickle the config only (Ray ships stages to workers); models reload in setup()."""
        state = dict(self.__dict__)
        state["_models"] = None
        state["_compiled"] = None
        return state

    def raw_scores(self, texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """Uncalibrated (math, code) document scores; 0 where the prefilter's gate is closed.

        ``texts`` may be an Arrow string array: the gates then run on it directly and only
        the documents they open are converted to Python strings.
        """
        self.setup()
        n = len(texts)
        if self.prefilter:
            g = gates(texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else list(texts),
                      max_chars=max(PREFILTER_CHARS, self.chunk_chars * self.max_chunks))
            math_gate, code_gate = g.math, g.code
        else:
            math_gate = code_gate = np.ones(n, dtype=bool)
        cand = np.flatnonzero(math_gate | code_gate)
        compiled = self._compiled is not None
        if compiled and self.long_docs != "crop":  # pieces as byte ranges: no Python string per piece
            arr = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(list(texts), pa.large_string())
            data, text_offsets = utf8_buffers(arr)
            starts, ends, lengths, offsets = piece_ranges(data, text_offsets, cand, self.chunk_chars, self.max_chunks,
                                                          self.long_docs == "head", space_table())
            lines = tokenize_pieces_binary(data, starts, ends)
        else:
            if isinstance(texts, (pa.Array, pa.ChunkedArray)):
                cand_texts = texts.take(pa.array(cand, pa.int64())).to_pylist() if len(cand) else []
            else:
                cand_texts = [texts[i] for i in cand]
            pieces, offsets = document_pieces(cand_texts, self.long_docs, self.chunk_chars, self.max_chunks)
            lines = tokenize_many_binary(pieces) if compiled else tokenize_many(pieces, encoded=True)
            lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        out = []
        piece_doc = np.repeat(cand, np.diff(offsets))
        predictors = self._compiled if compiled else self._models
        for model, label, gate in ((predictors[0], self.math_label, math_gate),  # type: ignore[index]
                                   (predictors[1], self.code_label, code_gate)):  # type: ignore[index]
            sel = np.flatnonzero(gate[piece_doc]) if len(lines) else np.zeros(0, dtype=np.int64)
            piece_scores = np.zeros(len(lines), dtype=np.float64)
            if compiled:
                piece_scores[sel] = positive_probability_compiled(model, lines, label,
                                                                  None if len(sel) == len(lines) else sel)
            else:
                piece_scores[sel] = positive_probability(model, [lines[i] for i in sel], label)
            if self.long_docs == "share":
                doc = share_per_document(piece_scores, lengths, offsets)
            else:
                doc = max_per_document(piece_scores.astype(np.float32), offsets)
            full = np.zeros(n, dtype=np.float32)
            full[cand] = doc
            full[~gate] = 0.0
            out.append(full)
        return out[0], out[1]

    def score(self, texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated (math_score, code_score) per text: the stage's scoring without the table plumbing."""
        raw_math, raw_code = self.raw_scores(texts)
        math_s = apply_calibration(raw_math, self._cards[0].get("calibration"))
        code_s = apply_calibration(raw_code, self._cards[1].get("calibration"))
        if self.prefilter:  # a closed gate means "no signal at all": exactly 0, below any threshold
            math_s[raw_math == 0] = 0.0
            code_s[raw_code == 0] = 0.0
        return math_s, code_s

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = ActiveRows.of(batch)
        math_s, code_s = self.score(rows.column("text"))
        domain = assign_domain(math_s, code_s, self.math_threshold, self.code_threshold)
        unwanted = ~np.isin(domain, self.keep_domains)
        return rows.scatter(batch, {
            "math_score": (math_s, pa.float32()),
            "code_score": (code_s, pa.float32()),
            "domain": (domain, pa.string()),
        }, reasons={stage_reason(self.name, d): unwanted & (domain == d) for d in DOMAINS})
