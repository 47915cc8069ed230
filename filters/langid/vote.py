"""From per-segment fastText labels to per-document languages.

Each segment (see ``filters.langid.prose_view.segment``) gets one label: fastText's, unless its
script says Chinese (Han-dominated, no kana or hangul; ``filters.signals.script_detect``), which
overrides lid.176's frequent Japanese/Cantonese/other guesses on short Chinese text.
Documents then take a vote of their segments weighted by UTF-8 byte length: the winner
is ``lang``, its weighted mean segment score is ``lang_score``, and the share of weight
per language gives ``zh_frac``/``en_frac`` and the mixed-document flag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from filters.signals.script_detect import CharStats, chinese_by_script, zh_script


@dataclass(frozen=True)
class SegmentLabels:
    lang: np.ndarray  # object array of ISO codes
    score: np.ndarray  # float64 confidence of that label


def label_segments(
    ft_labels: list[str],
    ft_probs: np.ndarray,
    stats: CharStats,
    aliases: dict[str, str],
    min_han_share: float = 0.5,
) -> SegmentLabels:
    """Combine fastText's top label with script evidence, per segment.

    Where the script says Chinese, the label is ``zh`` and the score is the larger of
    fastText's probability (if it also said Chinese) and the Han share of the letters."""
    distinct, code = _factorize(ft_labels)  # a few hundred labels at most: map those, spread them by index
    lang = np.array([aliases.get(x[9:], x[9:]) for x in distinct.tolist()], dtype=object)[code]
    score = np.asarray(ft_probs, dtype=np.float64)
    zh = chinese_by_script(stats, min_han_share=min_han_share)
    script_conf = np.clip(stats.han_share, 0.0, 1.0)
    score = np.where(zh, np.where(lang == "zh", np.maximum(score, script_conf), script_conf), score)
    lang = np.where(zh, "zh", lang)
    return SegmentLabels(lang=lang, score=np.clip(score, 0.0, 1.0))


def settled_by_script(stats: CharStats, min_han_share: float = 0.5) -> np.ndarray:
    """Segments whose label :func:`label_segments` gives without fastText: Chinese by script
    with nothing but Han among the letters. There the script's confidence (the Han share) is
    exactly 1.0, so the label is ``zh`` and the score 1.0 whatever fastText says (the score
    is the larger of the two, clipped to 1). Their fastText answers can be skipped."""
    return chinese_by_script(stats, min_han_share=min_han_share) & (stats.han_share >= 1.0)


def _factorize(values: np.ndarray | list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values.astype(str), return_inverse=True)`` for many strings of a few
    distinct values, by hashing (Arrow's dictionary encoding) instead of sorting them all:
    the distinct names sorted, and each value's index among them."""
    encoded = pa.array(values, pa.string()).dictionary_encode()
    distinct = np.array(encoded.dictionary.to_pylist(), dtype=str)
    order = np.argsort(distinct, kind="stable")
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return distinct[order], rank[encoded.indices.to_numpy(zero_copy_only=False)]


@dataclass(frozen=True)
class DocVote:
    lang: pa.Array  # string, null for a document without segments
    score: np.ndarray  # weighted mean score of the winning language's segments
    shares: dict[str, np.ndarray]  # weight share per language of interest
    second_share: np.ndarray  # share of the runner-up language
    zh_script: pa.Array  # Hans/Hant/null over the document's Chinese segments
    letters: np.ndarray  # letters fastText read per document (how much prose there was)


def vote(labels: SegmentLabels, doc: np.ndarray, weight: np.ndarray, n_docs: int, stats: CharStats, share_langs: list[str]) -> DocVote:
    """Length-weighted vote of segments into ``n_docs`` documents (vectorized bincounts)."""
    names, code = _factorize(labels.lang) if len(doc) else (np.array([], str), np.zeros(0, np.int64))
    k = max(len(names), 1)
    key = doc * k + code
    w = np.bincount(key, weights=weight, minlength=n_docs * k).reshape(n_docs, k)
    ws = np.bincount(key, weights=weight * labels.score, minlength=n_docs * k).reshape(n_docs, k)
    total = w.sum(axis=1)
    has = total > 0
    safe_total = np.where(has, total, 1.0)
    top = w.argmax(axis=1) if len(names) else np.zeros(n_docs, np.int64)
    rows = np.arange(n_docs)
    top_w = w[rows, top] if len(names) else np.zeros(n_docs)
    score = np.where(top_w > 0, (ws[rows, top] if len(names) else 0.0) / np.where(top_w > 0, top_w, 1.0), 0.0)
    second = np.sort(w, axis=1)[:, -2] / safe_total if k >= 2 else np.zeros(n_docs)
    lang = np.where(has, names[top] if len(names) else "", None).astype(object)
    shares = {}
    for name in share_langs:
        idx = np.flatnonzero(names == name)
        shares[name] = w[:, idx[0]] / safe_total if len(idx) else np.zeros(n_docs)
    # script of the document from its Chinese segments only
    zh_seg = labels.lang == "zh"
    simp = np.bincount(doc[zh_seg], weights=stats.simp_only[zh_seg], minlength=n_docs)
    trad = np.bincount(doc[zh_seg], weights=stats.trad_only[zh_seg], minlength=n_docs)
    doc_stats = CharStats(*(np.zeros(n_docs, np.int64),) * 7, simp_only=simp, trad_only=trad)
    script = zh_script(doc_stats).to_numpy(zero_copy_only=False).astype(object)
    script[lang != "zh"] = None
    return DocVote(
        lang=pa.array(lang, pa.string()),
        score=score,
        shares=shares,
        second_share=np.where(has, second, 0.0),
        zh_script=pa.array(script, pa.string()),
        letters=np.bincount(doc, weights=stats.letters, minlength=n_docs) if len(doc) else np.zeros(n_docs),
    )
