"""Config abuse ends in a ConfigError naming file, stage and key, before any work starts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "tests" / "data" / "dev" / "neg_en.jsonl"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_yaml_alias_bomb_is_refused_at_once(tmp_path):
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10**9 strings if expanded
    path = write(tmp_path, "\n".join(levels) + "\n")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="aliases"):
        load_config(path)
    assert time.perf_counter() - t0 < 5  # bounded work: refused while parsing, not after expanding


def test_a_huge_config_file_is_refused(tmp_path):
    path = write(tmp_path, "# " + "x" * (2 << 20) + "\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(path)


@pytest.mark.parametrize("section, key, value", [
    ("output", "row_group_rows", 0), ("output", "target_shard_mb", 0), ("output", "compression_level", 99),
    ("input", "batch_size", 0), ("run", "max_error_rate", 1.5), ("run", "num_workers", 0),
])
def test_out_of_range_values_name_their_section_and_key(section, key, value):
    with pytest.raises(ConfigError) as err:
        load_config(data={"input": {"paths": [str(DEV)]}, section: {key: value}, "stages": ["normalize"]}
                    if section != "input" else {"input": {"paths": [str(DEV)], key: value}, "stages": ["normalize"]})
    assert f"'{section}'" in str(err.value) and f"'{key}'" in str(err.value)


def test_a_file_that_is_not_a_model_is_a_config_error():
    with pytest.raises(ConfigError, match="not a fastText model") as err:
        load_config(data={"input": {"paths": [str(DEV)]}, "stages": [{"langid": {"model_path": str(DEV)}}]})
    assert "'langid'" in str(err.value) and "'model_path'" in str(err.value)


def test_ray_options_are_validated_without_the_ray_engine():
    import sys

    sys.modules.pop("pipeline.run.ray.runner", None)
    with pytest.raises(ConfigError, match="not a stage of this config"):
        load_config(data={"input": {"paths": [str(DEV)]}, "run": {"ray": {"stages": {"dedupp": {}}}},
                          "stages": ["normalize"]})
    with pytest.raises(ConfigError, match="num_cpus"):
        load_config(data={"input": {"paths": [str(DEV)]}, "run": {"ray": {"stages": {"normalize": {"num_cpus": 0}}}},
                          "stages": ["normalize"]})
    assert "pipeline.run.ray.runner" not in sys.modules


def test_config_hash_is_of_the_effective_config():
    base = {"input": {"paths": [str(DEV)]}, "stages": ["normalize", "dedup"]}
    explicit = {"input": {"paths": [str(DEV)], "batch_size": 1000},
                "stages": ["normalize", {"dedup": {"threshold": 0.5}}], "run": {"engine": "ray"},
                "output": {"dir": "elsewhere"}}
    assert load_config(data=base).config_hash() == load_config(data=explicit).config_hash()
    changed = {**base, "stages": ["normalize", {"dedup": {"threshold": 0.6}}]}
    assert load_config(data=base).config_hash() != load_config(data=changed).config_hash()
