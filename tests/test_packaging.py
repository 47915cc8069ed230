"""What ``pip install .`` (not editable) puts in the wheel: every module of the three
top-level packages and the shipped models. An explicit package list once left out every
subpackage (filters.langid, pipeline.run, ...), so an installed taosha could not import them."""

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_config_covers_every_module_and_model_file():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    find = config["packages"]["find"]
    assert find.get("namespaces", True), "filters/models holds no __init__.py: it is found as a namespace package"
    packages = set(find_namespace_packages(where=str(ROOT), include=find["include"]))
    for top in ("pipeline", "filters", "generators"):
        for module in (ROOT / top).rglob("*.py"):
            package = ".".join(module.parent.relative_to(ROOT).parts)
            assert package in packages, f"{module.relative_to(ROOT)} would be left out of the wheel"
    data = config["package-data"]["*"]
    for model in (ROOT / "filters" / "models").iterdir():
        if model.suffix in (".ftz", ".bin"):
            assert "filters.models" in packages and f"*{model.suffix}" in data
