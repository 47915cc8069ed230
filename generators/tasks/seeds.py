"""Seeds of the synthetic loop: corpus documents, known-answer problems, topic pairs.

* Corpus documents (a cleaned run's output dir, whose ``data/*.parquet`` are read, or
  Parquet/JSONL files; local paths or URIs such as ``s3://``, read through
  ``pipeline.fsutil``): seeds of the ``math`` task ("write a new problem inspired by
  this text"). Where the corpus carries a ``math_score`` column (the classify stage),
  a threshold keeps the mathematical documents.
* Problems with a known answer (JSONL): seeds of ``math_ref`` (solve it; the answer is
  checked against the reference), and of ``math`` when there is no corpus.
* Code tasks are seeded by two topic words (see ``prompts.draw_topics``).
* Function tasks with their own tests (JSONL: ``task``, ``signature``, ``tests``): seeds
  of ``code_ref`` ("complete this function"). The tests come from the seed, not from the
  model, so a small model only has to write a function body that passes them; that is
  what keeps the demo's code task within a 135M model's reach without changing what
  ``verify_code`` checks.

Selection is deterministic: the seed list is shuffled once with the configured seed
and each round takes the next slice (wrapping), so rounds use different seeds and a
rerun makes the same choice, which the request cache relies on.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pipeline import fsutil
from pipeline.schema import stable_id


@dataclass(frozen=True)
class Seed:
    id: str
    lang: str
    text: str
    reference_answer: str | None = None
    signature: str | None = None  # code_ref: the function's ``def`` line
    tests: tuple[str, ...] = ()  # code_ref: the task's own assert statements


def guess_lang(text: str) -> str:
    """``zh`` when CJK ideographs are at least 20% of the letters, else ``en``."""
    cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    return "zh" if letters and cjk / letters >= 0.2 else "en"


def _cut(text: str, max_chars: int) -> str:
    """Cut at the last sentence or line end before ``max_chars`` (so a seed reads whole)."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    end = max(head.rfind(ch) for ch in ("\n", "。", ". ", "！", "？", "? ", "! "))
    return head[: end + 1].strip() if end > max_chars // 2 else head.strip()


def _open_text(path: Path | str):
    """A text stream over a local file or a URI (``.gz`` decompressed)."""
    gz = str(path).endswith(".gz")
    if isinstance(path, str) and "://" in path:
        fs, inner = fsutil.filesystem_for(path)
        raw = fs.open_input_stream(inner, compression=None)
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw) if gz else raw, encoding="utf-8")
    return (gzip.open if gz else open)(path, "rt", encoding="utf-8")


def _iter_jsonl(path: Path | str):
    with _open_text(path) as f:
        for line_no, line in enumerate(f):
            if line.strip():
                yield line_no, json.loads(line)


def _corpus_files(entry: str) -> list[Path] | list[str]:
    """The files of a corpus entry: a dir's ``data/`` (or the dir itself), or one file.
    Local entries give ``Path``s; URIs give URIs."""
    if "://" in str(entry):
        return _corpus_uris(str(entry))
    p = Path(entry)
    if p.is_dir():
        data = p / "data"
        root = data if data.is_dir() else p
        files = sorted(root.glob("*.parquet")) + sorted(root.glob("*.jsonl")) + sorted(root.glob("*.jsonl.gz"))
    elif p.exists():
        files = [p]
    else:
        raise FileNotFoundError(f"seed corpus not found: {entry}")
    return files


def _corpus_uris(entry: str) -> list[str]:
    fs, inner = fsutil.filesystem_for(entry)
    kind = fs.get_file_info(inner).type
    if kind == pafs.FileType.Directory:
        data = fsutil.join(inner, "data")
        root = data if fs.get_file_info(data).type == pafs.FileType.Directory else inner
        names = fsutil.list_files(fs, root)
        files = [n for ext in (".parquet", ".jsonl", ".jsonl.gz") for n in names if n.endswith(ext)]
    elif kind == pafs.FileType.File:
        files = [inner]
    else:
        raise FileNotFoundError(f"seed corpus not found: {entry}")
    return [fsutil.uri_of(fs, f) for f in files]


