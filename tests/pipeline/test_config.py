"""Config errors are caught before any work starts and name the file, the stage and the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config, parse_overrides


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pipe.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def test_unknown_stage_names_file_and_stage(tmp_path):
    path = write(tmp_path, """
        input: {paths: [x.jsonl]}
        stages:
          - normalise: {}
    """)
    err = error_of(path)
    assert err.file == str(path) and err.stage == "normalise"
    assert str(path) in str(err) and "unknown stage" in str(err) and "normalize" in str(err)


def test_unknown_key_names_file_stage_and_key(tmp_path):
    path = write(tmp_path, """
        stages:
          - normalize: {min_charz: 10}
    """)
    err = error_of(path)
    assert (err.file, err.stage, err.key) == (str(path), "normalize", "min_charz")
    assert "unknown key" in str(err)


def test_wrong_type_names_key(tmp_path):
    path = write(tmp_path, """
        input: {batch_size: "many"}
    """)
    err = error_of(path)
    assert (err.stage, err.key) == ("input", "batch_size")
    assert "integer" in str(err)


def test_wrong_literal_value(tmp_path):
    path = write(tmp_path, """
        input: {format: csv}
    """)
    err = error_of(path)
    assert err.key == "format" and "'jsonl'" in str(err)


def test_unknown_section(tmp_path):
    err = error_of(write(tmp_path, "outputs: {dir: x}\n"))
    assert err.key == "outputs" and "unknown section" in str(err)


def test_missing_file_named(tmp_path):
    err = error_of(tmp_path / "nope.yaml")
    assert "not found" in str(err) and "nope.yaml" in str(err)


def test_missing_model_file_names_stage_and_key(tmp_path):
    path = write(tmp_path, """
        stages:
          - langid: {model_path: /no/such/lid.ftz}
    """)
    err = error_of(path)
    assert (err.stage, err.key) == ("langid", "model_path") and "file not found" in str(err)


def test_invalid_yaml(tmp_path):
    err = error_of(write(tmp_path, "stages: [normalize\n"))
    assert "invalid YAML" in str(err)


def test_stage_list_forms_and_hash(tmp_path):
    path = write(tmp_path, """
        input: {paths: [a.jsonl], batch_size: 10}
        output: {dir: somewhere}
        stages:
          - normalize
          - normalize: {min_chars: 5}
    """)
    cfg = load_config(path)
    assert [s.name for s in cfg.stages] == ["normalize", "normalize"]
    assert cfg.stages[1].params == {"min_chars": 5}
    other = load_config(data={**cfg.raw, "input": {**cfg.raw["input"], "paths": cfg.input.paths},
                              "output": {"dir": "elsewhere"}})
    assert cfg.config_hash() == other.config_hash()  # the output dir does not change the hash
    changed = load_config(data={**cfg.raw, "input": {"paths": cfg.input.paths, "batch_size": 11}})
    assert changed.config_hash() != cfg.config_hash()


def test_overrides_parse_yaml_values():
    assert parse_overrides(["min_chars=5", "keep=[zh, en]", "flag=true", "name=abc"]) == {
        "min_chars": 5, "keep": ["zh", "en"], "flag": True, "name": "abc"}
    with pytest.raises(ConfigError):
        parse_overrides(["novalue"])
