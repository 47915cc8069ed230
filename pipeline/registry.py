"""The one explicit registry of stages (and extra config sections) that YAML configs and the CLI may name.

Entries are loaded lazily so that ``taosha stage normalize`` never imports fastText,
jieba or Ray, and a stage whose optional dependency is missing only fails when used.
"""

from __future__ import annotations

import importlib

_STAGES: dict[str, tuple[str, str]] = {
    "normalize": ("filters.normalize.stage", "NormalizeStage"),
    "langid": ("filters.langid.stage", "LangIdStage"),
    "heuristics": ("filters.heuristics.stage", "HeuristicsStage"),
    "dedup": ("filters.dedup.stage", "DedupStage"),
    "classify": ("filters.classify.stage", "ClassifyStage"),
    "verify_math": ("generators.verify.math_stage", "VerifyMathStage"),
    "verify_code": ("generators.verify.code_stage", "VerifyCodeStage"),
    "candidates": ("generators.verification", "CandidatesStage"),  # first stage of a generate round's filter run
}


# Config sections owned by other packages: section -> (module, dataclass). The engine
# validates them at load time and hashes them, without knowing what they mean.
_SECTIONS: dict[str, tuple[str, str]] = {
    "generate": ("generators.config", "GenerateConfig"),
}


# What ``taosha run`` does after the cleaning run for a section present in the config
# (skipped with --no-generate): section -> (module, function(config, progress)).
_AFTER_RUN: dict[str, tuple[str, str]] = {
    "generate": ("generators.cli", "after_cleaning_run"),
}


def after_run_hook(name: str):
    """The function ``taosha run`` calls after the cleaning run when section ``name`` is set, or None."""
    if name not in _AFTER_RUN:
        return None
    module_name, function = _AFTER_RUN[name]
    return getattr(importlib.import_module(module_name), function)


def section_names() -> list[str]:
    return sorted(_SECTIONS)


def section_class(name: str) -> type:
    module_name, class_name = _SECTIONS[name]
    return getattr(importlib.import_module(module_name), class_name)


class UnknownStageError(KeyError):
    pass


def stage_names() -> list[str]:
    return sorted(_STAGES)


def stage_class(name: str) -> type:
    """The stage dataclass registered under ``name``."""
    try:
        module_name, class_name = _STAGES[name]
    except KeyError:
        raise UnknownStageError(f"unknown stage {name!r}; known stages: {', '.join(stage_names())}") from None
    module = importlib.import_module(module_name)
    return getattr(module, class_name)


def available_stages() -> dict[str, type | Exception]:
    """Every registered stage class, or the import error that keeps it from loading."""
    out: dict[str, type | Exception] = {}
    for name in stage_names():
        try:
            out[name] = stage_class(name)
        except Exception as exc:  # noqa: BLE001 - reported to the user as is
            out[name] = exc
    return out

