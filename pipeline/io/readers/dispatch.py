"""``read_file``: the one entry point runners call, dispatching on the input format."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from pipeline.io.readers.base import ReadChunk
from pipeline.io.readers.inputs import detect_format
from pipeline.io.readers.jsonl import read_jsonl
from pipeline.io.readers.parquet import read_parquet
from pipeline.io.readers.warc import read_warc
from pipeline.schema import empty_batch, make_errors

if TYPE_CHECKING:
    from pipeline.config import InputConfig


def read_file(path: str, config: "InputConfig") -> Iterator[ReadChunk]:
    """Stream one input file as ReadChunks of at most ``config.batch_size`` records.

    ``path`` is one entry of ``resolve_inputs``; it becomes the ``source`` of every row
    and error. For each file, rows + errors over all chunks = the file's input records.
    """
    return _contained(path, _reader(path, config))


def _contained(path: str, chunks: Iterator[ReadChunk]) -> Iterator[ReadChunk]:
    """The reader's chunks; an input that cannot be opened at all (it vanished after
    resolution, a permission, a symlink gone bad) is one error row at offset 0, as an
    unreadable Parquet footer is, instead of an exception that ends the run. An OSError
    after records came out is not hidden: it propagates."""
    started = False
    try:
        for chunk in chunks:
            started = True
            yield chunk
    except OSError as exc:
        if started:
            raise
        yield ReadChunk(empty_batch(), make_errors(path, [0], [f"cannot open input file: {exc}"]))


def _reader(path: str, config: "InputConfig") -> Iterator[ReadChunk]:
    fmt = config.format if config.format != "auto" else detect_format(path)
    batch_size = max(1, int(config.batch_size))
    extra_fields = config.extra_fields
    if fmt == "jsonl":
        return read_jsonl(path, text_field=config.text_field, id_field=config.id_field,
                          url_field=config.url_field, batch_size=batch_size, extra_fields=extra_fields)
    if fmt == "parquet":
        return read_parquet(path, text_field=config.text_field, id_field=config.id_field,
                            url_field=config.url_field, batch_size=batch_size, extra_fields=extra_fields)
    if fmt in ("warc", "wet"):
        return read_warc(path, batch_size=batch_size, extractor=config.extract,
                         max_record_bytes=int(config.max_record_mb * (1 << 20)))
    raise ValueError(f"unknown input format {fmt!r} for {path}")
