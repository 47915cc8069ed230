"""Real, licensed text found offline on this machine, for the shipped classifiers.

Used by ``build_classifier_models.py`` (training) and ``classifier_eval.py``
(held-out evaluation); both get exactly the same rows and the same split.

Every source yields ``(key, text)`` documents; the key (a row id or a file path) is
hashed to decide held-out membership (``HOLDOUT`` = 30% of keys), so a file's
chunks are never split between training and evaluation. Sources marked
``eval_only`` are never trained on: they measure generalisation to a language the
models did not see (Go).

Dev rows: ``tests/data/dev`` (see its PROVENANCE.md). Machine sources and their
licenses are listed in ``SOURCES`` below and in filters/models/README-classifiers.md.
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
    group: str  # "<kind>:<name>"; kind is math, code or prose
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
    Source("prose:dev_neg_en", "en", dev_rows("neg_en"), "CC-BY-SA-4.0 (UD English-EWT)", 10**6, 10**6),
    Source("prose:dev_neg_zh", "zh", dev_rows("neg_zh"), "CC-BY-SA-4.0 (UD Chinese-GSDSimp)", 10**6, 10**6),
    Source("prose:dev_langid", "multi", dev_rows("langid", ("sentence",)),
           "Apache-2.0 (lingua-go; Leipzig Wortschatz text), CC-BY-SA-4.0 (UD Chinese GSD)", 10**6, 10**6),
    Source("code:python", "code", python_stdlib, "PSF-2.0 (CPython 3.11 standard library)", 3000, 300),
    Source("code:c", "code", c_headers, "various: glibc LGPL-2.1+, Linux UAPI GPL-2.0 WITH Linux-syscall-note, "
           "others per header (/usr/include)", 3000, 300),
    Source("code:cpp", "code", cpp_headers, "GPL-3.0 WITH GCC-exception-3.1 (libstdc++ headers)", 2000, 300),
    Source("code:java", "code", java_sources, "GPL-2.0 WITH Classpath-exception-2.0 (OpenJDK src.zip)", 2500, 300),
    Source("code:rust", "code", rust_sources, "MIT OR Apache-2.0 (Rust standard library)", 2000, 300),
    Source("code:javascript", "code", javascript_sources, "Artistic-2.0 (npm), ISC/MIT (its dependencies)", 2000, 300),
    Source("code:shell", "code", shell_scripts, "various (scripts in /usr/bin, mostly GPL)", 800, 150),
    Source("code:go", "code", go_sources, "GPL-2.0 (git contrib/persistent-https)", 0, 300, per_doc=100, eval_only=True),
    Source("prose:man_en", "en", man_pages(("man1", "man2", "man3", "man5", "man7", "man8")),
           "various (man pages of installed packages)", 3000, 300, per_doc=2),
    Source("prose:info", "en", info_manuals, "GFDL-1.3 (GNU info manuals)", 1500, 200, per_doc=2),
    Source("prose:docstrings", "en", python_docstrings, "PSF-2.0 (CPython 3.11 docstrings)", 1500, 200, per_doc=2),
    Source("prose:rust_book", "en", rust_book_prose, "MIT OR Apache-2.0 (Rust book, reference)", 1500, 200, per_doc=3),
    Source("prose:man_zh", "zh", man_pages(("zh_CN", "zh_TW")), "various (translated man pages)", 400, 100, per_doc=3),
    Source("prose:locale_zh", "zh", locale_chinese, "various (gettext catalogs of installed programs, mostly GPL/LGPL)",
           2500, 300, per_doc=1),
    Source("prose:man_other", "multi", man_pages(("de", "fr", "ru", "ja", "ko", "es", "pl", "pt_BR")),
           "various (translated man pages)", 1500, 200, per_doc=2),
]


def collect(sources: list[Source] = SOURCES, chunk_chars: int = CHUNK_CHARS) -> tuple[list[LabeledText], list[LabeledText]]:
    """(train, eval) chunks of every source, split by a hash of each document's key.

    Documents are cut into ``chunk_chars`` pieces (at most ``per_doc`` per document
    for training; evaluation documents are kept whole, the scorer chunks them as the
    stage does). Each side stops at its cap, taking documents in hash order.
    """
    train: list[LabeledText] = []
    evaluation: list[LabeledText] = []
    for src in sources:
        n_train = n_eval = 0
        for key, text, *doc_lang in src.read():
            if not text or not text.strip():
                continue
            lang = doc_lang[0] if doc_lang else src.lang
            held = src.eval_only or is_holdout(key, HOLDOUT)
            if held and n_eval < src.eval_cap:
                # eval-only sources are few files: score their pieces, as a crawl would show them
                for piece in text_chunks(text, chunk_chars) if src.eval_only else [text]:
                    evaluation.append(LabeledText(piece, False, src.group, lang, key))
                    n_eval += 1
            elif not held and n_train < src.train_cap:
                for piece in text_chunks(text, chunk_chars, src.per_doc):
                    train.append(LabeledText(piece, False, src.group, lang, key))
                    n_train += 1
            if n_train >= src.train_cap and n_eval >= src.eval_cap:
                break
    return train, evaluation


def with_positive(rows: list[LabeledText], kind: str) -> list[LabeledText]:
    """The rows labeled for one model: positive when the source's kind is ``kind``."""
    return [LabeledText(r.text, r.group.startswith(kind + ":"), r.group, r.lang, r.key) for r in rows]


def languages(rows: list[LabeledText]) -> dict[str, int]:
    """Documents per natural language (for the model card)."""
    out: dict[str, int] = {}
    for r in rows:
        out[r.lang] = out.get(r.lang, 0) + 1
    return out
