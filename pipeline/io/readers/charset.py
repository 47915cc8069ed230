"""Decode crawled bytes to text: the right charset for gb2312/gbk/meta-declared pages.

Order (first that decodes the bytes without error wins):

1. a byte-order mark;
2. valid UTF-8 that contains non-ASCII bytes: a legacy-encoded page of any length is
   almost never valid UTF-8 by accident, while mislabeled UTF-8 pages (a server default
   of ISO-8859-1, a copied ``<meta charset=gbk>``) are common;
3. the charset of the HTTP ``Content-Type`` header;
4. ``<meta charset>`` / ``<meta http-equiv="Content-Type">`` in the first 4 KiB;
5. charset-normalizer's best guess.

Labels are mapped to the superset codec a browser would use (WHATWG labels): gb2312,
gbk, cp936 -> gb18030; iso-8859-1, ascii -> cp1252; big5 -> big5hkscs; shift_jis ->
cp932; euc-kr -> cp949. If no candidate decodes cleanly, the best one decodes with
U+FFFD replacements, and the fraction replaced is returned so the caller can reject a
page that is unreadable (not fatal for a few stray bytes).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "ms936": "gb18030", "x-gbk": "gb18030",
    "csgb2312": "gb18030", "gb_2312-80": "gb18030", "chinese": "gb18030", "iso-ir-58": "gb18030",
    "euc-cn": "gb18030", "x-euc-cn": "gb18030", "hz-gb-2312": "gb18030",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "iso8859-1": "cp1252", "l1": "cp1252",
    "ascii": "cp1252", "us-ascii": "cp1252", "iso_8859-1": "cp1252",
    "big5": "big5hkscs", "big5-hkscs": "big5hkscs", "x-x-big5": "big5hkscs",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "ms_kanji": "cp932",
    "windows-31j": "cp932", "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "windows-949": "cp949",
    "tis-620": "cp874", "iso-8859-11": "cp874", "windows-874": "cp874", "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8", "x-unicode20utf8": "utf-8",
}
_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.()+-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
UNREADABLE_FRACTION = 0.05


@dataclass
class Decoded:
    text: str
    charset: str  # the codec used
    replaced: float  # fraction of characters that are U+FFFD replacements we introduced


def normalize_label(label: str | None) -> str | None:
    """A Python codec name for a charset label, upgraded to its superset; None if unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = SUPERSETS.get(name, name)
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return SUPERSETS.get(codec, codec)


def meta_charset(body: bytes) -> str | None:
    """The charset declared by a ``<meta>`` tag in the first 4 KiB, if any."""
    m = _META.search(body, 0, 4096)
    return normalize_label(m.group(1).decode("ascii", "replace")) if m else None


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_bytes(body: bytes, declared: str | None = None, *, html: bool = True) -> Decoded:
    """Decode ``body`` following the module's order; never raises."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            text = body[len(bom):].decode(codec, "replace")
            return Decoded(text, codec, _replaced(text, body))
    if not body.isascii():
        text = _strict(body, "utf-8")
        if text is not None:
            return Decoded(text, "utf-8", 0.0)
    else:
        return Decoded(body.decode("ascii"), normalize_label(declared) or "utf-8", 0.0)
    candidates = [normalize_label(declared)]
    if html:
        candidates.append(meta_charset(body))
    for codec in candidates:
        if codec and (text := _strict(body, codec)) is not None:
            return Decoded(text, codec, 0.0)
    guess = charset_normalizer.from_bytes(body[: 1 << 18]).best()
    guessed = normalize_label(guess.encoding) if guess is not None else None
    if guessed and (text := _strict(body, guessed)) is not None:
        return Decoded(text, guessed, 0.0)
    codec = next((c for c in candidates if c), None) or guessed or "utf-8"
    text = body.decode(codec, "replace")
    return Decoded(text, codec, _replaced(text, body))


def _replaced(text: str, body: bytes) -> float:
    if not text:
        return 0.0
    introduced = text.count("\ufffd") - body.count(b"\xef\xbf\xbd")
    return max(introduced, 0) / len(text)
