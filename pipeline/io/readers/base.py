"""The reader contract: every reader streams ``ReadChunk``s of bounded size.

A chunk holds the records it could read (core schema plus reader-specific columns)
and the records it could not (``errors``: source, offset, error). For each input file,
``sum(len(records)) + sum(len(errors))`` is the number of input records in it, which
is what the run's accounting (``records_in = kept + rejected + errored``) rests on.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass
class ReadChunk:
    records: pa.Table
    errors: pa.Table
