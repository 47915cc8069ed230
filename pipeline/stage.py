"""The stage contract.

A stage is a small dataclass of its config plus ``setup()`` and ``__call__``. Its
dataclass fields ARE its config: YAML keys are checked against them (name and type)
before any work starts, and ``--set key=value`` on the CLI overrides them.

* ``setup()`` loads models and clients once per worker (heavy imports go here).
* ``__call__(batch)`` returns the same rows in the same order with new or updated
  columns; it never deletes a row, it sets ``drop_reason`` (see ``pipeline.schema``)
  and skips rows that are already dropped.

Global stages get URIs (a local path, or ``s3://``/``gs://``), never ``pathlib.Path``: their
work dir lives wherever the run's work dir lives; open them with ``pipeline.io.fsutil``.

A *global* stage (deduplication, anything that needs all documents) additionally has
``run_global(inputs, work_dir, context)``: the runner first streams every document
through the stages before it, spills them to Parquet intermediates, calls
``run_global`` once over those files (on the chosen engine), and only then streams the
intermediates through ``__call__`` (which applies what ``run_global`` decided, e.g. by
joining its Parquet results on ``id``) and the stages after it. Before each
intermediate the runner calls the stage's optional ``bind_input(path)`` (see
:func:`bind_input`), so decisions can be stored and loaded per input file.

Field metadata understood by the config validator:

* ``{"path": True}``: the value is a file that must exist when the config is loaded.
* ``{"help": "..."}``: one line shown by ``taosha stages``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import pyarrow as pa


@runtime_checkable
class Stage(Protocol):
    name: ClassVar[str]

    def setup(self) -> None: ...

    def __call__(self, batch: pa.Table) -> pa.Table: ...


@dataclass(frozen=True)
class GlobalContext:
    """What a global stage gets from the runner."""

    engine: str  # "local" or "ray"
    work_dir: str  # URI of this stage's own directory under the run's work dir (local path or s3://...)
    num_workers: int = 1
    ray_options: dict[str, Any] = field(default_factory=dict)
    previous_outputs: tuple[str, ...] = ()  # URIs of earlier runs' output dirs (incremental dedup)
    output_dir: str | None = None  # URI where this run's outputs go (to persist indexes)


@runtime_checkable
class GlobalStage(Stage, Protocol):
    def run_global(self, inputs: list[str], context: GlobalContext) -> None:
        """Compute over all ``inputs`` (Parquet files of batches in the core schema
        plus earlier stages' columns, dropped rows included) and leave results under
        ``context.work_dir`` for ``__call__`` to apply. Must be rerunnable: a second
        call with the same inputs gives the same results."""
        ...


def bind_input(stage: object, path: str) -> None:
    """Tell a global stage which of its ``run_global`` inputs the next batches come from.

    Optional for a global stage (``bind_input(path)``): a stage whose decisions are
    stored per input (dedup's marks) then loads one input's worth instead of the whole
    corpus's. Both runners call it before streaming an intermediate through the stage;
    the batches that follow all come from ``path`` until the next call.
    """
    bind = getattr(stage, "bind_input", None)
    if callable(bind):
        bind(path)


def is_global(stage: object) -> bool:
    """A stage with a global phase (``GlobalStage``): the runners cut the pipeline before it."""
    return isinstance(stage, GlobalStage) and callable(getattr(stage, "run_global", None))


def stage_reason(stage_name: str, why: str) -> str:
    """The ``drop_reason`` format: ``<stage>:<why>``."""
    return f"{stage_name}:{why}"
