"""All labeled text of the shipped classifiers, and how it is split.

Used by ``build_classifier_models.py`` (training, mining rounds, calibration) and
``classifier_eval.py``/``classify_speed.py`` (held-out evaluation); all get exactly
the same rows and the same splits. Every row is a :class:`LabeledText` whose group
is ``"<label>:<source>"`` with label ``math``, ``code`` or ``general``.

Four sets, four splits (all by a stable hash of a key, never by position):

* ``web``: the shared dev web rows (``../shared/data/dev/web``, real web-style zh/en
  text): 40% ``train``, 15% ``calib`` (thresholds and calibration), 45% ``test``
  (only quoted figures; never trained on, never used to choose anything), by
  ``split_key_hash(id, "taosha-web")``.
* ``fetched``: chunks of public repositories fetched at pinned commits
  (``classifier_fetched.py``): 70% ``train``, 15% ``mine`` (the pool scored in each
  round; its mistakes join the next round's training), 15% ``calib``, by a hash of
  the file (a file never straddles two splits). Text of any dev row is excluded.
* ``clean``: ``tests/data/dev`` (benchmark problems, code files, treebank
  sentences): 70% ``train``, 30% ``test`` (``is_holdout(id, 0.3)``, as before).
* ``machine``: source files and manuals found on this machine (Python stdlib, C/C++
  headers, OpenJDK, Rust std, npm, shell scripts; man/info pages, docstrings,
  Chinese gettext catalogs): 70% ``train``, 30% ``test`` by file path; Go is test-only.
"""

from __future__ import annotations

import ast
import gzip
import html
import json
import re
import struct
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from filters.classify.data import LabeledText, is_holdout, split_key_hash, text_chunks

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "tests" / "data" / "dev"
HOLDOUT = 0.3
CHUNK_CHARS = 2000
STDLIB = Path(sysconfig.get_paths()["stdlib"])
RUST_DOC = Path.home() / ".rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html"

Docs = Iterator[tuple]  # (key, text) or (key, text, natural language of this document)


# ------------------------------------------------------------------ readers


def _read(path: Path, limit: int = 400_000) -> str:
    try:
        raw = path.read_bytes()[:limit]
    except OSError:
        return ""
    if b"\x00" in raw[:4096]:
        return ""
    return raw.decode("utf-8", errors="replace")


def _files(root: Path, pattern: str, skip: tuple[str, ...] = ()) -> list[Path]:
    if not root.exists():
        return []
    out = [p for p in root.rglob(pattern) if p.is_file() and not any(s in p.parts for s in skip)]
    return sorted(out, key=lambda p: split_key_hash(str(p), "order"))  # a stable, unbiased order


def python_stdlib() -> Docs:
    for p in _files(STDLIB, "*.py", skip=("site-packages", "idlelib")):
        yield str(p), _read(p)


