"""Streaming readers for JSONL(.gz/.zst), Parquet, WARC and WET inputs."""

from pipeline.readers.base import ReadChunk

__all__ = ["ReadChunk"]
