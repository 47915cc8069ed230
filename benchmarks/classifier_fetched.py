"""Web-like training text from fetched snapshots of public GitHub repositories.

The classifiers must hold on text as the web writes it (forum Q&A with LaTeX,
lecture notes, tutorials with code between paragraphs, dialogues with prices,
wiki paragraphs, short factoid questions), not on benchmark problems. This module
reads that text from git snapshots pinned to a commit (``REPOS``; fetched once into
``$TAOSHA_MIRROR``, default ``/work/.mirror``, as ``owner+name/repo``) and cuts it
into labeled documents the way ``../shared/data/dev/web`` was cut:

* Markdown/reStructuredText pages -> sections (at headings) -> chunks of at most
  ``CHUNK`` characters at paragraph breaks; each chunk is labeled by how much of it
  is fenced/literal code or LaTeX (:func:`share_label`): code when >= 40% is code,
  math when >= 12% is LaTeX (and neither has a trace of the other), general when it
  has neither at all (no fence, literal block, indented code line, ``$`` or
  backtick), and nothing (left out) in between.
* Datasets (QA pairs, dialogues, treebank sentences, questions) -> one document per
  record or per run of sentences, labeled by their source.

Nothing fetched is committed: only this reader, the build script and the models.
Text that the shared dev sets hold (``../shared/data/dev/web`` and ``tests/data/dev``)
is never read into training: whole files a dev row came from are skipped, and
records or sentences equal to a dev text are dropped (:class:`Exclusions`).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from filters.classify.data import split_key_hash

MIRROR = Path(os.environ.get("TAOSHA_MIRROR", "/work/.mirror"))
CHUNK = 2000


@dataclass(frozen=True)
class Repo:
    """A public repository pinned to the commit its text was read at."""

    name: str
    commit: str
    license: str

    @property
    def git_dir(self) -> Path:
        base = MIRROR / self.name.replace("/", "+") / "repo"
        return base / ".git" if (base / ".git").is_dir() else base


REPOS = {r.name: r for r in [
    Repo("yifanzhang-pro/StackMathQA", "80c89c14d96a17af7f75383bc7a2add47cd928f9", "CC-BY-4.0 (posts CC-BY-SA)"),
    Repo("openai/grade-school-math", "3101c7d5072418e28b9008a6636bde82a006892c", "MIT"),
    Repo("google-research/url-nlp", "452a21ad3dae5668c06ceeac21ff073e1e40f9be", "CC-BY-4.0 (mgsm/)"),
    Repo("ermongroup/cs228-notes", "b608bab345ec5e5d9949c8f015869a61a440484e", "MIT"),
    Repo("cs231n/cs231n.github.io", "3d84654b14608fbccdff2393485631aaacfc9dab", "MIT"),
    Repo("d2l-ai/d2l-en", "23d7a5aecceee57d1292c56e90cce307f183bb0a", "CC-BY-SA-4.0 (text), MIT-0 (code)"),
    Repo("d2l-ai/d2l-zh", "e6b18ccea71451a55fcd861d7b96fddf2587b09a", "Apache-2.0"),
    Repo("OI-wiki/OI-wiki", "76fa67c1ef16613519ec6c1a4c58857eba8b2a96", "CC-BY-SA-4.0 + SATA (text)"),
    Repo("ShusenTang/Dive-into-DL-PyTorch", "09c8bacc08599eb86236551454ba43b82cb91498", "Apache-2.0"),
    Repo("scutan90/DeepLearning-500-questions", "6087a06b112c3c28b885ab2f794535c19a9e4326", "GPL-3.0"),
    Repo("rust-lang/book", "917544888a55e4da7109bdba8c88c893c0da70f4", "MIT OR Apache-2.0"),
    Repo("python/peps", "ba4deeb7969588d937da609008d05bb83a47b1ab", "public domain / CC0-1.0"),
    Repo("wangdoc/javascript-tutorial", "84d50bb63511427d8e3c15e642ba456917e9649e", "CC-BY-SA-4.0 (package.json)"),
    Repo("wangdoc/bash-tutorial", "9e6450fd747ad6bcc6f8534316e807568daac394", "CC-BY-SA-4.0 (package.json)"),
    Repo("doocs/advanced-java", "efb95ddac45c0d5bc69565cfd2f05b7ec65785e5", "CC-BY-SA-4.0"),
    Repo("doocs/leetcode", "b6ee4f59f28bcf325b7ec535d0a0e12b409e70f4", "CC-BY-SA-4.0"),
    Repo("donnemartin/system-design-primer", "ae9bbd7b02d90b9866215de185217d33f39ab733", "CC-BY-4.0"),
    Repo("ymcui/cmrc2018", "c0eb1b6ba219847457e6af3180da722bbeb656af", "CC-BY-SA-4.0"),
    Repo("thu-coai/CrossWOZ", "df82c9fdff91b9b130f2d6b89110d3870ba6260e", "Apache-2.0"),
    Repo("brmson/dataset-factoid-webquestions", "668890853388010fe6ae9a5eb035a7917b88933b", "CC-BY-4.0"),
    Repo("amir-zeldes/gum", "72ce5ac14978a324c2fd18d49484e65292cbe316", "CC-BY 2.5/4.0, CC-BY-SA 3.0 (per genre)"),
    Repo("UniversalDependencies/UD_English-EWT", "15d613d8447b3478787d4c278730a1e48a945efb", "CC-BY-SA-4.0"),
    Repo("UniversalDependencies/UD_Chinese-HK", "77ecd3ca188a59e53385f9fffd13219952187d03", "CC-BY-SA-4.0"),
    Repo("UniversalDependencies/UD_Chinese-CFL", "c699eaa4603390a6a24314b1952177517cad0546", "CC-BY-SA-4.0"),
    Repo("google-deepmind/xquad", "7d30520c717524000f0d9d2f9c10a069acd9d285", "CC-BY-SA-4.0"),
    Repo("math-eval/TAL-SCQ5K", "8a66d6e14c65ba002beda39747e6b7c43bd2d472", "MIT (README)"),
    Repo("Snailclimb/JavaGuide", "fd4c37ab8f58a3c5520535d401adaf1adf72ed85", "Apache-2.0"),
]}


# ------------------------------------------------------------------ git access


def repo_files(repo: Repo, include: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """(path, content) of the files of ``repo`` at its commit that ``include`` accepts.

    Files absent from the snapshot (large blobs are left out) are skipped. Order: by a
    hash of the path, so caps take an unbiased, stable sample.
    """
    if not repo.git_dir.exists():
        raise FileNotFoundError(f"{repo.name}: no snapshot at {repo.git_dir} (fetch github:{repo.name} first)")
    listing = subprocess.run(["git", "--git-dir", str(repo.git_dir), "ls-tree", "-r", "-l", repo.commit],
                             capture_output=True, text=True, check=True).stdout
    entries = []
    for line in listing.splitlines():
        meta, path = line.split("\t", 1)
        _, kind, oid, size = meta.split()
        if kind == "blob" and size.isdigit() and include(path):
            entries.append((split_key_hash(path, "order"), path, oid))
    entries.sort()
    if not entries:
        return
    out = subprocess.run(["git", "--git-dir", str(repo.git_dir), "cat-file", "--batch"],
                         input="".join(f"{oid}\n" for _, _, oid in entries).encode(), capture_output=True).stdout
    pos = 0
    for _, path, _ in entries:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        yield path, out[pos:pos + size]
        pos += size + 1


# ------------------------------------------------------------------ labels by share

FENCE = re.compile(r"^\s*(```|~~~)")
LITERAL_INTRO = re.compile(r"::\s*$|^\s*\.\. (?:code-block|code|sourcecode|doctest)::")
DOCTEST = re.compile(r"^\s*(>>>|\.\.\.)( |$)")
MATH_SPAN = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$|\\\[.+?\\\]|\\\(.+?\\\)|\\begin\{(\w+\*?)\}.+?\\end\{\1\}", re.S)
HEADING = re.compile(r"#{1,6} ")
INDENTED_CODE = re.compile(r"^(?: {4}|\t)\S.*[(){}=;:\[\]]", re.M)


def code_chars(text: str) -> int:
    """Characters on lines inside fenced blocks, reStructuredText literal and code blocks
    (``::``, ``.. code-block:: lang``) and doctest lines (``>>>``)."""
    n, fenced, literal = 0, False, False
    for line in text.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
            n += len(line) + 1
            continue
        if fenced:
            n += len(line) + 1
            continue
        if literal:
            if line.strip() and not line[:1].isspace():
                literal = False
            else:
                n += len(line) + 1
                continue
        if DOCTEST.match(line):
            n += len(line) + 1
        elif LITERAL_INTRO.search(line):
            literal = True
    return n


def math_chars(text: str) -> int:
    return sum(len(m.group(0)) for m in MATH_SPAN.finditer(text))


def share_label(text: str, math_min: float = 0.12) -> str | None:
    """``code``/``math``/``general`` by how much of ``text`` is code or LaTeX; None if in between."""
    n = max(len(text), 1)
    code, math = code_chars(text) / n, math_chars(text) / n
    if code >= 0.4 and math < 0.02:
        return "code"
    if math >= math_min and code == 0:
        return "math"
    if (code == 0 and math == 0 and "$" not in text and "`" not in text and not INDENTED_CODE.search(text)
            and ".. code" not in text):
        return "general"
    return None


def _paragraphs(section: str) -> list[str]:
    """Blank-line separated paragraphs; a fenced block is never split, and an RST literal
    block (the indented paragraphs after a line ending in ``::``) stays with its intro."""
    out, cur, fenced = [], [], False
    for line in section.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
        if not line.strip() and not fenced:
            if cur:
                out.append("\n".join(cur))
                cur = []
            continue
        cur.append(line)
    if cur:
        out.append("\n".join(cur))
    merged: list[str] = []
    literal = False
    for para in out:
        if literal and para[:1].isspace():
            merged[-1] = f"{merged[-1]}\n\n{para}"
            continue
        merged.append(para)
        literal = bool(LITERAL_INTRO.search(para.rstrip().rsplit("\n", 1)[-1]))
    return merged


def _section_starts(text: str) -> list[int]:
    """Offsets of headings outside fenced blocks (a ``# comment`` in a listing is not one)."""
    starts, fenced, pos = [], False, 0
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and pos > 0 and (line.startswith("#") and HEADING.match(line) or (
                i + 1 < len(lines) and line[:1].strip() and re.fullmatch(r"[=\-~^]{3,}\s*", lines[i + 1]))):
            starts.append(pos)
        pos += len(line) + 1
    return starts


def page_chunks(text: str, chunk: int = CHUNK) -> list[str]:
    """Sections of a Markdown/RST page (cut at headings), packed into <= ``chunk``-char chunks."""
    bounds = [0] + _section_starts(text) + [len(text)]
    chunks: list[str] = []
    for a, b in zip(bounds, bounds[1:]):
        cur = ""
        for para in _paragraphs(text[a:b]):
            if cur and len(cur) + len(para) + 2 > chunk:
                chunks.append(cur)
                cur = ""
            cur = f"{cur}\n\n{para}" if cur else para
        if cur.strip():
            chunks.append(cur)
    return [c for c in chunks if len(c.strip()) >= 80]


# ------------------------------------------------------------------ exclusions


@dataclass
class Exclusions:
    """Files and texts of the shared dev sets: never read into training."""

    files: set[str]  # "owner/name:path"
    texts: set[str]  # whitespace-normalized texts and sentences
    clean_dir: Path | None = None  # tests/data/dev, for rules that need its held-out split

    @staticmethod
    def norm(text: str) -> str:
        return " ".join(text.split())

    def has_text(self, text: str) -> bool:
        return self.norm(text) in self.texts

    @classmethod
    def from_dev(cls, web_dir: Path, clean_dir: Path) -> "Exclusions":
        files, texts = set(), set()
        for path in sorted(web_dir.glob("*.jsonl")) + sorted(clean_dir.glob("*.jsonl")):
            for line in path.open(encoding="utf-8"):
                row = json.loads(line)
                texts.add(cls.norm(row["text"]))
                src = str(row.get("source") or "")
                if "@" in src and ":" in src:
                    repo, rest = src.split("@", 1)
                    files.add(f"{repo}:{rest.split(':', 1)[1].split('#', 1)[0]}")
        return cls(files, texts, clean_dir)


# ------------------------------------------------------------------ readers
# Each reader yields (key, text, lang, label, kind); ``key`` names the file (and record).

Doc = tuple[str, str, str, str, str]


def pages(repo_name: str, lang: str, include: Callable[[str], bool], kind: str, labels=("math", "code", "general"),
          math_min: float = 0.12) -> Callable[[Exclusions], Iterator[Doc]]:
    """Chunks of the Markdown/RST pages of a repository, labeled by :func:`share_label`."""
    repo = REPOS[repo_name]

    def read(ex: Exclusions) -> Iterator[Doc]:
        for path, blob in repo_files(repo, include):
            if f"{repo.name}:{path}" in ex.files:
                continue
            for i, chunk in enumerate(page_chunks(blob.decode("utf-8", errors="replace"))):
                label = share_label(chunk, math_min)
                if label in labels and not ex.has_text(chunk):
                    yield f"{repo.name}:{path}", chunk, lang, label, kind
    return read


def stackmathqa(ex: Exclusions) -> Iterator[Doc]:
    repo = REPOS["yifanzhang-pro/StackMathQA"]
    for path, blob in repo_files(repo, lambda p: p.startswith("data/stackmathqa100k/") and p.endswith(".jsonl")):
        if f"{repo.name}:{path}" in ex.files:
            continue
        for i, line in enumerate(blob.decode("utf-8", errors="replace").splitlines()):
            row = json.loads(line)
            text = f"{row['Q'].strip()}\n\n{row['A'].strip()}"
            if share_label(text, 0.05) == "math" and not ex.has_text(text):
                yield f"{repo.name}:{path}", text[:4 * CHUNK], "en", "math", "qa-forum"


_CALC = re.compile(r"<<[^>]*>>")


def gsm8k_train(ex: Exclusions) -> Iterator[Doc]:
    """GSM8K training problems with their worked solutions (en; the test split is a clean dev set)."""
    repo = REPOS["openai/grade-school-math"]
    for path, blob in repo_files(repo, lambda p: p == "grade_school_math/data/train.jsonl"):
        for i, line in enumerate(blob.decode("utf-8").splitlines()):
            row = json.loads(line)
            text = f"{row['question'].strip()}\n\n{_CALC.sub('', row['answer']).strip()}"
            if not ex.has_text(text):
                yield f"{repo.name}:{path}#{i}", text, "en", "math", "word-problem"


def mgsm_zh(ex: Exclusions) -> Iterator[Doc]:
    """MGSM's human Chinese translations of GSM8K test problems (question and answer number).

    A problem whose English original is a held-out clean dev row is left out (its
    translation would leak that row across languages)."""
    from filters.classify.data import is_holdout

    repo = REPOS["google-research/url-nlp"]
    files = dict(repo_files(repo, lambda p: p in ("mgsm/mgsm_zh.tsv", "mgsm/mgsm_en.tsv")))
    held = [json.loads(line)["text"] for line in (ex.clean_dir / "math_pos_en.jsonl").open(encoding="utf-8")
            if is_holdout(json.loads(line)["id"], 0.3)] if ex.clean_dir else []
    en = files.get("mgsm/mgsm_en.tsv", b"").decode("utf-8").splitlines()
    for i, line in enumerate(files.get("mgsm/mgsm_zh.tsv", b"").decode("utf-8").splitlines()):
        question, _, answer = line.partition("\t")
        original = en[i].split("\t")[0][:60] if i < len(en) else ""
        if original and any(t.startswith(original) for t in held):
            continue
        yield f"{repo.name}:mgsm/mgsm_zh.tsv#{i}", f"{question}\n答案：{answer}", "zh", "math", "word-problem"


def cmrc2018(ex: Exclusions) -> Iterator[Doc]:
    """Wikipedia paragraphs and the factoid questions asked about them (zh, not math)."""
    repo = REPOS["ymcui/cmrc2018"]
    for path, blob in repo_files(repo, lambda p: p.startswith("squad-style-data/") and p.endswith(".json")):
        for article in json.loads(blob)["data"]:
            for para in article["paragraphs"]:
                key = f"{repo.name}:{path}#{para['id']}"
                if not ex.has_text(para["context"]):
                    yield key, para["context"], "zh", "general", "wiki"
                for qa in para["qas"]:
                    if not ex.has_text(qa["question"]):
                        yield key, qa["question"], "zh", "general", "question"


def xquad_zh(ex: Exclusions) -> Iterator[Doc]:
    """XQuAD's human Chinese translation of SQuAD v1.1 dev paragraphs (Wikipedia) and their
    questions: scores, counts, years, ages ("黑豹队的防守丢了多少分？"), i.e. Chinese questions
    with numbers that are not math, the kind a model trained on word problems calls math."""
    repo = REPOS["google-deepmind/xquad"]
    for path, blob in repo_files(repo, lambda p: p == "xquad.zh.json"):
        for article in json.loads(blob)["data"]:
            for para in article["paragraphs"]:
                key = f"{repo.name}:{path}#{para['qas'][0]['id']}"  # a paragraph and its questions share a split
                if not ex.has_text(para["context"]):
                    yield key, para["context"], "zh", "general", "wiki"
                for qa in para["qas"]:
                    if not ex.has_text(qa["question"]):
                        yield key, qa["question"], "zh", "general", "question"


_TEX_SPAN = re.compile(r"\$\$(.*?)\$\$", re.S)
# TeX that web pages without MathJax write as plain text: numbers, percentages, ratios, single
# letters, simple arithmetic.
_PLAIN_TEX = re.compile(r"(?:[0-9.,:%+\-=()<>\s]|\\%|\\times|\\div|\\cdot|\\cdots|[A-Za-z](?![A-Za-z]))*")
_PLAIN_OPS = (("\\%", "%"), ("\\times", "×"), ("\\div", "÷"), ("\\cdots", "…"), ("\\cdot", "·"))


def plain_tex(text: str) -> str:
    """``$$4$$吨`` -> ``4吨``: simple TeX spans written as plain text (other TeX stays)."""
    def unwrap(m: re.Match) -> str:
        body = m.group(1)
        if not _PLAIN_TEX.fullmatch(body):
            return m.group(0)
        for tex, plain in _PLAIN_OPS:
            body = body.replace(tex, plain)
        return "".join(body.split())
    return _TEX_SPAN.sub(unwrap, text)


def tal_scq_zh(ex: Exclusions) -> Iterator[Doc]:
    """TAL-SCQ5K-CN: Chinese primary to high school math problems (single choice) with worked
    solutions, all math in TeX. Half of the records (by a hash of the id) are kept as written
    (problem, options, solution); the other half as a plain-text page would show the problem:
    numbers, percentages and simple arithmetic unwrapped from ``$$...$$``, then the answer
    (the form of Chinese word problems on most sites, and of CMATH)."""
    repo = REPOS["math-eval/TAL-SCQ5K"]
    for path, blob in repo_files(repo, lambda p: p.startswith("ch_single_choice_constructed_5K/") and p.endswith(".jsonl")):
        for line in blob.decode("utf-8").splitlines():
            row = json.loads(line)
            key = f"{repo.name}:{path}#{row['queId']}"
            options = {o[0]["aoVal"]: o[0]["content"].strip() for o in row["answer_option_list"] if o}
            if split_key_hash(key, "tal-form") % 2:
                text = f"{plain_tex(row['problem']).strip()}\n答案：{plain_tex(options.get(row['answer_value'], ''))}"
            else:
                text = (f"{row['problem'].strip()}\n" + "  ".join(f"{k}. {v}" for k, v in options.items())
                        + "\n\n解析：" + "\n".join(a.strip() for a in row["answer_analysis"]))
            if not ex.has_text(text):
                yield key, text[:4 * CHUNK], "zh", "math", "word-problem"


def webquestions(ex: Exclusions) -> Iterator[Doc]:
    repo = REPOS["brmson/dataset-factoid-webquestions"]
    for path, blob in repo_files(repo, lambda p: p in ("main/val.json", "main/devtest.json")):
        for row in json.loads(blob):
            if not ex.has_text(row["qText"]):
                yield f"{repo.name}:{path}#{row['qId']}", row["qText"], "en", "general", "search-query"


def crosswoz(ex: Exclusions) -> Iterator[Doc]:
    """Task dialogues about hotels, restaurants, tickets: prices, ratings, times (zh, not math)."""
    repo = REPOS["thu-coai/CrossWOZ"]
    for path, blob in repo_files(repo, lambda p: p == "data/crosswoz/test.json.zip"):
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            dialogs = json.loads(z.read(z.namelist()[0]))
        for did in sorted(dialogs):
            text = "\n".join(m["content"] for m in dialogs[did]["messages"])[:CHUNK]
            if not ex.has_text(text):
                yield f"{repo.name}:{path}#{did}", text, "zh", "general", "dialogue"


def crosswoz_turns(ex: Exclusions) -> Iterator[Doc]:
    """Single turns of the same dialogues: short zh questions and answers with prices, times, ratings."""
    for key, text, lang, label, _ in crosswoz(ex):
        for turn in text.split("\n"):
            if len(turn) >= 8 and any(ch.isdigit() for ch in turn) and not ex.has_text(turn):
                yield key, turn, lang, label, "dialogue-turn"


def conllu(repo_name: str, lang: str, include: Callable[[str], bool], kind: str,
           chunk: int = 1200) -> Callable[[Exclusions], Iterator[Doc]]:
    """Treebank sentences (``# text =``) joined into runs of <= ``chunk`` chars per document."""
    repo = REPOS[repo_name]

    def read(ex: Exclusions) -> Iterator[Doc]:
        for path, blob in repo_files(repo, include):
            if f"{repo.name}:{path}" in ex.files:
                continue
            cur, doc = "", 0
            for line in blob.decode("utf-8", errors="replace").splitlines():
                if line.startswith("# newdoc") and cur:
                    yield f"{repo.name}:{path}#{doc}", cur, lang, "general", kind
                    cur, doc = "", doc + 1
                elif line.startswith("# text = "):
                    sent = line[9:].strip()
                    if ex.has_text(sent):
                        continue
                    sep = "" if lang == "zh" else " "
                    cur = f"{cur}{sep}{sent}" if cur else sent
                    if len(cur) >= chunk:
                        yield f"{repo.name}:{path}#{doc}", cur, lang, "general", kind
                        cur, doc = "", doc + 1
            if cur:
                yield f"{repo.name}:{path}#{doc}", cur, lang, "general", kind
    return read


def _md(prefix: str = "", suffix: str = ".md") -> Callable[[str], bool]:
    return lambda p: p.startswith(prefix) and p.endswith(suffix)


# (group, repository, reader, train cap in documents); labels come from the reader.
FETCHED: list[tuple[str, str, Callable[[Exclusions], Iterator[Doc]], int]] = [
    ("stackmathqa", "yifanzhang-pro/StackMathQA", stackmathqa, 3000),
    ("gsm8k_train", "openai/grade-school-math", gsm8k_train, 2000),
    ("mgsm_zh", "google-research/url-nlp", mgsm_zh, 250),
    ("cs228_notes", "ermongroup/cs228-notes", pages("ermongroup/cs228-notes", "en", _md(), "lecture-notes"), 1000),
    ("cs231n", "cs231n/cs231n.github.io", pages("cs231n/cs231n.github.io", "en", _md(), "lecture-notes"), 1500),
    ("d2l_en", "d2l-ai/d2l-en", pages("d2l-ai/d2l-en", "en", _md("chapter_"), "textbook"), 4000),
    ("d2l_zh", "d2l-ai/d2l-zh", pages("d2l-ai/d2l-zh", "zh", _md("chapter_"), "textbook"), 4000),
    ("oi_wiki", "OI-wiki/OI-wiki", pages("OI-wiki/OI-wiki", "zh", _md("docs/"), "wiki-notes"), 6000),
    ("dive_dl_zh", "ShusenTang/Dive-into-DL-PyTorch", pages("ShusenTang/Dive-into-DL-PyTorch", "zh", _md("docs/"), "textbook"), 2000),
    ("dl500q_zh", "scutan90/DeepLearning-500-questions", pages("scutan90/DeepLearning-500-questions", "zh", _md(), "textbook-notes"), 3000),
    ("rust_book", "rust-lang/book", pages("rust-lang/book", "en", _md("nostarch/"), "tutorial"), 2500),
    ("peps", "python/peps", pages("python/peps", "en", _md("peps/", ".rst"), "spec-tutorial", labels=("code", "general")), 3000),
    ("wangdoc_js", "wangdoc/javascript-tutorial", pages("wangdoc/javascript-tutorial", "zh", _md("docs/"), "tutorial"), 2500),
    ("wangdoc_bash", "wangdoc/bash-tutorial", pages("wangdoc/bash-tutorial", "zh", _md("docs/"), "tutorial"), 1500),
    ("advanced_java", "doocs/advanced-java", pages("doocs/advanced-java", "zh", _md("docs/"), "tech-article"), 1500),
    ("javaguide", "Snailclimb/JavaGuide", pages("Snailclimb/JavaGuide", "zh", _md("docs/"), "tech-article", ("code", "general")),
     2500),
    # problem statements carry constraint LaTeX ($1 \le n \le 10^5$): only their code and prose are used
    ("leetcode_zh", "doocs/leetcode", pages("doocs/leetcode", "zh", _md("solution/", "README.md"), "tutorial", ("code", "general")), 2000),
    ("leetcode_en", "doocs/leetcode", pages("doocs/leetcode", "en", _md("solution/", "README_EN.md"), "tutorial", ("code", "general")),
     2000),
    ("sdp_zh_tw", "donnemartin/system-design-primer", pages("donnemartin/system-design-primer", "zh", lambda p: p == "README-zh-TW.md", "tech-article"),
     500),
    ("tal_scq_zh", "math-eval/TAL-SCQ5K", tal_scq_zh, 1500),
    ("cmrc2018", "ymcui/cmrc2018", cmrc2018, 8000),
    ("xquad_zh", "google-deepmind/xquad", xquad_zh, 3000),
    ("crosswoz", "thu-coai/CrossWOZ", crosswoz, 2500),
    ("crosswoz_turns", "thu-coai/CrossWOZ", crosswoz_turns, 3000),
    ("webquestions", "brmson/dataset-factoid-webquestions", webquestions, 3000),
    ("gum", "amir-zeldes/gum", conllu("amir-zeldes/gum", "en", _md("dep/", ".conllu"), "web-genres"), 3000),
    ("ewt", "UniversalDependencies/UD_English-EWT", conllu("UniversalDependencies/UD_English-EWT", "en", _md("", ".conllu"), "web-reviews-email-qa", 600),
     3000),
    ("hk", "UniversalDependencies/UD_Chinese-HK", conllu("UniversalDependencies/UD_Chinese-HK", "zh", _md("", ".conllu"), "subtitles-legislative", 400), 1500),
    ("cfl", "UniversalDependencies/UD_Chinese-CFL", conllu("UniversalDependencies/UD_Chinese-CFL", "zh", _md("", ".conllu"), "learner-essays", 400), 1500),
]
