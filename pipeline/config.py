"""YAML pipeline configs, validated completely before any work starts.

A config has the sections ``input``, ``output``, ``run`` and ``stages`` (and
``generate`` for the synthetic loop). Every section and every stage is a dataclass;
a key that is not a field, a value of the wrong type, an unknown stage or a missing
file raises one ``ConfigError`` that names the config file, the stage and the key.

Stages are listed in order, each as a one-key mapping (``- langid: {min_score: 0.5}``)
or a bare name (``- normalize``).
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from pipeline import registry


class ConfigError(ValueError):
    """A config problem, located by file, stage (or section) and key."""

    def __init__(self, message: str, *, file: str | None = None, stage: str | None = None, key: str | None = None):
        self.file, self.stage, self.key = file, stage, key
        where = []
        if file:
            where.append(f"{file}")
        if stage:
            where.append(f"stage {stage!r}")
        if key:
            where.append(f"key {key!r}")
        super().__init__(f"{': '.join(where)}: {message}" if where else message)


def _bounds(lo: float | None = None, hi: float | None = None, **more: Any) -> dict[str, Any]:
    """Field metadata: the value must lie in [lo, hi] (checked by ``build_dataclass``)."""
    return {"min": lo, "max": hi, **more}


@dataclass
class InputConfig:
    """Where records come from. ``paths`` are files, directories or globs, local or URIs."""

    paths: list[str] = field(default_factory=list)
    format: Literal["auto", "jsonl", "parquet", "warc", "wet"] = "auto"
    text_field: str = "text"
    id_field: str = "id"
    url_field: str = "url"
    batch_size: int = field(default=1000, metadata=_bounds(1))
    extract: Literal["resiliparse", "trafilatura"] = "resiliparse"  # HTML -> main text (WARC)
    extra_fields: Literal["columns", "json", "drop"] = "columns"  # JSONL fields beyond text/id/url
    max_record_mb: float = field(default=32.0, metadata=_bounds(0.001))  # larger WARC records are rejected unread


@dataclass
class OutputConfig:
    """Where and how the training shards, rejects and errors are written."""

    dir: str = "taosha-out"
    target_shard_mb: float = field(default=256.0, metadata=_bounds(0.001))
    row_group_rows: int = field(default=8192, metadata=_bounds(1))
    compression: Literal["zstd", "snappy", "gzip", "brotli", "lz4", "none"] = "zstd"
    compression_level: int = field(default=3, metadata=_bounds(1, 22))
    rejects_text: bool = False


@dataclass
class RayStageOptions:
    """Resources of one stage on Ray."""

    num_cpus: float | None = field(default=None, metadata=_bounds(0.001))  # per actor (or task)
    memory_mb: float | None = field(default=None, metadata=_bounds(1))  # per actor, for Ray's scheduler
    min_actors: int = field(default=1, metadata=_bounds(1))
    max_actors: int | None = field(default=None, metadata=_bounds(1))  # default: as many as the CPU budget holds
    compute: Literal["actors", "tasks"] = "actors"  # tasks: no warm state worth an actor


@dataclass
class RayOptions:
    """``run.ray``: resources of the Ray engine (see ``pipeline.run.ray.runner``)."""

    read_cpus: float = field(default=0.25, metadata=_bounds(0.001))
    write_cpus: float = field(default=0.1, metadata=_bounds(0.001))
    num_cpus: int | None = field(default=None, metadata=_bounds(1))
    max_attempts: int = field(default=3, metadata=_bounds(1))
    stages: dict[str, RayStageOptions] = field(default_factory=dict)

    def for_stage(self, name: str) -> RayStageOptions:
        base = name.split("#", 1)[0]
        return self.stages.get(name) or self.stages.get(base) or RayStageOptions()


@dataclass
class RunConfig:
    engine: Literal["local", "ray"] = "local"
    work_dir: str | None = None  # default: OUTPUT/_work
    max_error_rate: float = field(default=0.5, metadata=_bounds(0.0, 1.0))  # fail the run past this errored fraction
    ray_address: str | None = None
    num_workers: int | None = field(default=None, metadata=_bounds(1))
    previous_outputs: list[str] = field(default_factory=list)
    ray: RayOptions = field(default_factory=RayOptions)


@dataclass
class StageSpec:
    name: str
    params: dict[str, Any]


@dataclass
class PipelineConfig:
    input: InputConfig
    output: OutputConfig
    run: RunConfig
    stages: list[StageSpec]
    generate: Any = None
    source_file: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def config_hash(self) -> str:
        """Hash of what determines the output: the validated sections with their defaults
        filled in and every stage's effective parameters; not where the output is written,
        nor on which engine or cluster (both engines write the same outputs)."""
        run = self.run
        payload = {
            "input": dataclasses.asdict(self.input),
            "output": {k: v for k, v in dataclasses.asdict(self.output).items() if k != "dir"},
            "run": {"max_error_rate": run.max_error_rate, "previous_outputs": list(run.previous_outputs)},
            "stages": [[spec.name, _effective_params(stage)] for spec, stage in zip(self.stages, self.build_stages())],
            "sections": {name: dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
                         for name, value in sorted(self.sections().items())},
        }
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    def sections(self) -> dict[str, Any]:
        """The registered extra sections present in this config (e.g. ``generate``)."""
        return {name: getattr(self, name) for name in registry.section_names()
                if getattr(self, name, None) is not None}

    def build_stages(self) -> list[object]:
        return [build_stage(s.name, s.params, file=self.source_file) for s in self.stages]


# ---------------------------------------------------------------- validation


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def check_value(value: Any, tp: Any) -> Any:
    """Return ``value`` converted to ``tp`` where lossless (int -> float), else raise TypeError."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return value
    if origin in (typing.Union, types.UnionType):
        for arm in args:
            try:
                return check_value(value, arm)
            except TypeError:
                pass
        raise TypeError(f"expected {' or '.join(_type_name(a) for a in args)}, got {type(value).__name__} {value!r}")
    if tp is type(None):
        if value is None:
            return None
        raise TypeError(f"expected null, got {value!r}")
    if origin is Literal:
        if value in args:
            return value
        raise TypeError(f"expected one of {', '.join(map(repr, args))}, got {value!r}")
    if origin in (list, tuple):
        if isinstance(value, str) and origin is list:
            value = [value]  # a single path where a list is expected
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected a list, got {type(value).__name__} {value!r}")
        inner = args[0] if args else Any
        return [check_value(v, inner) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"expected a mapping, got {type(value).__name__} {value!r}")
        kt, vt = args if args else (Any, Any)
        return {check_value(k, kt): check_value(v, vt) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise TypeError(f"expected true/false, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise TypeError(f"expected a number, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError(f"expected an integer, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise TypeError(f"expected a string, got {type(value).__name__} {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"expected a mapping, got {value!r}")
        return build_dataclass(tp, value)
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise TypeError(f"expected {tp.__name__}, got {value!r}")
    return value


def build_dataclass(cls: type, params: dict[str, Any] | None, *, file: str | None = None, stage: str | None = None,
                    base_dir: Path | None = None) -> Any:
    """Instantiate dataclass ``cls`` from ``params``, checking every key and type."""
    params = dict(params or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in params:
        if key not in fields:
            known = ", ".join(sorted(fields)) or "(none)"
            raise ConfigError(f"unknown key; known keys: {known}", file=file, stage=stage, key=key)
    values = {}
    for key, value in params.items():
        f = fields[key]
        try:
            values[key] = check_value(value, hints.get(key, Any))
        except TypeError as exc:
            raise ConfigError(str(exc), file=file, stage=stage, key=key) from None
        except ConfigError as exc:  # nested dataclass
            raise ConfigError(str(exc), file=file, stage=stage, key=f"{key}.{exc.key}" if exc.key else key) from None
        if f.metadata.get("path") and values[key] is not None:
            values[key] = _resolve_path(values[key], base_dir)
            missing = [p for p in (values[key] if isinstance(values[key], list) else [values[key]]) if not _exists(p)]
            if missing:
                raise ConfigError(f"file not found: {missing[0]}", file=file, stage=stage, key=key)
            if f.metadata.get("model"):
                for model in values[key] if isinstance(values[key], list) else [values[key]]:
                    _check_model_file(model, f.metadata["model"], file, stage, key)
    for f in fields.values():
        _check_bounds(values.get(f.name, f.default if f.default is not dataclasses.MISSING else None), f, file, stage)
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc), file=file, stage=stage) from None


def _resolve_path(value: Any, base_dir: Path | None) -> Any:
    if isinstance(value, list):
        return [_resolve_path(v, base_dir) for v in value]
    if base_dir is None or "://" in value or Path(value).is_absolute() or Path(value).exists():
        return value
    candidate = base_dir / value
    return str(candidate) if candidate.exists() else value


def _exists(path: str) -> bool:
    return "://" in path or Path(path).expanduser().exists()


def _effective_params(stage: object) -> dict[str, Any]:
    """A stage's parameters with defaults filled in, read from a freshly built instance (never
    the runner's, whose runtime fields a global phase may have set)."""
    if not dataclasses.is_dataclass(stage):
        return {}
    return {f.name: getattr(stage, f.name) for f in dataclasses.fields(stage)
            if f.init}


def _check_bounds(value: Any, f: dataclasses.Field, file: str | None, stage: str | None) -> None:
    lo, hi = f.metadata.get("min"), f.metadata.get("max")
    if value is None or (lo is None and hi is None) or not isinstance(value, (int, float)):
        return
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        span = f">= {lo}" if hi is None else (f"<= {hi}" if lo is None else f"between {lo} and {hi}")
        raise ConfigError(f"must be {span}, got {value!r}", file=file, stage=stage, key=f.name)


def _check_model_file(path: str, kind: str, file: str | None, stage: str | None, key: str) -> None:
    """A model path must point at a model of the right format, found now rather than in setup()."""
    if kind != "fasttext" or "://" in path:
        return
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise ConfigError(f"cannot read model file {path}: {exc}", file=file, stage=stage, key=key) from None
    if len(head) < 4 or int.from_bytes(head, "little") != _FASTTEXT_MAGIC:
        raise ConfigError(f"{path} is not a fastText model (.bin/.ftz)", file=file, stage=stage, key=key)


_FASTTEXT_MAGIC = 793712314  # the int32 every fastText .bin/.ftz file starts with


def build_stage(name: str, params: dict[str, Any] | None = None, *, file: str | None = None) -> object:
    """Instantiate a registered stage from its params, validated."""
    try:
        cls = registry.stage_class(name)
    except registry.UnknownStageError as exc:
        raise ConfigError(str(exc.args[0]), file=file, stage=name) from None
    return build_dataclass(cls, params, file=file, stage=name, base_dir=project_root())


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` strings from the CLI; values are parsed as YAML (numbers, bools, lists)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        key, _, raw = pair.partition("=")
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return out


def project_root() -> Path:
    """The checkout (or installed tree) holding ``configs/``, used to resolve relative files."""
    return Path(__file__).resolve().parent.parent


_CORE_SECTIONS = ("input", "output", "run", "stages")
MAX_CONFIG_BYTES = 1 << 20


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors and aliases: a few hundred bytes of nested aliases expand
    to gigabytes (a "billion laughs"), and a pipeline config has no need for them."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed in configs",
                                              event.start_mark)
        return super().compose_node(parent, index)


def read_yaml(path: Path, file: str) -> Any:
    """Parse a config file: bounded in size, no aliases; errors as ConfigError."""
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file larger than {MAX_CONFIG_BYTES} bytes", file=file)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_NoAliasLoader)  # noqa: S506 - safe loader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None


def load_config(path: str | Path | None = None, *, data: dict[str, Any] | None = None) -> PipelineConfig:
    """Load and fully validate a pipeline config (a YAML file, or ``data`` as parsed)."""
    file = str(path) if path is not None else "<config>"
    if data is None:
        p = Path(path)  # type: ignore[arg-type]
        if not p.exists():
            raise ConfigError("config file not found", file=file)
        data = read_yaml(p, file) or {}
    if not isinstance(data, dict):
        raise ConfigError("a config must be a mapping with input/output/run/stages", file=file)
    known = (*_CORE_SECTIONS, *registry.section_names())
    for key in data:
        if key not in known:
            raise ConfigError(f"unknown section; known sections: {', '.join(sorted(known))}", file=file, key=key)
    base_dir = Path(path).resolve().parent.parent if path is not None else project_root()
    inp = build_dataclass(InputConfig, data.get("input"), file=file, stage="input")
    inp.paths = [_resolve_input(p, base_dir) for p in inp.paths]
    out = build_dataclass(OutputConfig, data.get("output"), file=file, stage="output")
    run = build_dataclass(RunConfig, data.get("run"), file=file, stage="run")
    specs = _parse_stage_list(data.get("stages") or [], file)
    cfg = PipelineConfig(input=inp, output=out, run=run, stages=specs, source_file=file, raw=data)
    for spec in specs:  # instantiate once now so every error surfaces before work starts
        build_stage(spec.name, spec.params, file=file)
    _check_ray_stage_names(run.ray, specs, file)
    for name in registry.section_names():  # sections owned by other packages (generate: the synthetic loop)
        if data.get(name) is not None:
            setattr(cfg, name, build_dataclass(registry.section_class(name), data[name], file=file, stage=name,
                                               base_dir=base_dir))
    return cfg


def _check_ray_stage_names(ray: RayOptions, specs: list[StageSpec], file: str) -> None:
    """``run.ray.stages`` may only name stages of this config (``name`` or ``name#2``)."""
    seen: dict[str, int] = {}
    names = set()
    for spec in specs:
        seen[spec.name] = seen.get(spec.name, 0) + 1
        names |= {spec.name, spec.name if seen[spec.name] == 1 else f"{spec.name}#{seen[spec.name]}"}
    for name in ray.stages:
        if name not in names:
            raise ConfigError(f"not a stage of this config; stages: {', '.join(sorted(names))}",
                              file=file, stage="run.ray", key=f"stages.{name}")


def _resolve_input(p: str, base_dir: Path) -> str:
    """Relative input paths are taken from the cwd if they exist there, else from the project root."""
    if "://" in p or Path(p).is_absolute() or glob.glob(p, recursive=True):
        return p
    candidate = base_dir / p
    return str(candidate)


def _parse_stage_list(items: Any, file: str) -> list[StageSpec]:
    if not isinstance(items, list):
        raise ConfigError("stages must be a list", file=file, key="stages")
    specs = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            specs.append(StageSpec(item, {}))
        elif isinstance(item, dict) and len(item) == 1:
            name, params = next(iter(item.items()))
            if params is not None and not isinstance(params, dict):
                raise ConfigError("stage params must be a mapping", file=file, stage=str(name))
            specs.append(StageSpec(str(name), dict(params or {})))
        else:
            raise ConfigError(f"stages[{i}] must be a stage name or a one-key mapping", file=file, key=f"stages[{i}]")
    return specs
