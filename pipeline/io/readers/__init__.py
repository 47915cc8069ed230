"""Streaming readers for JSONL(.gz/.zst), Parquet, WARC and WET inputs."""

from pipeline.io.readers.base import ReadChunk
from pipeline.io.readers.dispatch import read_file
from pipeline.io.readers.inputs import detect_format, open_input, resolve_inputs
from pipeline.io.readers.warc import DROP_REASONS

__all__ = ["DROP_REASONS", "ReadChunk", "detect_format", "open_input", "read_file", "resolve_inputs"]
