"""The generators use the engine through its public surface (``pipeline/__init__.py``) and
the stage contract modules only, and ``import pipeline`` stays cheap."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pipeline

ROOT = Path(__file__).resolve().parents[2]
# what a stage module uses directly: rows and reasons (schema, stage, the active-rows helper), counts
STAGE_CONTRACT = {"pipeline.schema", "pipeline.stage", "pipeline.stats", "pipeline.active_rows"}


def _engine_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every import from the engine in ``path``, wherever it sits in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.split(".")[0] == "pipeline"]
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "pipeline":
            found += [(node.module, a.name) for a in node.names]
    return found


def test_generators_import_only_the_engines_public_surface_and_the_stage_contract():
    outside = []
    for path in sorted((ROOT / "generators").rglob("*.py")):
        for module, name in _engine_imports(path):
            if module == "pipeline":
                if name not in pipeline.__all__:
                    outside.append(f"{path.relative_to(ROOT)}: from pipeline import {name} (not public)")
            elif module not in STAGE_CONTRACT:
                outside.append(f"{path.relative_to(ROOT)}: {module}.{name}")
    assert outside == []


def test_every_public_name_resolves():
    for name in pipeline.__all__:
        assert getattr(pipeline, name) is not None, name
    assert {"PipelineConfig", "run_config", "fsutil", "ConfigError", "RunError"} <= set(dir(pipeline))


def test_import_pipeline_loads_nothing_heavy():
    code = ("import sys, pipeline\n"
            "heavy = ('pyarrow', 'yaml', 'ray', 'polars', 'fasttext', 'numpy', 'pipeline.')\n"
            "print(sorted(m for m in sys.modules if m.startswith(heavy)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "[]", out
