"""Language ID stage: fastText lid.176 on the prose view, with script evidence and a
length-weighted vote over segments of long documents.

Why not raw lid.176 on the text: formulas and code read as English, short Chinese reads
as Japanese or Cantonese, and a bilingual page gets one arbitrary label. This stage
masks formulas/code/URLs/markup (``filters.langid.prose_view``), predicts lid.176 once per
batch on the list of segments (by default with ``filters.fasttext_infer``, which gives
fastText's own answers from the same model file at ~3.8x its speed; ``predictor: fasttext``
uses the library), overrides Han-dominated segments to ``zh``
(``filters.signals.script_detect``; fastText does not even read a segment written in Han
alone: its label and score are settled by the script), and votes per document
(``filters.langid.vote``).

Columns: ``lang`` (ISO 639-1; Chinese is ``zh`` in any script), ``lang_score``,
``zh_frac``, ``en_frac``, ``zh_script`` (``Hans``/``Hant``/null), ``lang_mixed`` and
``doc_kind`` (``prose``/``math``/``code``, from ``filters.signals.doc_kind``).

Reasons: ``langid:lang_<xx>`` (language not kept), ``langid:low_score``,
``langid:mixed`` (mixed_policy ``drop``), ``langid:no_text`` (nothing left to read),
``langid:code`` (code_route ``drop``). Math documents that are nearly all formula
(fewer than ``math_min_prose_letters`` letters of prose) are kept whatever their label.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filters.signals.doc_kind import DocKindConfig, doc_kind
from filters.langid.vote import DocVote, label_segments, settled_by_script, vote
from filters.langid.prose_view import prose_view, segment_samples
from filters.signals.script_detect import char_stats
from pipeline.active_rows import ActiveRows
from pipeline.stage import stage_reason

DEFAULT_MODEL = str(Path(__file__).resolve().parents[1] / "models" / "lid.176.ftz")


@dataclass
class LangIdStage:
    """Keep documents in ``keep_languages``; every score is kept as a column."""

    name: ClassVar[str] = "langid"

    model_path: str = field(default=DEFAULT_MODEL, metadata={"path": True, "model": "fasttext", "help": "fastText LID model (lid.176.ftz ships in filters/models)"})
    keep_languages: list[str] = field(default_factory=lambda: ["zh", "en"], metadata={"help": "ISO codes to keep; empty keeps all"})
    min_score: float = field(default=0.5, metadata={"help": "drop below this lang_score (langid:low_score)"})
    mixed_policy: Literal["keep", "majority", "drop"] = field(
        default="keep",
        metadata={"help": "mixed documents: keep if any kept language has mixed_min_frac; majority decides; or drop"},
    )
    mixed_min_frac: float = field(default=0.2, metadata={"help": "a runner-up language with this share of the text makes a document mixed"})
    code_route: Literal["keep", "langid", "drop"] = field(
        default="keep",
        metadata={"help": "code documents (doc_kind=code): kept whatever their comments' language; or filtered like prose; or dropped"},
    )
    math_min_prose_letters: int = field(
        default=40,
        metadata={"help": "math documents with fewer prose letters than this (all formula) are kept whatever their language"},
    )
    long_doc_bytes: int = field(default=1000, metadata={"help": "documents longer than this are scored per segment"})
    chunk_bytes: int = field(default=400, metadata={"help": "target segment size for long documents"})
    segment_chars: int = field(default=150, metadata={"help": "fastText reads the first this many characters of each segment"})
    min_han_share: float = field(default=0.5, metadata={"help": "Han share of letters above which a segment is Chinese by script"})
    label_aliases: dict[str, str] = field(default_factory=lambda: {"yue": "zh", "wuu": "zh"}, metadata={"help": "map model labels (Cantonese, Wu) to a language"})

    predictor: Literal["compiled", "fasttext"] = field(
        default="compiled",
        metadata={"help": "compiled: taosha's kernel (filters.fasttext_infer), fastText's answers ~4x faster; fasttext: the library"},
    )
    prediction_cache: int = field(default=300_000, metadata={"help": "fastText answers remembered per worker (by segment-sample hash); 0 = off"})

    def __post_init__(self) -> None:
        self._model: Any = None
        self._compiled: Any = None
        self._cache: dict[int, tuple[str, float]] = {}

    def setup(self) -> None:
        if self._model is None and self._compiled is None:
            if self.predictor == "compiled":
                from filters.fasttext_infer.predictor import load_or_none

                loaded = load_or_none([self.model_path], self.name, cache_entries=self.prediction_cache)
                self._compiled = loaded[0] if loaded else None
            if self._compiled is None:
                import fasttext  # heavy import: only when the stage runs

                self._model = fasttext.load_model(self.model_path)
            doc_kind(pa.array(["预热 warm-up"]), DocKindConfig())  # load (or compile) its kernel now, not in the first batch

    def __getstate__(self) -> dict:
        """Pickle the config only (Ray ships stages to workers); the model reloads in setup()."""
        state = dict(self.__dict__)
        state.update(_model=None, _compiled=None, _cache={})
        return state

    def _predict_samples(self, lines: list[bytes]) -> tuple[list[str], np.ndarray]:
        """fastText's top label and probability per segment sample (``lines``: see
        :func:`sample_lines`), each distinct sample predicted once: a per-worker cache keyed
        by the sample's 64-bit hash remembers recent answers (boilerplate lines, repeated and
        near-duplicate pages: ~19% of the segments of the benchmark corpus), so the labels
        are exactly what fastText says for that text (a 64-bit hash collision between two
        samples is the one way to get another text's answer: ~1e-9 per full cache). Bounded
        by ``prediction_cache`` entries (~160 bytes each; cleared when full; 0 = off)."""
        cache = self._cache
        keys = [hash(t) for t in lines]
        todo: dict[int, bytes] = {}
        for key, line in zip(keys, lines):
            if key not in cache and key not in todo:
                todo[key] = line
        fresh: dict[int, tuple[str, float]] = {}
        if todo:
            labels, probs = self._model.f.multilinePredict(list(todo.values()), 1, 0.0, "strict")
            for key, lab, prob in zip(todo, labels, probs):
                fresh[key] = (sys.intern(lab[0]) if lab else "__label__und", float(prob[0]) if len(prob) else 0.0)
        hits = [fresh[k] if k in fresh else cache[k] for k in keys]
        if self.prediction_cache > 0:
            if len(cache) + len(fresh) > self.prediction_cache:
                cache.clear()
            cache.update(fresh)
        return [h[0] for h in hits], np.array([h[1] for h in hits], dtype=np.float64)

    def _predict_segments(self, sample: pa.Array) -> tuple[list[str] | np.ndarray, np.ndarray]:
        """fastText's top label and probability per segment sample. The compiled predictor
        reads the Arrow array in place and keeps its cache of answers in the kernel."""
        if self._compiled is not None:
            idx, probs = self._compiled.top(sample)
            names = np.array([*self._compiled.labels, "__label__und"], dtype=object)
            return names[idx], probs.astype(np.float64)  # idx -1 (nothing read) takes the last name
        return self._predict_samples(sample_lines(sample))

    def predict(self, texts: pa.Array) -> tuple[DocVote, pa.Array]:
        """The vote and ``doc_kind`` for every text of ``texts`` (no filtering)."""
        self.setup()
        view = prose_view(texts)
        segs = segment_samples(view, self.long_doc_bytes, self.chunk_bytes, self.segment_chars)
        sample = segs.text  # each segment's first segment_chars characters
        stats = char_stats(sample)
        # fastText reads only the segments whose label it can change (not those in Han alone)
        settled = settled_by_script(stats, self.min_han_share)
        if settled.any():
            ask = np.flatnonzero(~settled)
            labels, probs = self._predict_segments(sample.take(pa.array(ask, pa.int64())))
            ft_labels = np.full(len(sample), "__label__zh", dtype=object)
            ft_labels[ask] = labels
            ft_probs = np.ones(len(sample))
            ft_probs[ask] = probs
        else:
            ft_labels, ft_probs = self._predict_segments(sample)
        seg_labels = label_segments(ft_labels, ft_probs, stats, self.label_aliases, self.min_han_share)
        share_langs = sorted({"zh", "en", *self.keep_languages})
        result = vote(seg_labels, segs.doc, segs.weight, len(texts), stats, share_langs)
        return result, doc_kind(texts, DocKindConfig())

    def __call__(self, batch: pa.Table) -> pa.Table:
        self.setup()
        rows = ActiveRows.of(batch)
        result, kinds = self.predict(rows.column("text"))
        decision = decide(result, kinds.to_numpy(zero_copy_only=False), self)
        return rows.scatter(batch, {
            "lang": (result.lang, pa.string()),
            "lang_score": (result.score, pa.float32()),
            "zh_frac": (result.shares["zh"], pa.float32()),
            "en_frac": (result.shares["en"], pa.float32()),
            "zh_script": (result.zh_script, pa.string()),
            "lang_mixed": (decision["mixed"], pa.bool_()),
            "doc_kind": (kinds, pa.string()),
        }, reasons=decision["reason"])


def sample_lines(sample: pa.Array) -> list[bytes]:
    """Each segment sample as the line fastText's ``predict`` makes of a ``str``: its UTF-8
    bytes and a newline, built in Arrow. fastText's batch predict takes these as they are,
    without the wrapper's per-line newline check and copy; a segment never holds a newline
    (the segment kernel turns them into spaces), which is all that check guards."""
    tail, newline = pa.scalar("", sample.type), pa.scalar("\n", sample.type)
    return pc.binary_join_element_wise(sample, tail, newline).cast(pa.large_binary()).to_pylist()


def decide(result: DocVote, kinds: np.ndarray, cfg: LangIdStage) -> dict[str, np.ndarray]:
    """Per document: the drop reason (or None) and the mixed flag, from the vote.

    Order: code route, formula-only math (kept), no text, mixed policy, language, score."""
    n = len(kinds)
    lang = result.lang.to_numpy(zero_copy_only=False).astype(object)
    keep = set(cfg.keep_languages)
    mixed = (result.second_share >= cfg.mixed_min_frac) & (lang != None)  # noqa: E711
    keep_share = np.zeros(n)
    for code in keep:
        if code in result.shares:
            keep_share = np.maximum(keep_share, result.shares[code])
    reason = np.full(n, None, dtype=object)
    lang_ok = np.array([(not keep) or (x in keep) for x in lang], dtype=bool)
    undecided = np.ones(n, dtype=bool)

    def mark(mask: np.ndarray, why: Any) -> None:
        nonlocal undecided
        hit = mask & undecided
        reason[hit] = why[hit] if isinstance(why, np.ndarray) else stage_reason(cfg.name, why)
        undecided &= ~mask

    is_code = kinds == "code"
    if cfg.code_route == "keep":
        undecided &= ~is_code
    elif cfg.code_route == "drop":
        mark(is_code, "code")
    # a formula-only math document has too little prose for a language call
    undecided &= ~((kinds == "math") & (result.letters < cfg.math_min_prose_letters))
    mark(lang == None, "no_text")  # noqa: E711
    if cfg.mixed_policy == "drop":
        mark(mixed, "mixed")
    elif cfg.mixed_policy == "keep":
        undecided &= ~(mixed & ((keep_share >= cfg.mixed_min_frac) | (not keep)))
    lang_reasons = np.array([stage_reason(cfg.name, f"lang_{x}") for x in lang], dtype=object)
    mark(~lang_ok, lang_reasons)
    mark(result.score < cfg.min_score, "low_score")
    return {"reason": reason, "mixed": mixed}
