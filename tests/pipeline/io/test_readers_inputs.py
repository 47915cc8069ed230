"""Input resolution: files, directories, globs and file:// URIs; format detection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.io.readers import detect_format, open_input, resolve_inputs

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "configs" / "demo_data"
DEMO_DOCS = sorted(
    str(p) for p in DEMO.rglob("*") if p.name.endswith((".warc.gz", ".warc.wet.gz"))
)


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("a.jsonl", "jsonl"), ("a.json", "jsonl"), ("a.ndjson.gz", "jsonl"), ("a.jsonl.zst", "jsonl"),
        ("dir/A.JSONL.GZ", "jsonl"), ("a.parquet", "parquet"), ("x.warc", "warc"), ("x.warc.gz", "warc"),
        ("CC-MAIN-1.warc.wet.gz", "wet"), ("x.wet", "wet"), ("s3://bucket/k/x.warc.gz", "warc"),
    ],
)
def test_detect_format_from_name(name, fmt):
    assert detect_format(name) == fmt


@pytest.mark.parametrize("name", ["x.warc.wat.gz", "README.md", "SHA256SUMS", "a.csv", "a.jsonl.bz2"])
def test_detect_format_unknown_names_raise(name):
    with pytest.raises(ValueError, match="unknown input format"):
        detect_format(name)


def test_directory_is_walked_skipping_unknown_formats():
    found = resolve_inputs([str(DEMO)])
    assert found == DEMO_DOCS  # PROVENANCE.md, SHA256SUMS and the WAT file are not inputs
    assert len(found) >= 6 and found == sorted(found)  # the demo set may grow


def test_glob_and_recursive_glob():
    assert resolve_inputs([str(DEMO / "allenai__dolma" / "*.warc.gz")]) == [
        str(DEMO / "allenai__dolma" / "sample-0000.warc.gz"), str(DEMO / "allenai__dolma" / "sample-0001.warc.gz")]
    wet = resolve_inputs([str(DEMO / "**" / "*.wet.gz")])
    assert wet == [str(DEMO / "commoncrawl__whirlwind-python" / "whirlwind.warc.wet.gz")]


def test_overlapping_inputs_are_deduplicated_and_sorted():
    one = str(DEMO / "allenai__dolma" / "sample-0001.warc.gz")
    found = resolve_inputs([one, str(DEMO / "allenai__dolma"), str(DEMO / "allenai__dolma" / "*.gz")])
    assert found == sorted(set(found)) and len(found) == 2 and one in found


def test_relative_paths_stay_relative(monkeypatch):
    monkeypatch.chdir(ROOT)
    found = resolve_inputs(["configs/demo_data/allenai__dolma/"])
    assert found == ["configs/demo_data/allenai__dolma/sample-0000.warc.gz",
                     "configs/demo_data/allenai__dolma/sample-0001.warc.gz"]


def test_hidden_and_underscore_entries_are_skipped(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    (tmp_path / ".hidden.jsonl").write_text('{"text": "x"}\n')
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / "_tmp.jsonl").write_text('{"text": "x"}\n')
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "b.jsonl").write_text('{"text": "x"}\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.parquet").write_bytes(b"")
    assert resolve_inputs([str(tmp_path)]) == [str(tmp_path / "a.jsonl"), str(tmp_path / "sub" / "c.parquet")]
    assert resolve_inputs([str(tmp_path / "*.jsonl")]) == [str(tmp_path / "a.jsonl")]
    # a file named explicitly is kept whatever its name
    assert resolve_inputs([str(tmp_path / ".hidden.jsonl")]) == [str(tmp_path / ".hidden.jsonl")]


def test_file_uris_resolve_as_uris():
    uri = DEMO.as_uri()
    found = resolve_inputs([uri])
    assert found == [Path(p).as_uri() for p in DEMO_DOCS]
    dolma = resolve_inputs([uri + "/allenai__dolma/*.warc.gz"])
    assert dolma == [(DEMO / "allenai__dolma" / n).as_uri() for n in ("sample-0000.warc.gz", "sample-0001.warc.gz")]
    single = resolve_inputs([dolma[0]])
    assert single == [dolma[0]]
    with open_input(dolma[0]) as f:
        assert f.read() == (DEMO / "allenai__dolma" / "sample-0000.warc.gz").read_bytes()


@pytest.mark.parametrize("missing", ["no/such/dir", "configs/demo_data/*.nothing", "file:///no/such/file.jsonl"])
def test_nothing_matching_raises_naming_the_path(missing, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(FileNotFoundError, match=missing.replace("*", r"\*").replace(".", r"\.")):
        resolve_inputs(["configs/demo_data", missing])


def test_empty_directory_raises(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        resolve_inputs([str(tmp_path)])


def test_open_input_local_path_is_seekable():
    path = DEMO_DOCS[0]
    with open_input(path) as f:
        head = f.read(2)
        f.seek(0)
        assert head == b"\x1f\x8b" and f.read(2) == head
    assert os.path.getsize(path) > 0


def test_every_format_reads_through_a_file_uri(tmp_path):
    """The URI path (pyarrow filesystem files) gives what the local path gives."""
    import gzip

    import pyarrow.parquet as pq

    from pipeline.config import InputConfig
    from pipeline.io.readers import read_file

    dev = ROOT / "tests" / "data" / "dev" / "neg_zh.jsonl"
    (tmp_path / "rows.jsonl.gz").write_bytes(gzip.compress(dev.read_bytes()))
    pq.write_table(_rows_table(dev), tmp_path / "rows.parquet")
    local = [str(tmp_path / "rows.jsonl.gz"), str(tmp_path / "rows.parquet"), DEMO_DOCS[0]]
    for path in local:
        uri = Path(path).as_uri()
        assert resolve_inputs([uri]) == [uri]
        by_path = [c.records["text"].to_pylist() for c in read_file(path, InputConfig())]
        by_uri = [c.records for c in read_file(uri, InputConfig())]
        assert [t["text"].to_pylist() for t in by_uri] == by_path and by_path
        assert {s for t in by_uri for s in t["source"].to_pylist()} == {uri}


def _rows_table(path: Path):
    import json

    import pyarrow as pa

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    return pa.table({"id": [r["id"] for r in rows], "text": [r["text"] for r in rows]})
