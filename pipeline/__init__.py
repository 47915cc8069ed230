"""taosha's engine: schema, config, stage registry, readers/writers, runners, CLI.

The names below are the engine's API for everything outside ``pipeline/``: the
``generators`` package (the synthetic loop), scripts, notebooks. A client writes
``from pipeline import PipelineConfig, run_config`` and never reaches into
``pipeline.config``, ``pipeline.run.*`` or ``pipeline.io.*``; those modules may be
reorganised without notice as long as these names keep their meaning.

Configuration
    ``PipelineConfig`` and its sections ``InputConfig``, ``OutputConfig``, ``RunConfig``,
    ``StageSpec``; ``load_config`` (a YAML file or a parsed mapping, fully validated);
    ``build_stage`` (a registered stage from its params, validated); ``project_root``;
    ``ConfigError``.
Running
    ``run_config(config, progress=..., overwrite=...)`` runs a config on the engine its
    ``run.engine`` names and returns a ``RunResult``; ``RunError``; ``Progress`` (the type
    of a progress callback) and ``stderr_progress``.
Outputs
    ``RunStats`` (a run's accounting), ``FileEntry`` (one output file), ``write_manifest``
    and ``write_stats`` (``manifest.json`` / ``stats.json`` of an output dir), ``fsutil``
    (the one filesystem layer: URIs for local paths, ``s3://``, ``gs://``, temp-then-rename
    writes), ``text_table`` (a plain-text table for the terminal).

Stages themselves additionally use the stage contract modules ``pipeline.schema``,
``pipeline.stage`` and ``pipeline.stats`` directly (rows, reasons, counts).

Every name is imported on first use (PEP 562 ``__getattr__``), so ``import pipeline`` and
``import pipeline.schema`` load nothing else: no PyYAML, pyarrow, Ray, polars or fastText.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> (module, attribute in it; None: the module itself)
_PUBLIC: dict[str, tuple[str, str | None]] = {
    # configuration
    "PipelineConfig": ("pipeline.config", "PipelineConfig"),
    "InputConfig": ("pipeline.config", "InputConfig"),
    "OutputConfig": ("pipeline.config", "OutputConfig"),
    "RunConfig": ("pipeline.config", "RunConfig"),
    "StageSpec": ("pipeline.config", "StageSpec"),
    "ConfigError": ("pipeline.config", "ConfigError"),
    "load_config": ("pipeline.config", "load_config"),
    "build_stage": ("pipeline.config", "build_stage"),
    "project_root": ("pipeline.config", "project_root"),
    # running
    "RunResult": ("pipeline.run.loop", "RunResult"),
    "RunError": ("pipeline.run.plan", "RunError"),
    "Progress": ("pipeline.run.loop", "Progress"),
    "stderr_progress": ("pipeline.run.loop", "stderr_progress"),
    # outputs
    "RunStats": ("pipeline.stats", "RunStats"),
    "FileEntry": ("pipeline.io.writers", "FileEntry"),
    "write_manifest": ("pipeline.manifest", "write_manifest"),
    "write_stats": ("pipeline.manifest", "write_stats"),
    "fsutil": ("pipeline.io.fsutil", None),
    "text_table": ("pipeline.report", "table"),
}

__all__ = ["__version__", "run_config", *_PUBLIC]


def run_config(config: PipelineConfig, *, progress: Progress | None = None, overwrite: bool = False) -> RunResult:
    """Run ``config`` on the engine its ``run.engine`` names (``local``: this process;
    ``ray``: Ray Data, joining ``run.ray_address`` if set) and write its outputs.

    ``progress`` gets one line per step (None: silent; ``stderr_progress`` prints them);
    a killed run resumes in the same output dir, ``overwrite`` starts it over instead.
    Only the chosen engine is imported."""
    if config.run.engine == "ray":
        from pipeline.run.ray.runner import run_ray

        return run_ray(config, progress=progress, overwrite=overwrite)
    from pipeline.run.local import run_local

    return run_local(config, progress=progress, overwrite=overwrite)


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from pipeline.config import (ConfigError, InputConfig, OutputConfig, PipelineConfig, RunConfig, StageSpec,
                                 build_stage, load_config, project_root)
    from pipeline.io import fsutil
    from pipeline.io.writers import FileEntry
    from pipeline.manifest import write_manifest, write_stats
    from pipeline.report import table as text_table
    from pipeline.run.loop import Progress, RunResult, stderr_progress
    from pipeline.run.plan import RunError
    from pipeline.stats import RunStats