def python_docstrings() -> Docs:
    """Docstrings of stdlib modules, classes and functions: English technical prose."""
    for p in _files(STDLIB, "*.py", skip=("site-packages", "test", "idlelib")):
        try:
            tree = ast.parse(_read(p))
        except (SyntaxError, ValueError):
            continue
        docs = [ast.get_docstring(n) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
        docs = [d for d in docs if d and len(d) > 200 and ">>>" not in d]
        if docs:
            yield f"doc:{p}", "\n\n".join(docs)


def c_headers() -> Docs:
    for p in _files(Path("/usr/include"), "*.h", skip=("c++", "node")):
        yield str(p), _read(p)


def cpp_headers() -> Docs:
    for p in _files(Path("/usr/include/c++"), "*"):
        if "." not in p.name or p.suffix in (".h", ".hpp", ".tcc", ".cc"):
            yield str(p), _read(p)


def java_sources() -> Docs:
    for zpath in sorted(Path("/usr/lib/jvm").glob("*/lib/src.zip")):
        if not zpath.exists():
            continue
        with zipfile.ZipFile(zpath) as z:
            names = sorted((n for n in z.namelist() if n.endswith(".java")), key=lambda n: split_key_hash(n, "order"))
            for n in names:
                yield f"java:{n}", z.read(n)[:400_000].decode("utf-8", errors="replace")
        return


_RUST_LINE_NO = re.compile(r"<a href=#\d+ id=\d+ data-nosnippet>\d+</a>")
_TAG = re.compile(r"<[^>]+>")


def rust_sources() -> Docs:
    """Rust standard library sources, from the rustdoc source pages (line numbers and markup removed)."""
    for p in _files(RUST_DOC / "src", "*.rs.html"):
        page = _read(p, 2_000_000)
        m = re.search(r'<pre class="rust"><code>(.*?)</code></pre>', page, re.S)
        if m:
            yield str(p), html.unescape(_TAG.sub("", _RUST_LINE_NO.sub("", m.group(1))))


def rust_book_prose() -> Docs:
    """Paragraphs of the Rust book and reference (English technical prose)."""
    for sub in ("book", "reference", "rust-by-example", "edition-guide"):
        for p in _files(RUST_DOC / sub, "*.html"):
            paras = [html.unescape(_TAG.sub("", m)) for m in re.findall(r"<p>(.*?)</p>", _read(p, 2_000_000), re.S)]
            text = "\n\n".join(t.strip() for t in paras if len(t) > 80)
            if text:
                yield str(p), text


def javascript_sources() -> Docs:
    for p in _files(Path("/usr/lib/node_modules"), "*.js"):
        if not p.name.endswith(".min.js"):
            yield str(p), _read(p)


def shell_scripts() -> Docs:
    for p in _files(Path("/usr/bin"), "*"):
        head = _read(p, 64)
        if head.startswith(("#!/bin/sh", "#!/bin/bash", "#!/usr/bin/env bash", "#! /bin/sh")):
            yield str(p), _read(p)


def go_sources() -> Docs:
    for p in _files(Path("/usr/share/doc"), "*.go"):
        yield str(p), _read(p)


# groff man pages -> text: drop requests/macros, keep their text arguments
_GROFF_ESC = re.compile(r"\\f(\[[^\]]*\]|\(..|.)|\\s[+-]?\d+|\\\*(\(..|.)|\\[&|^%:]|\\\(..|\\\[[^\]]*\]")
_MACRO_TEXT = re.compile(r'^\.(?:B|I|BR|BI|IR|RB|IB|RI|SH|SS|Nm|Nd|Sh|Ss|Pa|Fl|Ar|Xr|TP|IP|It)\s+(.*)$')


def groff_text(src: str) -> str:
    out: list[str] = []
    for line in src.splitlines():
        if line.startswith((".\\\"", "'\\\"", ".\\}")):
            continue
        if line.startswith((".", "'")):
            m = _MACRO_TEXT.match(line)
            if not m:
                if line[1:3] in ("PP", "P", "LP", "SH", "sp", "Pp"):
                    out.append("")
                continue
            line = m.group(1).replace('"', "")
        out.append(_GROFF_ESC.sub("", line).replace("\\-", "-").replace("\\e", "\\"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def man_pages(lang_dirs: tuple[str, ...]) -> Callable[[], Docs]:
    def gen() -> Docs:
        for d in lang_dirs:
            for p in _files(Path("/usr/share/man") / d, "*.gz"):
                if p.name.startswith("gcloud"):  # ~16k templated pages of one tool
                    continue
                try:
                    src = gzip.decompress(p.read_bytes()).decode("utf-8", errors="replace")
                except (OSError, EOFError):
                    continue
                yield str(p), groff_text(src)
    return gen


def info_manuals() -> Docs:
    for p in _files(Path("/usr/share/info"), "*.gz"):
        try:
            text = gzip.decompress(p.read_bytes()).decode("utf-8", errors="replace")
        except (OSError, EOFError):
            continue
        # one document per info node (nodes are separated by the 0x1f control character)
        for i, node in enumerate(text.split("\x1f")):
            if len(node) > 300:
                yield f"{p}#{i}", node


def _mo_messages(path: Path) -> list[str]:
    """Translated strings of a GNU gettext .mo catalog (little- or big-endian)."""
    data = path.read_bytes()
    if len(data) < 28:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic == 0x950412DE else ">"
    _, n, _, trans_off = struct.unpack(end + "4I", data[4:20])
    out = []
    for i in range(n):
        length, offset = struct.unpack(end + "2I", data[trans_off + 8 * i: trans_off + 8 * i + 8])
        msg = data[offset:offset + length].decode("utf-8", errors="replace").split("\x00")[0]
        if len(msg) >= 6:
            out.append(msg)
    return out


def locale_chinese() -> Docs:
    """Chinese UI messages of installed programs, grouped ~12 to a document."""
    for d in ("zh_CN", "zh_TW"):
        for p in _files(Path("/usr/share/locale") / d / "LC_MESSAGES", "*.mo"):
            msgs = _mo_messages(p)
            for i in range(0, len(msgs), 12):
                yield f"{p}#{i}", "\n".join(msgs[i:i + 12])


def dev_rows(name: str, kinds: tuple[str, ...] = ()) -> Callable[[], Docs]:
    def gen() -> Docs:
        for line in (DEV / f"{name}.jsonl").open(encoding="utf-8"):
            r = json.loads(line)
            if not kinds or r.get("kind") in kinds:
                yield (r["id"], r["text"], r["label"]) if name == "langid" else (r["id"], r["text"])
    return gen


@dataclass(frozen=True)
class Source:
    group: str  # "<kind>:<name>"; kind is math, code or general
    lang: str  # natural language of the text (code: "code")
    read: Callable[[], Docs]
    license: str
    train_cap: int  # most training chunks taken
    eval_cap: int  # most held-out chunks taken
    per_doc: int = 4  # most chunks per document
    eval_only: bool = False

    @property
    def kind(self) -> str:
        return self.group.split(":", 1)[0]


SOURCES: list[Source] = [
    Source("math:dev_math_pos_en", "en", dev_rows("math_pos_en"), "MIT (GSM8K test, MATH500)", 10**6, 10**6),
    Source("math:dev_math_pos_zh", "zh", dev_rows("math_pos_zh"), "CC-BY-4.0 (CMATH dev)", 10**6, 10**6),
    Source("code:dev_code_pos", "code", dev_rows("code_pos"), "MIT / Apache-2.0 (jieba, Sa-Token, express)", 10**6, 10**6),
    Source("general:dev_neg_en", "en", dev_rows("neg_en"), "CC-BY-SA-4.0 (UD English-EWT)", 10**6, 10**6),
    Source("general:dev_neg_zh", "zh", dev_rows("neg_zh"), "CC-BY-SA-4.0 (UD Chinese-GSDSimp)", 10**6, 10**6),
    Source("general:dev_langid", "multi", dev_rows("langid", ("sentence",)),
           "Apache-2.0 (lingua-go; Leipzig Wortschatz text), CC-BY-SA-4.0 (UD Chinese GSD)", 10**6, 10**6),
    Source("code:python", "code", python_stdlib, "PSF-2.0 (CPython 3.11 standard library)", 1200, 150),
    Source("code:c", "code", c_headers, "various: glibc LGPL-2.1+, Linux UAPI GPL-2.0 WITH Linux-syscall-note, "
           "others per header (/usr/include)", 1200, 150),
    Source("code:cpp", "code", cpp_headers, "GPL-3.0 WITH GCC-exception-3.1 (libstdc++ headers)", 600, 100),
    Source("code:java", "code", java_sources, "GPL-2.0 WITH Classpath-exception-2.0 (OpenJDK src.zip)", 1000, 150),
    Source("code:rust", "code", rust_sources, "MIT OR Apache-2.0 (Rust standard library)", 800, 150),
    Source("code:javascript", "code", javascript_sources, "Artistic-2.0 (npm), ISC/MIT (its dependencies)", 800, 150),
    Source("code:shell", "code", shell_scripts, "various (scripts in /usr/bin, mostly GPL)", 300, 100),
    Source("code:go", "code", go_sources, "GPL-2.0 (git contrib/persistent-https)", 0, 300, per_doc=100, eval_only=True),
    Source("general:man_en", "en", man_pages(("man1", "man2", "man3", "man5", "man7", "man8")),
           "various (man pages of installed packages)", 1200, 150, per_doc=2),
    Source("general:info", "en", info_manuals, "GFDL-1.3 (GNU info manuals)", 600, 100, per_doc=2),
    Source("general:docstrings", "en", python_docstrings, "PSF-2.0 (CPython 3.11 docstrings)", 600, 100, per_doc=2),
    Source("general:rust_doc_prose", "en", rust_book_prose, "MIT OR Apache-2.0 (Rust book, reference)", 600, 100,
           per_doc=3),
    Source("general:man_zh", "zh", man_pages(("zh_CN", "zh_TW")), "various (translated man pages)", 300, 100, per_doc=3),
    Source("general:locale_zh", "zh", locale_chinese, "various (gettext catalogs of installed programs, mostly GPL/LGPL)",
           1000, 150, per_doc=1),
    Source("general:man_other", "multi", man_pages(("de", "fr", "ru", "ja", "ko", "es", "pl", "pt_BR")),
           "various (translated man pages)", 600, 100, per_doc=2),
]

WEB_DIR = ROOT.parent / "shared" / "data" / "dev" / "web"
WEB_FILES = ("zh_math", "en_math", "zh_code", "en_code", "zh_general", "en_general", "short_questions")
SPLITS = ("train", "mine", "calib", "test")


def web_split(row_id: str) -> str:
    """train (40%) / calib (15%) / test (45%) for a dev web row."""
    b = split_key_hash(row_id, "taosha-web")
    return "train" if b < 4000 else "calib" if b < 5500 else "test"


def fetched_split(key: str) -> str:
    """train (70%) / mine (15%) / calib (15%) for a fetched file."""
    b = split_key_hash(key, "taosha-fetched")
    return "train" if b < 7000 else "mine" if b < 8500 else "calib"


def web_rows(web_dir: Path = WEB_DIR) -> list[LabeledText]:
    """The shared dev web rows, each tagged with its split."""
    out = []
    for name in WEB_FILES:
        for line in (web_dir / f"{name}.jsonl").open(encoding="utf-8"):
            r = json.loads(line)
            out.append(LabeledText(r["text"], False, f"{r['label']}:web_{name}", r["lang"], r["id"],
                                   {"set": "web", "kind": r["kind"], "split": web_split(r["id"])}))
    return out


def machine_and_clean_rows(chunk_chars: int = CHUNK_CHARS) -> list[LabeledText]:
    """Machine text and tests/data/dev rows: chunks for train, whole documents for test."""
    out: list[LabeledText] = []
    for src in SOURCES:
        n_train = n_eval = 0
        kind = "clean" if ":dev_" in src.group else "machine"
        for key, text, *doc_lang in src.read():
            if not text or not text.strip():
                continue
            lang = doc_lang[0] if doc_lang else src.lang
            held = src.eval_only or is_holdout(key, HOLDOUT)
            if held and n_eval < src.eval_cap:
                for piece in text_chunks(text, chunk_chars) if src.eval_only else [text]:
                    out.append(LabeledText(piece, False, src.group, lang, key, {"set": kind, "split": "test"}))
                    n_eval += 1
            elif not held and n_train < src.train_cap:
                for piece in text_chunks(text, chunk_chars, src.per_doc):
                    out.append(LabeledText(piece, False, src.group, lang, key, {"set": kind, "split": "train"}))
                    n_train += 1
            if n_train >= src.train_cap and n_eval >= src.eval_cap:
                break
    return out


def fetched_rows(web_dir: Path = WEB_DIR) -> list[LabeledText]:
    """Chunks of the fetched repositories (see classifier_fetched.FETCHED), split by file hash.

    Each source keeps at most its cap of ``train`` chunks, half of that in ``mine``
    and a fifth in ``calib``, taking files in hash order.
    """
    import classifier_fetched as cf

    ex = cf.Exclusions.from_dev(web_dir, DEV)
    out: list[LabeledText] = []
    for group, _repo, read, cap in cf.FETCHED:
        caps = {"train": cap, "mine": cap // 2, "calib": cap // 5}
        n = dict.fromkeys(caps, 0)
        for key, text, lang, label, kind in read(ex):
            split = fetched_split(key)
            if n[split] < caps[split]:
                out.append(LabeledText(text, False, f"{label}:{group}", lang, key,
                                       {"set": "fetched", "kind": kind, "split": split}))
                n[split] += 1
            if all(n[s] >= caps[s] for s in caps):
                break
    return out


def collect(with_fetched: bool = True) -> dict[str, list[LabeledText]]:
    """Every row, by split: ``train``, ``mine``, ``calib``, ``test`` (see the module docstring)."""
    rows = web_rows() + machine_and_clean_rows() + (fetched_rows() if with_fetched else [])
    return {s: [r for r in rows if r.meta["split"] == s] for s in SPLITS}


def label_of(row: LabeledText) -> str:
    return row.group.split(":", 1)[0]


def with_positive(rows: list[LabeledText], kind: str) -> list[LabeledText]:
    """The rows labeled for one model: positive when the row's label is ``kind``."""
    return [LabeledText(r.text, label_of(r) == kind, r.group, r.lang, r.key, r.meta) for r in rows]
