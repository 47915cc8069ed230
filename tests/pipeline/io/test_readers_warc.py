"""WARC/WET reader on the real crawl samples of configs/demo_data.

warcio (the reference WARC library, independent of the FastWARC-based reader) counts
the document records each file holds; the reader must account for every one of them.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pyarrow as pa
import pytest
from fastwarc.warc import WarcRecord
from warcio.archiveiterator import ArchiveIterator

from pipeline.config import InputConfig
from pipeline.io.readers import read_file
from pipeline.io.readers.warc import DROP_REASONS
from pipeline.io.readers.warc_records import iter_gzip_records
from pipeline.schema import stable_id

DEMO = Path(__file__).resolve().parents[3] / "configs" / "demo_data"
WARCS = sorted(DEMO.rglob("*.warc.gz")) + sorted(DEMO.rglob("*.warc.wet.gz"))
CHINESE = DEMO / "chatnoir-eu__chatnoir-resiliparse" / "warcfile.warc.gz"
DOLMA0 = DEMO / "allenai__dolma" / "sample-0000.warc.gz"
CJK = re.compile(r"[\u4e00-\u9fff]")
MOJIBAKE = re.compile(r"Ã|Â|锟斤拷|\ufffd{2,}|ï¿½")


def read_all(path: Path, **cfg):
    chunks = list(read_file(str(path), InputConfig(**cfg)))
    return (chunks, pa.concat_tables([c.records for c in chunks]), pa.concat_tables([c.errors for c in chunks]))


def reference_documents(path: Path) -> list[dict]:
    """Document records per warcio: responses, http(s) resources, conversions."""
    docs = []
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f):
            uri = (rec.rec_headers.get_header("WARC-Target-URI") or "").strip("<>")
            if rec.rec_type in ("response", "conversion") or (rec.rec_type == "resource" and uri.startswith("http")):
                docs.append({"type": rec.rec_type, "uri": uri, "date": rec.rec_headers.get_header("WARC-Date"),
                             "status": rec.http_headers.get_statuscode() if rec.http_headers else None,
                             "block": rec.content_stream().read() if rec.rec_type == "conversion" else None})
    return docs


@pytest.mark.parametrize("path", WARCS, ids=lambda p: p.name)
def test_every_document_record_is_a_row_or_an_error(path):
    chunks, records, errors = read_all(path, batch_size=7)
    reference = reference_documents(path)
    assert errors.num_rows == 0  # the real samples are well-formed
    assert records.num_rows == len(reference)
    assert records["url"].to_pylist() == [d["uri"] for d in reference]
    assert records["warc_date"].to_pylist() == [d["date"] for d in reference]
    assert records["warc_type"].to_pylist() == [d["type"] for d in reference]
    statuses = [int(d["status"]) if d["status"] else None for d in reference]
    assert records["http_status"].to_pylist() == statuses
    assert all(c.records.num_rows <= 7 for c in chunks)
    assert records["id"].to_pylist() == [stable_id(str(path), o) for o in records["source_offset"].to_pylist()]
    assert len(set(records["id"].to_pylist())) == records.num_rows
    assert set(records["drop_reason"].to_pylist()) <= {None, *DROP_REASONS}


def test_offsets_are_the_gzip_members_of_the_records():
    _, records, _ = read_all(DOLMA0)
    with open(DOLMA0, "rb") as f:
        members = {r.offset for r in iter_gzip_records(f)}
    for offset in records["source_offset"].to_pylist():
        assert offset in members
        with open(DOLMA0, "rb") as f:
            f.seek(offset)
            assert f.read(2) == b"\x1f\x8b"


def test_dolma_urls_lose_their_angle_brackets_and_dates_are_iso():
    _, records, _ = read_all(DOLMA0)
    assert all(u.startswith("https://") and not u.endswith(">") for u in records["url"].to_pylist())
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", d) for d in records["warc_date"].to_pylist())


def test_chinese_pages_come_out_as_readable_chinese():
    _, records, errors = read_all(CHINESE)
    assert errors.num_rows == 0
    rows = {r["url"]: r for r in records.to_pylist()}
    chinese = [r for r in rows.values() if len(CJK.findall(r["text"])) >= 20]
    assert len(chinese) >= 10
    for r in chinese:
        assert not MOJIBAKE.search(r["text"]), (r["url"], MOJIBAKE.search(r["text"]))
    # gb2312 in the HTTP header, decoded as its superset gb18030
    assert rows["http://0760.jxtdw.com/area/sanxiang/"]["charset"] == "gb18030"
    assert "中山英才网" in rows["http://0760.jxtdw.com/area/sanxiang/"]["text"]
    # no HTTP charset, only <meta charset=gbk>
    assert "上海特舟实业有限公司" in rows["http://041696.com/15477/list_6_4.html"]["text"]
    # windows-1251 page stays Cyrillic
    assert "О компании" in rows["http://01spb.ru/company/"]["text"]


def test_code_blocks_keep_their_newlines_and_indentation():
    for extractor in ("resiliparse", "trafilatura"):
        _, records, _ = read_all(DOLMA0, extract=extractor)
        text = {r["url"]: r["text"] for r in records.to_pylist()}["https://maria-antoniak.github.io/2020/03/25/pip.html"]
        assert 'with open("README.md", "r") as fh:\n    long_description = fh.read()' in text, extractor
        assert 'setuptools.setup(\n    name="little-mallet-wrapper",\n    version="0.0.4",' in text, extractor
        assert "YOUR_PROJECT/\n    YOUR_PROJECT/\n        __init__.py" in text, extractor


def test_mathjax_pages_lose_no_text_to_scripts_and_keep_injected_latex(tmp_path):
    """The MathJax pages of sample-0000 load MathJax but the capture holds no formula,
    so formulas in every notation are injected into their real markup."""
    with open(DOLMA0, "rb") as f:
        raws = [r for r in iter_gzip_records(f) if r.data and b"WARC-Type: response" in r.data]
    mathjax = [r for r in raws if re.search(rb"(?i)mathjax", r.data)]
    assert len(mathjax) >= 5
    formulas = (
        '<p>Inline <script type="math/tex">x^2 + y^2 = z^2</script> and display '
        '<script type="math/tex; mode=display">\\int_0^1 f(x)\\,dx</script> in prose.</p>'
        '<p>Already delimited: \\(a+b\\) and $$\\sum_{i=1}^n i$$ and \\[E = mc^2\\].</p>'
        '<p>KaTeX <span class="katex"><span class="katex-mathml"><math><semantics><mrow><mi>k</mi></mrow>'
        '<annotation encoding="application/x-tex">\\frac{k}{2}</annotation></semantics></math></span>'
        '<span class="katex-html" aria-hidden="true">k2</span></span> and MathML '
        '<math><mfrac><mi>p</mi><mi>q</mi></mfrac></math> here.</p>'
    ).encode()
    members = []
    for raw in mathjax:
        rec = WarcRecord.from_bytes(raw.data)
        rec.parse_http(auto_decode="all")
        html = rec.reader.read()
        longest = max(re.finditer(rb"(?is)<p[ >].*?</p>", html), key=lambda m: len(m.group(0)))
        body_at = longest.end()  # next to the page's main prose
        html = html[:body_at] + formulas + html[body_at:]
        block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html
        head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {rec.headers['WARC-Target-URI']}\r\n"
                f"WARC-Date: {rec.headers['WARC-Date']}\r\nContent-Type: application/http;msgtype=response\r\n"
                f"Content-Length: {len(block)}\r\n\r\n").encode()
        members.append(gzip.compress(head + block + b"\r\n\r\n", mtime=0))
    path = tmp_path / "mathjax.warc.gz"
    path.write_bytes(b"".join(members))
    _, records, errors = read_all(path)
    assert errors.num_rows == 0 and records.num_rows == len(mathjax)
    for text in records["text"].to_pylist():
        assert "$x^2 + y^2 = z^2$" in text
        assert "\n$$\\int_0^1 f(x)\\,dx$$\n" in text
        assert "\\(a+b\\)" in text and "$$\\sum_{i=1}^n i$$" in text and "\\[E = mc^2\\]" in text
        assert "$\\frac{k}{2}$" in text and "k2" not in text
        assert "$\\frac{p}{q}$" in text
        assert "MathJax.Hub.Config" not in text and "tex2jax" not in text


def test_real_mathjax_pages_extract_their_prose():
    _, records, _ = read_all(DOLMA0)
    rows = {r["url"]: r["text"] for r in records.to_pylist()}
    assert "MathJax" not in rows["https://joe.cat/"]
    assert len(rows["https://kyleclo.com/"]) > 300


def test_non_documents_get_read_reasons():
    _, records, _ = read_all(DEMO / "commoncrawl__ia-web-commons" / "IAH-urls-wget.warc.gz")
    rows = records.to_pylist()
    for r in rows:
        if 300 <= r["http_status"] < 400:
            assert r["drop_reason"] == "read:http_redirect" and r["text"] == ""
        elif r["content_type"] in ("image/jpeg", "image/gif", "image/png", "text/xml"):
            assert r["drop_reason"] == "read:not_html" and r["text"] == ""
    robots = [r for r in rows if r["url"] == "http://archive.org/robots.txt"][0]
    assert robots["drop_reason"] is None and "User-agent" in robots["text"]
    assert {r["drop_reason"] for r in rows} == {None, "read:http_redirect", "read:not_html"}


def test_wet_text_matches_the_conversion_record():
    path = DEMO / "commoncrawl__whirlwind-python" / "whirlwind.warc.wet.gz"
    _, records, _ = read_all(path)
    (ref,) = reference_documents(path)
    row = records.to_pylist()[0]
    assert row["text"] == ref["block"].decode("utf-8").strip()
    assert row["url"] == "https://an.wikipedia.org/wiki/Escopete" and row["warc_date"] == ref["date"]
    assert row["warc_language"] == "spa" and row["warc_type"] == "conversion"


def test_uncompressed_warc_gives_the_same_documents(tmp_path):
    path = tmp_path / "sample.warc"
    path.write_bytes(gzip.decompress(DOLMA0.read_bytes()))
    _, plain, _ = read_all(path)
    _, gz, _ = read_all(DOLMA0)
    assert plain["text"].to_pylist() == gz["text"].to_pylist()
    assert plain["url"].to_pylist() == gz["url"].to_pylist()
    assert plain["source_offset"].to_pylist() != gz["source_offset"].to_pylist()


def test_reading_twice_gives_the_same_ids_and_text():
    _, a, _ = read_all(CHINESE)
    _, b, _ = read_all(CHINESE, batch_size=3)
    assert a["id"].to_pylist() == b["id"].to_pylist() and a["text"].to_pylist() == b["text"].to_pylist()


def warc_member(uri: str, http: bytes, warc_type: str = "response", content_type: str = "application/http;msgtype=response") -> bytes:
    head = (f"WARC/1.0\r\nWARC-Type: {warc_type}\r\nWARC-Target-URI: {uri}\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(http)}\r\n\r\n").encode()
    return head + http + b"\r\n\r\n"


def http_response(body: bytes, content_type: str = "text/html", status: str = "200 OK") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n\r\n".encode() + body


def test_unreadable_page_is_an_error_and_statuses_get_reasons(tmp_path):
    good = b"<html><body><p>" + b"A readable page about sums and products of numbers. " * 5 + b"</p></body></html>"
    records = [
        warc_member("https://a.org/ok", http_response(good)),
        warc_member("https://a.org/bytes", http_response(b"\x81\xff\x8d\xfe" * 300, "text/html; charset=utf-8")),
        warc_member("https://a.org/gone", http_response(b"<p>Not here</p>", status="404 Not Found")),
        warc_member("https://a.org/empty", http_response(b"<html><body><script>x()</script></body></html>")),
        warc_member("https://a.org/doc.pdf", http_response(b"%PDF-1.4", "application/pdf")),
        warc_member("https://a.org/raw", b"plain text stored as a resource", "resource", "text/plain"),
        warc_member("metadata://crawler/log", b"crawler log line", "resource", "text/plain"),
    ]
    path = tmp_path / "mixed.warc.gz"
    path.write_bytes(b"".join(gzip.compress(r, mtime=0) for r in records))
    _, rows, errors = read_all(path)
    got = dict(zip(rows["url"].to_pylist(), rows["drop_reason"].to_pylist()))
    assert got == {"https://a.org/ok": None, "https://a.org/gone": "read:http_status",
                   "https://a.org/empty": "read:empty_text", "https://a.org/doc.pdf": "read:not_html",
                   "https://a.org/raw": None}  # the metadata:// resource is crawler bookkeeping, not a record
    assert errors.num_rows == 1 and "undecodable page" in errors["error"][0].as_py()
    assert rows.filter(pa.compute.equal(rows["url"], "https://a.org/raw"))["text"][0].as_py() == "plain text stored as a resource"


def test_member_with_several_records_gives_distinct_ids(tmp_path):
    page = b"<html><body><p>" + b"Enough words to count as the main content of this page. " * 5 + b"</p></body></html>"
    both = warc_member("https://b.org/1", http_response(page)) + warc_member("https://b.org/2", http_response(page))
    path = tmp_path / "one_member.warc.gz"
    path.write_bytes(gzip.compress(both, mtime=0))
    _, rows, errors = read_all(path)
    assert errors.num_rows == 0 and rows["url"].to_pylist() == ["https://b.org/1", "https://b.org/2"]
    assert rows["source_offset"].to_pylist() == [0, 0] and len(set(rows["id"].to_pylist())) == 2


def test_records_over_the_size_limit_are_flagged_not_loaded():
    from pipeline.io.readers.warc import parse_document

    page = b"<html><body>" + b"<p>big page</p>" * 8000 + b"</body></html>"  # 120 KB, over the kept 64 KiB head
    blob = gzip.compress(warc_member("https://c.org/big", http_response(page)), mtime=0)
    import io

    (raw,) = list(iter_gzip_records(io.BytesIO(blob), max_record_bytes=2000))
    assert raw.too_large and len(raw.data) < len(page)
    doc = parse_document(raw)
    assert doc.reason == "read:too_large" and doc.headers["WARC-Target-URI"] == "https://c.org/big"