def load_corpus_documents(paths: list[str], *, text_field: str = "text", min_chars: int = 80, max_chars: int = 1500,
                          min_math_score: float | None = None) -> list[Seed]:
    """Documents of a cleaned corpus, as seeds (text cut to ``max_chars``)."""
    seeds = []
    for entry in paths:
        for path in _corpus_files(entry):
            if str(path).endswith(".parquet"):
                table = pq.read_table(path)
                rows = table.to_pylist()
                items = ((i, r) for i, r in enumerate(rows))
            else:
                items = _iter_jsonl(path)
            for offset, row in items:
                text = row.get(text_field) or ""
                if len(text) < min_chars:
                    continue
                if min_math_score is not None and "math_score" in row and (row["math_score"] or 0.0) < min_math_score:
                    continue
                sid = str(row.get("id") or stable_id(str(path), offset))
                lang = row.get("lang") if row.get("lang") in ("en", "zh") else guess_lang(text)
                seeds.append(Seed(sid, lang, _cut(text, max_chars)))
    return seeds


def load_problems(paths: list[str], *, problem_field: str = "question", answer_field: str = "answer",
                  lang_field: str = "lang") -> list[Seed]:
    """Problems with known answers from JSONL files (rows without both fields are skipped)."""
    seeds = []
    for entry in paths:
        path = str(entry) if "://" in str(entry) else Path(entry)
        for offset, row in _iter_jsonl(path):
            problem, answer = row.get(problem_field), row.get(answer_field)
            if not problem or answer is None or str(answer).strip() == "":
                continue
            sid = str(row.get("id") or stable_id(str(path), offset))
            lang = row.get(lang_field) if row.get(lang_field) in ("en", "zh") else guess_lang(problem)
            seeds.append(Seed(sid, lang, str(problem).strip(), str(answer).strip()))
    return seeds


def load_code_tasks(paths: list[str]) -> list[Seed]:
    """Function tasks with their tests from JSONL files.

    A row needs ``task`` (what the function does), ``signature`` (its ``def`` line) and
    ``tests`` (a list of assert statements); a malformed row is an error that names the
    file and line, since a seed file is written by hand and a silent skip hides a typo.
    """
    seeds = []
    for entry in paths:
        path = str(entry) if "://" in str(entry) else Path(entry)
        for offset, row in _iter_jsonl(path):
            task, signature, tests = row.get("task"), row.get("signature"), row.get("tests")
            if not task or not str(signature or "").startswith("def ") or not isinstance(tests, list) or not tests:
                raise ValueError(f"{path}:{offset + 1}: a code task needs task, signature (def ...) and a list of tests")
            sid = str(row.get("id") or stable_id(str(path), offset))
            lang = row.get("lang") if row.get("lang") in ("en", "zh") else guess_lang(task)
            seeds.append(Seed(sid, lang, str(task).strip(), signature=str(signature).strip(),
                              tests=tuple(str(t).strip() for t in tests)))
    return seeds


def pick(seeds: list[Seed], n: int, *, round_index: int, base_seed: int, lang: str | None = None) -> list[Seed]:
    """``n`` seeds for one round: the round's slice of one fixed shuffle, preferring ``lang``.

    Falls back to seeds of any language when none is in ``lang``; repeats (wrapping)
    only when the pool is smaller than what the rounds ask for.
    """
    pool = [s for s in seeds if lang is None or s.lang == lang] or list(seeds)
    if not pool or n <= 0:
        return []
    order = list(pool)
    random.Random(base_seed).shuffle(order)
    start = round_index * n
    return [order[(start + i) % len(order)] for i in range(n)]
