"""The accounting invariant end to end: records_in = kept + rejected + errored, on real
crawl files and on a deliberately broken input set, with every bad record in errors/."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pipeline.config import load_config
from pipeline.run.local import run_local

ROOT = Path(__file__).resolve().parents[3]
BROKEN = ROOT / "tests" / "data" / "broken"
DEMO = ROOT / "configs" / "demo_data"


def expected_errors() -> dict[str, set[int] | int]:
    """Per broken file: the error offsets listed in _expected.json (or a count where not listed)."""
    out: dict[str, set[int] | int] = {}
    for name, spec in json.loads((BROKEN / "_expected.json").read_text()).items():
        errors = spec["errors"]
        out[name] = {int(k) for k in errors} if isinstance(errors, dict) else 1
    return out


def frame(directory: Path) -> pl.DataFrame:
    files = sorted(directory.glob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed") if files else pl.DataFrame()


def run(inputs: list[str], out: Path, stages: list, max_error_rate: float = 0.5):
    config = load_config(data={"input": {"paths": inputs, "batch_size": 64},
                               "output": {"dir": str(out)}, "run": {"max_error_rate": max_error_rate},
                               "stages": stages})
    return run_local(config, progress=None)


def check_invariant(out: Path) -> dict:
    stats = json.loads((out / "stats.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert stats["records_in"] == stats["kept"] + stats["rejected"] + stats["errored"]
    data, rejects, errors = frame(out / "data"), frame(out / "rejects"), frame(out / "errors")
    assert data.height == stats["kept"] == manifest["totals"]["data"]["rows"]
    assert rejects.height == stats["rejected"] == manifest["totals"]["rejects"]["rows"]
    assert errors.height == stats["errored"] == manifest["totals"]["errors"]["rows"]
    assert sum(stats["rejected_by_reason"].values()) == stats["rejected"]
    if rejects.height:
        assert rejects["drop_reason"].null_count() == 0
        assert dict(rejects["drop_reason"].value_counts().iter_rows()) == stats["rejected_by_reason"]
    keys = pl.concat([data.select("source", "id"), rejects.select("source", "id")]) if rejects.height \
        else data.select("source", "id")
    assert keys.n_unique() == keys.height  # nothing written twice
    return stats


def test_broken_inputs_never_crash_and_every_bad_record_is_in_errors(tmp_path):
    out = tmp_path / "out"
    result = run([str(BROKEN)], out, ["normalize"], max_error_rate=1.0)
    stats = check_invariant(out)
    errors = frame(out / "errors")
    assert set(errors.columns) == {"source", "offset", "error"}
    assert (errors["error"].str.len_chars() > 0).all()
    by_file = {Path(s).name: set(g["offset"].to_list())
               for (s,), g in errors.group_by("source")}
    for name, want in expected_errors().items():
        got = by_file.get(name, set())
        if isinstance(want, set):
            assert want <= got, f"{name}: errors at {sorted(got)}, expected {sorted(want)}"
        else:
            assert len(got) >= want, name
    assert stats["errored"] == errors.height and stats["errored"] >= 20
    assert result.error_rate == pytest.approx(stats["errored"] / stats["records_in"])


def test_error_rate_limit_fails_the_run_but_writes_everything(tmp_path):
    out = tmp_path / "out"
    result = run([str(BROKEN / "bad_lines.jsonl")], out, [], max_error_rate=0.1)
    assert not result.ok and result.error_rate > 0.1
    check_invariant(out)


def test_real_crawl_files_with_the_demo_stages(tmp_path):
    out = tmp_path / "out"
    stages = load_config(ROOT / "configs" / "demo.yaml").raw["stages"]
    run([str(DEMO), str(BROKEN / "broken.warc.gz")], out, stages)
    stats = check_invariant(out)
    assert stats["records_in"] > 70 and stats["kept"] > 0 and stats["errored"] > 0
    names = [s["stage"] for s in stats["stages"]]
    assert names[0] == "read"
    for earlier, later in zip(stats["stages"][1:], stats["stages"][2:]):
        assert later["rows_in"] == earlier["kept"], (earlier["stage"], later["stage"])
