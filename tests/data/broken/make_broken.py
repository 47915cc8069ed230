"""Build the deliberately broken inputs of this directory, deterministically.

    python tests/data/broken/make_broken.py

Every file starts from real, licensed data shipped in the repo (rows of
tests/data/dev, records of configs/demo_data/commoncrawl__ia-web-commons/
IAH-urls-wget.warc.gz) and is broken in a known way. ``_expected.json`` lists, per
file, the offsets of the records that must come out as rows and of those that must
come out as errors (with the kind of damage), which the reader tests check against.
See README.md for what each file contains.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
DEV = ROOT / "tests" / "data" / "dev"
IAH = ROOT / "configs" / "demo_data" / "commoncrawl__ia-web-commons" / "IAH-urls-wget.warc.gz"


def dev_rows(name: str, n: int) -> list[dict]:
    with open(DEV / name, encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(n), f)]


def jsonl_bytes(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


def bad_lines() -> dict:
    """bad_lines.jsonl: real rows interleaved with every kind of bad line."""
    rows = dev_rows("math_pos_zh.jsonl", 6) + dev_rows("neg_en.jsonl", 4)
    good = [jsonl_bytes([r]).rstrip(b"\n") for r in rows]
    no_text = dict(rows[0])
    no_text.pop("text")
    int_text = dict(rows[1], text=12345)
    bad_utf8 = good[2].replace("妈妈".encode(), b"\xff\xfe", 1) if "妈妈".encode() in good[2] else b'{"text": "caf\xe9"}'
    numeric_id = dict(rows[3], id=4242)
    no_id = {k: v for k, v in rows[4].items() if k != "id"}
    lines = [
        (good[0], "ok"), (b'{"text": "unterminated', "invalid_json"), (good[1], "ok"), (b"", "empty"),
        (b'["a", "list"]', "not_object"), (json.dumps(no_text, ensure_ascii=False).encode(), "missing_text"),
        (b"   ", "empty"), (json.dumps(int_text, ensure_ascii=False).encode(), "text_not_string"),
        (b'{"text": "caf\xe9 au lait", "id": "latin1-line"}', "invalid_utf8"), (bad_utf8, "invalid_utf8" if bad_utf8 != good[2] else "ok"),
        (json.dumps(numeric_id, ensure_ascii=False).encode(), "ok"), (json.dumps(no_id, ensure_ascii=False).encode(), "ok"),
        (b'"just a string"', "not_object"), (b"null", "not_object"),
        (good[5] + b"\r", "ok"), (good[6], "ok"), (good[7], "ok"), (good[8], "ok"), (good[9], "ok"),
    ]
    (HERE / "bad_lines.jsonl").write_bytes(b"\n".join(line for line, _ in lines) + b"\n")
    rows_at = [i + 1 for i, (_, kind) in enumerate(lines) if kind == "ok"]
    errors_at = {str(i + 1): kind for i, (_, kind) in enumerate(lines) if kind not in ("ok", "empty")}
    ids = {str(i + 1): json.loads(line.decode("utf-8")).get("id") for i, (line, kind) in enumerate(lines) if kind == "ok"}
    return {"rows": rows_at, "errors": errors_at, "ids": ids}


def field_collisions() -> dict:
    """field_collisions.jsonl: real rows carrying fields named like reserved columns, and
    like their renamed forms (``input_source``, ``input_input_source``), in varying sets
    per row: each value must land in its own column on its own row."""
    rows = dev_rows("neg_en.jsonl", 8)
    extra = [
        {"source": "s0", "input_source": "is0"},
        {},
        {"input_source": "is2"},
        {"source": "s3", "input_source": "is3", "input_input_source": "iis3", "origin": "o3"},
        {"drop_reason": "dr4", "input_drop_reason": "idr4", "source_offset": 4},
        {"source": "s5"},
        {"input_source_offset": 60, "source_offset": 6, "url": "u6", "input_url": "iu6"},
        {"origin": "o7", "input_origin": "io7", "input_input_origin": "iio7"},
    ]
    out = [{"id": r["id"], "text": r["text"], **e} for r, e in zip(rows, extra)]
    (HERE / "field_collisions.jsonl").write_bytes(jsonl_bytes(out))
    return {"rows": list(range(1, len(out) + 1)), "errors": {}}


def truncated_streams() -> dict:
    rows = dev_rows("math_pos_en.jsonl", 40)
    data = jsonl_bytes(rows)
    out = {}
    gz = gzip.compress(data, mtime=0)
    cobj = zstandard.ZstdCompressor(level=3, write_checksum=True).compressobj()
    zs = b""
    for i in range(0, len(rows), 5):  # a block every 5 rows, so a cut leaves whole blocks to decode
        zs += cobj.compress(jsonl_bytes(rows[i:i + 5])) + cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    zs += cobj.flush()
    for name, blob in (("truncated.jsonl.gz", gz), ("truncated.jsonl.zst", zs)):
        cut = blob[: len(blob) * 6 // 10]
        (HERE / name).write_bytes(cut)
        # complete lines before the break: decompress what is there
        if name.endswith(".gz"):
            d = zlib.decompressobj(31)
            got = d.decompress(cut)
        else:
            got = zstandard.ZstdDecompressor().decompressobj().decompress(cut)
        complete = got.count(b"\n")
        out[name] = {"rows": list(range(1, complete + 1)), "errors": {str(complete + 1): "truncated"}}
    corrupt = bytearray(gz)
    mid = len(corrupt) // 2
    corrupt[mid:mid + 64] = bytes(64)
    (HERE / "corrupt.jsonl.gz").write_bytes(bytes(corrupt))
    out["corrupt.jsonl.gz"] = {"rows": None, "errors": "one at the break"}
    return out


def parquet_files() -> dict:
    rows = dev_rows("neg_en.jsonl", 30)
    table = pa.Table.from_pylist([{"id": r["id"], "text": r["text"], "license": r["license"]} for r in rows])
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=10, compression="zstd")
    data = buf.getvalue()
    (HERE / "truncated.parquet").write_bytes(data[: len(data) // 2])
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    text_col = meta.schema.to_arrow_schema().get_field_index("text")
    chunk = meta.row_group(1).column(text_col)
    start = chunk.data_page_offset  # the page header (thrift): garbage there cannot decode
    corrupt = bytearray(data)
    corrupt[start:start + 32] = b"\xff" * 32
    (HERE / "corrupt_rowgroup.parquet").write_bytes(bytes(corrupt))
    return {
        "truncated.parquet": {"rows": [], "errors": {"0": "unreadable"}},
        # every row of the undecodable row group is an errored record, at its own offset
        "corrupt_rowgroup.parquet": {"rows": list(range(0, 10)) + list(range(20, 30)),
                                     "errors": {str(row): "row_group" for row in range(10, 20)}},
    }


def warc_members() -> list[bytes]:
    data = IAH.read_bytes()
    members, pos = [], 0
    while pos < len(data):
        d = zlib.decompressobj(31)
        raw = d.decompress(data[pos:])
        end = len(data) - len(d.unused_data)
        members.append(raw)
        pos = end
    return members


def _gz(raw: bytes) -> bytes:
    return gzip.compress(raw, mtime=0)


def _set_length(raw: bytes, delta: int) -> bytes:
    return re.sub(rb"Content-Length: (\d+)", lambda m: b"Content-Length: %d" % (int(m.group(1)) + delta), raw, count=1)


def _kind(raw: bytes) -> str:
    m = re.search(rb"WARC-Type: (\w+)", raw)
    return m.group(1).decode() if m else "?"


def broken_warcs() -> dict:
    """broken.warc.gz and broken.warc: real records with damaged ones in between."""
    m = warc_members()
    responses = [r for r in m if _kind(r) == "response"]
    requests = [r for r in m if _kind(r) == "request"]
    plan = [  # (decompressed record, damage)
        (m[0], None), (requests[0], None), (responses[0], None), (requests[1], None), (responses[1], None),
        (responses[4], "corrupt_member"), (responses[9], None), (responses[2], "truncated_member"),
        (responses[3], None), (responses[5], "bad_magic"), (responses[6], "length_too_large"),
        (responses[7], "length_too_small"), (responses[8], "missing_length"), (responses[11], None),
        (m[-1], None), (responses[10], "truncated_at_end"),
    ]
    gz_parts, plain_parts, expect_gz, expect_plain = [], [], {"rows": [], "errors": {}}, {"rows": [], "errors": {}}
    gz_pos = plain_pos = 0
    for raw, damage in plan:
        member = _gz(raw)
        plain = raw
        if damage == "corrupt_member":
            member = bytearray(member)
            member[len(member) // 2:len(member) // 2 + 32] = bytes(32)
            member = bytes(member)
        elif damage == "truncated_member":
            member = member[: len(member) // 2]
        elif damage == "bad_magic":
            member, plain = _gz(raw.replace(b"WARC/1.0", b"WARX/1.0", 1)), raw.replace(b"WARC/1.0", b"WARX/1.0", 1)
        elif damage == "length_too_large":
            member, plain = _gz(_set_length(raw, 100)), _set_length(raw, 100)
        elif damage == "length_too_small":
            member, plain = _gz(_set_length(raw, -100)), _set_length(raw, -100)
        elif damage == "missing_length":
            bad = raw.replace(b"Content-Length:", b"Content-Lxngth:", 1)
            member, plain = _gz(bad), bad
        elif damage == "truncated_at_end":
            member, plain = member[: len(member) // 2], plain[: len(plain) // 2]
        is_doc = _kind(raw) == "response" or (_kind(raw) == "resource" and b"WARC-Target-URI: http" in raw)
        gzip_only = damage in ("corrupt_member", "truncated_member")  # the plain copy is intact
        if damage:
            expect_gz["errors"][str(gz_pos)] = damage
        elif is_doc:
            expect_gz["rows"].append(gz_pos)
        if damage and not gzip_only:
            expect_plain["errors"][str(plain_pos)] = damage
        elif is_doc:
            expect_plain["rows"].append(plain_pos)
        gz_parts.append(member)
        plain_parts.append(plain)
        gz_pos += len(member)
        plain_pos += len(plain)
    (HERE / "broken.warc.gz").write_bytes(b"".join(gz_parts))
    (HERE / "broken.warc").write_bytes(b"".join(plain_parts))
    return {"broken.warc.gz": expect_gz, "broken.warc": expect_plain}


def main() -> None:
    expected = {"bad_lines.jsonl": bad_lines(), "field_collisions.jsonl": field_collisions()}
    expected.update(truncated_streams())
    expected.update(parquet_files())
    expected.update(broken_warcs())
    (HERE / "_expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for name in sorted(expected):
        print(f"{name}: {(HERE / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
