"""WARC and WET reader: crawl records -> documents, with every record accounted for.

Input records (what ``records_in`` counts) are the records that carry a document:

- ``response`` (HTTP captures; a WARC's pages),
- ``resource`` with an http(s)/ftp target (a document stored without HTTP headers;
  wget's ``metadata://`` log and manifest resources are crawler bookkeeping, skipped),
- ``conversion`` (a WET file's extracted text).

``warcinfo``, ``request``, ``metadata``, ``revisit`` and ``continuation`` records are
not documents and are not counted. Each input record becomes one row or one error.

Rows that are read but hold no usable text keep an empty ``text`` and a reason:

======================  ===========================================================
``read:http_redirect``  HTTP status 3xx (the target is captured separately)
``read:http_status``    any other status that is not 2xx (404, 500, ...)
``read:not_html``       content that is neither HTML/XHTML nor plain text (images,
                        PDFs, feeds, JSON, ...)
``read:too_large``      a record over 32 MiB decompressed (not held in memory)
``read:empty_text``     nothing left after main-text extraction (or an empty body)
======================  ===========================================================

Errors (``errors/``, with the record's byte offset): a corrupt or truncated gzip
member, a bad WARC header or Content-Length (see :mod:`pipeline.io.readers.warc_records`),
an unparsable HTTP header or payload encoding, a page whose bytes decode to more than
5% replacement characters in every candidate charset, or a crash of the extractor.
A record too damaged to tell its type is counted as one errored input record even if
it was, say, a request: the reader cannot know, and dropping it silently would hide
the damage.

Columns besides the core schema: ``source_offset`` (byte offset of the record, or
of its gzip member), ``warc_type``, ``warc_date`` (WARC-Date as written, ISO 8601),
``warc_record_id``, ``http_status``, ``content_type`` (MIME type, no parameters),
``charset`` (the codec used to decode), ``warc_language`` (Common Crawl's
WARC-Identified-Content-Language, when present), ``warc_truncated`` (WARC-Truncated:
the crawler cut the payload, e.g. at Common Crawl's 1 MiB; the page is still extracted
from what was kept). ``id = stable_id(source, offset)``;
``url`` is WARC-Target-URI without the ``<...>`` some writers (wget, dolma) put around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator

import pyarrow as pa
from fastwarc.warc import WarcRecord

from pipeline.io.readers.base import ReadChunk
from pipeline.io.readers.charset import UNREADABLE_FRACTION, decode_bytes
from pipeline.io.readers.html_text import html_to_text
from pipeline.io.readers.inputs import open_input
from pipeline.io.readers.jsonl import OFFSET_COLUMN
from pipeline.io.readers.warc_records import MAX_RECORD_BYTES, RawRecord, iter_gzip_records, iter_plain_records
from pipeline.schema import make_batch, make_errors, stable_id

HTTP_REDIRECT, HTTP_STATUS = "read:http_redirect", "read:http_status"
NOT_HTML, TOO_LARGE, EMPTY_TEXT = "read:not_html", "read:too_large", "read:empty_text"
DROP_REASONS = (HTTP_REDIRECT, HTTP_STATUS, NOT_HTML, TOO_LARGE, EMPTY_TEXT)
DOCUMENT_TYPES = frozenset({"response", "resource", "conversion"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xhtml", "text/xhtml"})
TEXT_TYPES = frozenset({"text/plain"})
COLUMN_TYPES = {
    OFFSET_COLUMN: pa.int64(), "warc_type": pa.string(), "warc_date": pa.string(), "warc_record_id": pa.string(),
    "http_status": pa.int32(), "content_type": pa.string(), "charset": pa.string(), "warc_language": pa.string(),
    "warc_truncated": pa.string(),
}
_HEAD_FIELD = re.compile(rb"^([A-Za-z0-9-]+):[ \t]*(.*?)[ \t\r]*$", re.M)
_SNIFF_HTML = re.compile(rb"^\s*(?:<!doctype html|<html|<head|<body|<!--)", re.I)


@dataclass
class _Doc:
    """One document row in the making."""

    offset: int
    record_id: str
    headers: dict[str, str]
    text: str = ""
    reason: str | None = None
    status: int | None = None
    content_type: str | None = None
    charset: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


class RecordError(Exception):
    """A document record that cannot be read (becomes an error row)."""


def clean_uri(uri: str | None) -> str | None:
    if uri is None:
        return None
    uri = uri.strip()
    return uri[1:-1] if uri.startswith("<") and uri.endswith(">") else uri


def _mime(content_type: str | None) -> str | None:
    return content_type.split(";", 1)[0].strip().lower() or None if content_type else None


def _charset_param(content_type: str | None) -> str | None:
    m = re.search(r"charset\s*=\s*[\"']?([^\"';\s]+)", content_type or "", re.I)
    return m.group(1) if m else None


def _head_headers(head: bytes) -> dict[str, str]:
    """WARC headers from the head of a record too large to parse whole."""
    block = head.split(b"\r\n\r\n", 1)[0]
    return {k.decode("latin-1"): v.decode("utf-8", "replace") for k, v in _HEAD_FIELD.findall(block)}


def _record_type(headers: dict[str, str]) -> str:
    return headers.get("WARC-Type", "").strip().lower()


def _is_document(headers: dict[str, str]) -> bool:
    kind = _record_type(headers)
    if kind not in DOCUMENT_TYPES:
        return False
    if kind == "resource":
        return (clean_uri(headers.get("WARC-Target-URI")) or "").lower().startswith(("http://", "https://", "ftp://"))
    return True


def _text_of(body: bytes, mime: str | None, declared: str | None, doc: _Doc, extractor: str) -> None:
    """Decode and extract the text of a payload into ``doc``."""
    is_html = mime in HTML_TYPES or (mime is None and bool(_SNIFF_HTML.match(body[:512])))
    if not is_html and mime not in TEXT_TYPES and mime is not None:
        doc.reason = NOT_HTML
        return
    if not body.strip():
        doc.reason = EMPTY_TEXT
        return
    decoded = decode_bytes(body, declared, html=is_html)
    doc.charset = decoded.charset
    if decoded.replaced > UNREADABLE_FRACTION:
        raise RecordError(f"undecodable page: {decoded.replaced:.0%} of characters unreadable as {decoded.charset}")
    if is_html:
        try:
            doc.text = html_to_text(decoded.text, extractor)
        except Exception as exc:  # noqa: BLE001 - a parser crash on one page must not stop the file
            raise RecordError(f"HTML extraction failed: {type(exc).__name__}: {exc}") from None
    else:
        doc.text = decoded.text.strip()
    if not doc.text.strip():
        doc.reason = EMPTY_TEXT


def parse_document(raw: RawRecord, extractor: str = "resiliparse") -> _Doc | None:
    """A document row for a raw record; None if the record is not a document; RecordError if bad."""
    if raw.too_large:
        headers = _head_headers(raw.data or b"")
        if not _is_document(headers):
            return None
        return _Doc(raw.offset, headers.get("WARC-Record-ID", ""), headers, reason=TOO_LARGE)
    try:
        rec = WarcRecord.from_bytes(raw.data)
    except OSError as exc:
        raise RecordError(f"malformed WARC record: {exc}") from None
    headers = dict(rec.headers)
    if not _is_document(headers):
        return None
    doc = _Doc(raw.offset, headers.get("WARC-Record-ID", ""), headers)
    try:
        if (headers.get("Content-Type") or "").lower().startswith("application/http"):
            rec.parse_http(auto_decode="all")
            doc.status = rec.http_headers.status_code
            content_type = rec.http_headers.get("Content-Type")
            body = rec.reader.read()
        else:
            content_type = headers.get("Content-Type")
            body = rec.reader.read()
    except (OSError, ValueError) as exc:
        raise RecordError(f"invalid HTTP message: {exc}") from None
    doc.content_type = _mime(content_type)
    if doc.status is not None and not 200 <= doc.status < 300:
        doc.reason = HTTP_REDIRECT if 300 <= doc.status < 400 else HTTP_STATUS
        return doc
    _text_of(body, doc.content_type, _charset_param(content_type), doc, extractor)
    return doc


class _Chunk:
    def __init__(self, source: str) -> None:
        self.source = source
        self.docs: list[_Doc] = []
        self.err_offsets: list[int] = []
        self.err_msgs: list[str] = []

    def flush(self) -> ReadChunk:
        docs = self.docs
        ids = [stable_id(self.source, d.offset) if d.extra.get("index", 0) == 0
               else stable_id(self.source, f"{d.offset}.{d.extra['index']}") for d in docs]
        values = {
            OFFSET_COLUMN: [d.offset for d in docs],
            "warc_type": [_record_type(d.headers) for d in docs],
            "warc_date": [d.headers.get("WARC-Date") for d in docs],
            "warc_record_id": [d.record_id or None for d in docs],
            "http_status": [d.status for d in docs],
            "content_type": [d.content_type for d in docs],
            "charset": [d.charset for d in docs],
            "warc_language": [d.headers.get("WARC-Identified-Content-Language") for d in docs],
            "warc_truncated": [d.headers.get("WARC-Truncated") for d in docs],
        }
        extra = {name: pa.array(values[name], dtype) for name, dtype in COLUMN_TYPES.items()}
        records = make_batch([d.text for d in docs], ids=ids, source=self.source,
                             urls=[clean_uri(d.headers.get("WARC-Target-URI")) for d in docs], extra=extra)
        reasons = [d.reason for d in docs]
        if any(reasons):
            records = records.set_column(records.schema.get_field_index("drop_reason"), "drop_reason",
                                         pa.array(reasons, pa.string()))
        chunk = ReadChunk(records, make_errors(self.source, self.err_offsets, self.err_msgs))
        self.docs, self.err_offsets, self.err_msgs = [], [], []
        return chunk


def read_warc(path: str, *, batch_size: int = 1000, extractor: str = "resiliparse",
              max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[ReadChunk]:
    """Stream one WARC or WET file (gzip or not, detected from the bytes) as ReadChunks."""
    chunk = _Chunk(path)
    with open_input(path) as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        records = (iter_gzip_records(raw, max_record_bytes=max_record_bytes) if gzipped
                   else iter_plain_records(raw, max_record_bytes=max_record_bytes))
        for rec in records:
            if rec.error is not None:
                chunk.err_offsets.append(rec.offset)
                chunk.err_msgs.append(rec.error)
            else:
                try:
                    doc = parse_document(rec, extractor)
                except RecordError as exc:
                    chunk.err_offsets.append(rec.offset)
                    chunk.err_msgs.append(str(exc))
                    doc = None
                if doc is not None:
                    if rec.index:
                        doc.extra["index"] = rec.index
                    chunk.docs.append(doc)
            if len(chunk.docs) >= batch_size or len(chunk.err_offsets) >= batch_size:
                yield chunk.flush()
    if chunk.docs or chunk.err_offsets:
        yield chunk.flush()
