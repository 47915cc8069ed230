"""The ``classify`` stage: fastText math and code classifiers give every document a
``math_score`` and a ``code_score`` in [0, 1] and a ``domain``.

Pipeline per batch (only rows not yet dropped are scored; dropped rows get nulls):

1. each text is cut into the pieces that are scored (``long_docs``): ``chunks`` cuts
   the text at line breaks into pieces of about ``chunk_chars`` (at most
   ``max_chunks``, spread over the document) and a document's score is the maximum
   over its pieces, so a long page with one worked solution or one code listing is
   still found; ``crop`` scores one sampled crop of ``chunk_chars`` characters (three
   windows: start, middle, end; one predict per document, the cheapest); ``head``
   scores the first ``chunk_chars`` characters only;
2. every piece goes through :func:`filters.classify.tokens.classifier_tokens`, the
   same function the trainer used (jieba for Chinese, lowercased Latin tokens);
3. one fastText ``predict`` call per model over the whole list of pieces;
4. ``domain`` is the domain whose score clears its threshold (the higher score when
   both do), else ``general``; documents whose domain is not in ``keep_domains``
   are dropped with ``classify:<domain>`` (``classify:general`` for prose).

Scores are kept for every scored row, so thresholds can be re-cut without a rerun.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Sequence

import numpy as np
import pyarrow as pa

from filters.classify.data import text_chunks
from filters.classify.tokens import tokenize_many
from pipeline.schema import active_mask, drop_rows, set_column

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
DEFAULT_MATH_MODEL = str(MODELS_DIR / "math_classifier.ftz")
DEFAULT_CODE_MODEL = str(MODELS_DIR / "code_classifier.ftz")
DOMAINS = ("math", "code", "general")


def positive_probability(model, lines: Sequence[str], label: str) -> np.ndarray:
    """P(``label``) for each tokenized line, from one batched fastText predict call.

    The shipped models are binary (``__label__<label>`` vs ``__label__other``); the
    probability of the positive label is the top probability when it wins and one
    minus it otherwise.
    """
    if not lines:
        return np.zeros(0, dtype=np.float32)
    labels, probs = model.predict(list(lines), k=1)
    target = f"__label__{label}"
    top = np.fromiter((p[0] if len(p) else 0.0 for p in probs), dtype=np.float64, count=len(lines))
    is_pos = np.fromiter((bool(ls) and ls[0] == target for ls in labels), dtype=bool, count=len(lines))
    return np.clip(np.where(is_pos, top, 1.0 - top), 0.0, 1.0).astype(np.float32)


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

    math_model: str = field(default=DEFAULT_MATH_MODEL, metadata={"path": True, "help": "fastText math model (.ftz/.bin)"})
    code_model: str = field(default=DEFAULT_CODE_MODEL, metadata={"path": True, "help": "fastText code model (.ftz/.bin)"})
    math_label: str = "math"  # positive label inside the math model
    code_label: str = "code"  # positive label inside the code model
    math_threshold: float = 0.5  # math_score >= this -> domain math
    code_threshold: float = 0.5  # code_score >= this -> domain code
    keep_domains: list[str] = field(default_factory=lambda: ["math", "code"])  # add "general" to keep prose
    long_docs: Literal["chunks", "crop", "head"] = "chunks"  # max over pieces | one sampled crop | the head
    chunk_chars: int = 2000  # piece size (and crop/head size)
    max_chunks: int = 8  # pieces scored per document at most (spread over it)

    def __post_init__(self) -> None:
        unknown = [d for d in self.keep_domains if d not in DOMAINS]
        if unknown:
            raise ValueError(f"keep_domains: unknown domain {unknown[0]!r}; known: {', '.join(DOMAINS)}")
        if self.chunk_chars < 1 or self.max_chunks < 1:
            raise ValueError("chunk_chars and max_chunks must be >= 1")
        self._models: tuple | None = None

    def setup(self) -> None:
        if self._models is not None:
            return
        import fasttext

        fasttext.FastText.eprint = lambda *a, **k: None  # silence the load_model warning
        self._models = (fasttext.load_model(self.math_model), fasttext.load_model(self.code_model))

    def __getstate__(self) -> dict:
        """Pickle the config only (Ray ships stages to workers); models reload in setup()."""
        state = dict(self.__dict__)
        state["_models"] = None
        return state

    def score(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(math_score, code_score) per text: the stage's scoring without the table plumbing."""
        self.setup()
        math_model, code_model = self._models  # type: ignore[misc]
        pieces, offsets = document_pieces(texts, self.long_docs, self.chunk_chars, self.max_chunks)
        lines = tokenize_many(pieces)
        math_piece = positive_probability(math_model, lines, self.math_label)
        code_piece = positive_probability(code_model, lines, self.code_label)
        return max_per_document(math_piece, offsets), max_per_document(code_piece, offsets)

    def __call__(self, batch: pa.Table) -> pa.Table:
        active = active_mask(batch)
        idx = np.flatnonzero(active)
        texts = batch["text"].take(pa.array(idx)).to_pylist() if len(idx) else []
        math_s, code_s = self.score(texts)
        domain = assign_domain(math_s, code_s, self.math_threshold, self.code_threshold)
        n = batch.num_rows
        out = batch
        for col, values, typ in (("math_score", math_s, pa.float32()), ("code_score", code_s, pa.float32()),
                                 ("domain", domain, pa.string())):
            full = np.empty(n, dtype=object)
            full[idx] = values.tolist() if len(idx) else []
            out = set_column(out, col, pa.array(full.tolist(), typ))
        drop = np.zeros(n, dtype=bool)
        reasons = np.full(n, None, dtype=object)
        if len(idx):
            unwanted = ~np.isin(domain, self.keep_domains)
            drop[idx[unwanted]] = True
            reasons[idx[unwanted]] = [f"{self.name}:{d}" for d in domain[unwanted]]
        if drop.any():
            out = drop_rows(out, drop, reasons.tolist())
        return out
