"""Vectorized text signals shared by stages: script counts, document kind, code, math, general and Chinese signals."""
