"""Streaming readers for JSONL(.gz/.zst), Parquet, WARC and WET inputs."""

from pipeline.readers.base import ReadChunk
from pipeline.readers.dispatch import read_file
from pipeline.readers.inputs import detect_format, open_input, resolve_inputs
from pipeline.readers.warc import DROP_REASONS

__all__ = ["DROP_REASONS", "ReadChunk", "detect_format", "open_input", "read_file", "resolve_inputs"]
