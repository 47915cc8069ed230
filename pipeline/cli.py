"""The ``taosha`` command line.

    taosha run [CONFIG] [--input PATH ...] [--output DIR] [--engine local|ray]
    taosha stage NAME --input PATH --output FILE.parquet [--set key=value ...] [--limit N]
    taosha inspect PATH
    taosha stages
    taosha train-classifier ...
    taosha generate CONFIG [--output DIR]

Heavy modules (Ray, fastText, the LLM client) are imported only by the command that
needs them, so ``taosha stage normalize`` starts in well under a second.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from pipeline.allocators import configure as _configure_allocators
from pipeline.allocators import freeze_for_exit as _freeze_for_exit

_configure_allocators()  # before pyarrow and polars load their allocators (see pipeline.allocators)

from pipeline import __version__, registry  # noqa: E402
from pipeline.config import ConfigError, InputConfig, load_config, parse_overrides, project_root  # noqa: E402
from pipeline.run.plan import RunError  # noqa: E402

DEMO_CONFIG = "configs/demo.yaml"
DEFAULT_OUTPUT_ROOT = "taosha-out"

# Subcommands owned by other packages: name -> module with add_arguments(parser) and run(args).
_DELEGATED = {
    "train-classifier": ("filters.classify.train", "train a fastText math/code quality classifier"),
    "generate": ("generators.cli", "run the synthetic-data loop of a config"),
}


def default_output_dir(config_path: str) -> str:
    """``taosha-out/<config name>`` in the current directory."""
    return str(Path(DEFAULT_OUTPUT_ROOT) / Path(config_path).stem)


def cmd_run(args: argparse.Namespace) -> int:
    config_path = args.config or str(project_root() / DEMO_CONFIG)
    if args.config is None and not Path(config_path).exists():
        raise ConfigError("the embedded demo (configs/demo.yaml and its data) ships with the source tree, "
                          "not with an installed wheel: run `pip install -e .` in a checkout, or pass a config: "
                          "taosha run my_config.yaml", file=config_path)
    config = load_config(config_path)
    if args.input:
        config.input.paths = list(args.input)
        config.raw.setdefault("input", {})["paths"] = list(args.input)
    if args.output:
        config.output.dir = args.output
    elif "dir" not in (config.raw.get("output") or {}):
        config.output.dir = default_output_dir(config_path)
    if args.engine:
        config.run.engine = args.engine
    if args.ray_address:
        config.run.ray_address = args.ray_address
    progress = None if args.quiet else _progress
    _progress(f"taosha {__version__}: {config_path} -> {config.output.dir} (engine {config.run.engine})")
    from pipeline import run_config
    from pipeline.report import funnel

    result = run_config(config, progress=progress, overwrite=args.overwrite)

    print(funnel(result.stats.to_dict()))
    written = [f"{kind}/" for kind in ("data", "rejects", "errors") if any(f.kind == kind for f in result.files)]
    print(f"outputs: {config.output.dir}/ ({', '.join(written + ['manifest.json', 'stats.json'])})")
    if not args.no_generate:
        for name, section in config.sections().items():  # e.g. generate: the synthetic round
            hook = registry.after_run_hook(name)
            if hook is None:
                continue
            try:
                hook(config, progress)
            except RunError as exc:  # e.g. no sandbox for generated code on this machine
                raise RunError(f"the {name} round stopped: {exc}\n(the cleaning run's outputs above are complete; "
                               f"--no-generate skips the {name} round)") from exc
    if not result.ok:
        print(f"error rate {result.error_rate:.1%} exceeds run.max_error_rate "
              f"{config.run.max_error_rate:.1%}", file=sys.stderr)
        return 3
    return 0


def cmd_stage(args: argparse.Namespace) -> int:
    from pipeline.report import count, shorten, table
    from pipeline.debug import examples, run_stage_debug

    input_config = InputConfig(batch_size=args.batch_size)
    if args.format:
        input_config.format = args.format
    if args.text_field:
        input_config.text_field = args.text_field
    result = run_stage_debug(args.name, args.input, args.output, parse_overrides(args.set or []),
                             args.limit, input_config)
    print(f"{args.name}: {count(result.rows, 'row')}, {result.kept} kept, {result.rows - result.kept} dropped, "
          f"{count(result.errored, 'unreadable record')}, {result.seconds:.2f} s")
    print(f"columns added: {', '.join(result.columns) or '(none)'}")
    rows = [["(kept)", result.kept]] + [[r, c] for r, c in result.dropped_by_reason.most_common()]
    print(table(["drop_reason", "rows"], rows, "lr"))
    for reason in [None] + [r for r, _ in result.dropped_by_reason.most_common()]:
        sample = examples(result.table, reason, args.examples)
        if sample:
            print(f"\n== {reason or 'kept'} ==")
            deciding = _deciding_columns(reason, result.columns)
            for row in sample:
                signals = {c: row[c] for c in result.columns if c in row and not isinstance(row[c], (list, dict))}
                print(f"- {row['id']}: {shorten(row['text'], 140)}")
                decided = {c: signals.pop(c) for c in deciding if c in signals}
                if decided:
                    print(f"    decided by: {', '.join(f'{k}={_fmt(v)}' for k, v in decided.items())}")
                if signals:
                    print(f"    {shorten(', '.join(f'{k}={_fmt(v)}' for k, v in list(signals.items())[:8]), 200)}")
    print(f"\nwrote {args.output}")
    return 0


def _deciding_columns(reason: str | None, columns: list[str]) -> list[str]:
    """The stage's columns that name the rule of a drop reason (at most 3, best first):
    ``heuristics:spam_keywords`` -> ``quality_spam_hits``; ``langid:low_score`` -> ``lang_score``.
    Matched by word stems, earlier words of the rule weighing more (``spam`` over ``keywords``)."""
    if not reason or ":" not in reason:
        return []
    weights: dict[str, float] = {}
    for pos, word in enumerate(reason.split(":", 1)[1].split("_")):
        if len(word) > 2:
            weights.setdefault(word.rstrip("s"), 1.0 / (pos + 1))
    scored = [(sum(weights.get(w.rstrip("s"), 0.0) for w in set(col.split("_"))), col) for col in columns]
    best = max((score for score, _ in scored), default=0.0)
    return [col for score, col in scored if best and score == best][:3]


def _fmt(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def cmd_inspect(args: argparse.Namespace) -> int:
    from pipeline.inspect_outputs import inspect_path

    print(inspect_path(args.path, rows=args.rows))
    return 0


def cmd_stages(args: argparse.Namespace) -> int:
    import dataclasses

    from pipeline.registry import available_stages

    for name, cls in available_stages().items():
        if isinstance(cls, Exception):
            print(f"{name}: unavailable ({type(cls).__name__}: {cls})")
            continue
        print(f"{name}: {_stage_summary(cls)}")
        comments = _field_comments(cls)
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else "(required)")
            text = f.metadata.get("help") or comments.get(f.name)
            print(f"    {f.name} = {default!r}" + (f"  -- {text}" if text else ""))
    return 0


def _stage_summary(cls: type) -> str:
    """The first line of the stage's docstring; a dataclass without one gets a generated
    ``Name(field: type = ...)`` signature as ``__doc__``, so then the module's first line."""
    import sys as _sys

    for doc in (cls.__doc__, getattr(_sys.modules.get(cls.__module__), "__doc__", None)):
        line = (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""
        if line and not line.startswith(f"{cls.__name__}("):
            return line
    return ""


def _field_comments(cls: type) -> dict[str, str]:
    """``name: type = default  # comment`` -> {name: comment}, for fields without a ``help``."""
    import inspect
    import re

    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\s+(\w+)\s*:[^\n#]*#\s*(.+)$", source, re.M)}


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; a delegated command's module is imported only when it is ``command``."""
    parser = argparse.ArgumentParser(prog="taosha", description="Pan web dumps for math and code training data.")
    parser.add_argument("--version", action="version", version=f"taosha {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a pipeline config (default: the embedded demo)")
    run.add_argument("config", nargs="?", help=f"YAML config (default: {DEMO_CONFIG})")
    run.add_argument("--input", nargs="+", action="extend",
                     help="input files, directories or globs (replace the config's); repeat or list several")
    run.add_argument("--output", help=f"output dir (default: the config's, else {DEFAULT_OUTPUT_ROOT}/<config name>)")
    run.add_argument("--engine", choices=["local", "ray"], help="local process or Ray Data (default: config)")
    run.add_argument("--ray-address", help="Ray cluster to join: auto or HOST:PORT (default: start a local Ray)")
    run.add_argument("--overwrite", action="store_true", help="clear the output dir first instead of resuming")
    run.add_argument("--no-generate", action="store_true", help="skip the config's synthetic-loop section")
    run.add_argument("--quiet", action="store_true", help="no per-file progress")
    run.set_defaults(func=cmd_run)

    stage = sub.add_parser("stage", help="run ONE stage on an input, write every row with its decision")
    stage.add_argument("name", help="stage name (see `taosha stages`)")
    stage.add_argument("--input", required=True, nargs="+", action="extend",
                       help="input files, directories or globs; repeat or list several")
    stage.add_argument("--output", required=True, help="Parquet file to write (every row, kept and dropped)")
    stage.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a stage parameter")
    stage.add_argument("--limit", type=int, help="read at most N records")
    stage.add_argument("--format", choices=["auto", "jsonl", "parquet", "warc", "wet"])
    stage.add_argument("--text-field", help="JSONL/Parquet field holding the text (default: text)")
    stage.add_argument("--batch-size", type=int, default=1000)
    stage.add_argument("--examples", type=int, default=3, help="examples to print per reason")
    stage.set_defaults(func=cmd_stage)

    inspect = sub.add_parser("inspect", help="schema, counts, drop reasons and sample rows of outputs")
    inspect.add_argument("path", help="an output dir or a Parquet file")
    inspect.add_argument("--rows", type=int, default=3, help="sample rows to show")
    inspect.set_defaults(func=cmd_inspect)

    stages = sub.add_parser("stages", help="list the stages and their parameters")
    stages.set_defaults(func=cmd_stages)

    for name, (module_name, help_text) in _DELEGATED.items():
        p = sub.add_parser(name, help=help_text)
        if name != command:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            p.set_defaults(func=lambda args, exc=exc: _unavailable(exc))
            continue
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def _unavailable(exc: Exception) -> int:
    print(f"taosha: this command is unavailable: {exc}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"taosha: config error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, RunError) as exc:
        print(f"taosha: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("taosha: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


def entry() -> int:
    """The ``taosha`` command: :func:`main`, then a cheaper interpreter exit
    (:func:`pipeline.allocators.freeze_for_exit`; ``main`` itself can be called again)."""
    code = main()
    _freeze_for_exit()
    return code


if __name__ == "__main__":
    sys.exit(entry())
