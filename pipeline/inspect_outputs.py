"""``taosha inspect PATH``: what a run wrote, or what one Parquet file holds.

For an output dir: the funnel from stats.json, the manifest totals, the schema of the
training shards, drop reasons counted from rejects/, errors, sample rows, and a pointer
to ``synthetic/`` when the run had a synthetic round (its own output dir, inspected the
same way). For a Parquet file: its schema, row count, drop reasons (if it has the
column) and samples.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from pipeline.report import count, funnel, shorten, table


def _scan(paths: list[Path]) -> pl.LazyFrame | None:
    paths = [p for p in paths if p.suffix == ".parquet"]
    if not paths:
        return None
    return pl.scan_parquet([str(p) for p in paths], missing_columns="insert", extra_columns="ignore")


def _samples(frame: pl.DataFrame, rows: int) -> list[str]:
    out = []
    for row in frame.head(rows).iter_rows(named=True):
        head = ", ".join(f"{k}={row[k]}" for k in ("id", "drop_reason", "lang", "domain", "url") if row.get(k) is not None)
        out.append(f"- {head}\n    {shorten(row.get('text'), 200)}")
    return out


def _reasons(frame: pl.LazyFrame) -> str:
    counts = frame.group_by("drop_reason").len().sort("len", descending=True).collect()
    return table(["drop_reason", "rows"], [[r or "(kept)", n] for r, n in counts.iter_rows()], "lr")


def inspect_file(path: Path, rows: int = 3) -> str:
    frame = pl.scan_parquet(str(path))
    schema = frame.collect_schema()
    lines = [f"{path}: {count(frame.select(pl.len()).collect().item(), 'row')}", "schema:"]
    lines += [f"  {name}: {dtype}" for name, dtype in schema.items()]
    if "drop_reason" in schema:
        lines += ["", _reasons(frame)]
    lines += ["", "sample rows:"] + _samples(frame.head(rows).collect(), rows)
    return "\n".join(lines)


def inspect_dir(path: Path, rows: int = 3) -> str:
    lines = [f"{path}"]
    stats_file, manifest_file = path / "stats.json", path / "manifest.json"
    if stats_file.exists():
        lines += ["", "funnel (stats.json):", funnel(json.loads(stats_file.read_text()))]
    if manifest_file.exists():
        manifest = json.loads(manifest_file.read_text())
        lines += ["", f"manifest: schema v{manifest['schema_version']}, taosha {manifest['taosha_version']}, "
                      f"config {manifest['config_hash'][:12]}"]
        lines += [f"  {kind}: {count(t['files'], 'file')}, {count(t['rows'], 'row')}, {count(t['bytes'], 'byte')}"
                  for kind, t in manifest["totals"].items()]
    data = _scan(sorted((path / "data").glob("*.parquet")))
    if data is not None:
        lines += ["", "training shards (data/) schema:"]
        lines += [f"  {name}: {dtype}" for name, dtype in data.collect_schema().items()]
        lines += ["", "sample kept rows:"] + _samples(data.head(rows).collect(), rows)
    rejects = _scan(sorted((path / "rejects").glob("*.parquet")))
    if rejects is not None:
        lines += ["", "rejects/ by reason:", _reasons(rejects)]
    errors = _scan(sorted((path / "errors").glob("*.parquet")))
    if errors is not None:
        frame = errors.head(rows).collect()
        lines += ["", f"errors/: {count(errors.select(pl.len()).collect().item(), 'record')}"]
        lines += [f"- {r['source']} @ {r['offset']}: {shorten(r['error'], 160)}" for r in frame.iter_rows(named=True)]
    lines += _synthetic(path)
    return "\n".join(lines)


def _synthetic(path: Path) -> list[str]:
    """A pointer to the synthetic round's own output dir (``taosha run`` with a generate: section)."""
    synth = path / "synthetic"
    if not synth.is_dir():
        return []
    stats_file = synth / "stats.json"
    if not stats_file.exists():
        return ["", "synthetic/: a synthetic round that did not finish (rerun the same command to resume it)"]
    stats = json.loads(stats_file.read_text())
    return ["", f"synthetic/: the synthetic round's verified samples: {count(stats['kept'], 'kept sample')} of "
                f"{count(stats['records_in'], 'candidate')} (taosha inspect {synth})"]


def inspect_path(path: str, rows: int = 3) -> str:
    p = Path(path)
    if p.is_dir():
        return inspect_dir(p, rows)
    if p.is_file():
        return inspect_file(p, rows)
    raise FileNotFoundError(f"no such output dir or Parquet file: {path}")
