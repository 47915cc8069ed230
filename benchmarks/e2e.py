#!/usr/bin/env python3
"""End to end: taosha against DataTrove on the shared benchmark corpus, in one run.

    python benchmarks/e2e.py                        # 50k docs, 2 alternating repetitions, WARC variant
    python benchmarks/e2e.py --reps 1 --docs 5000   # quick look (builds a 5k-doc corpus once)
    python benchmarks/e2e.py --only taosha,taosha+classify --reps 1 --no-warc

What runs, each as a whole process (CPU = user + sys of the process and everything it
started and waited for, from ``wait4``; peak RSS from the same rusage, or DataTrove's own
sum over its process tree):

* ``taosha``: JSONL.gz -> normalize -> langid -> heuristics -> dedup -> Parquet, the stages
  and parameters of ``configs/cc_math_code.yaml`` without classify, local engine;
* ``taosha+classify``: the whole of ``configs/cc_math_code.yaml`` (classify before dedup);
* ``datatrove``: ``/work/shared/bench/datatrove_bench.py --variant filter_dedup --workers 2``:
  JSONL -> LanguageFilter(en, zh) -> GopherQualityFilter -> MinHash dedup (4 phases) -> Parquet,
  with the project's lid.176.ftz;
* ``zh`` / ``en``: ``taosha+classify`` on the Chinese (zh_prose + zh_math) and English
  (en_prose + en_math) documents of the same corpus (split once by docs_meta.jsonl.gz), for CPU
  per MB of text by language;
* WARC (``--no-warc`` to skip): the crawl samples ``configs/demo_data/**/*.warc.gz`` concatenated
  member by member into 8 files of at least ``--warc-mb`` MB (uncompressed) in total, through
  ``configs/cc_math_code.yaml``: records/s and MB/s.

Runs alternate (datatrove, taosha, taosha+classify, datatrove, ...) and figures are medians
over ``--reps``. The headline ratio is taosha's documents per CPU-second over DataTrove's, in
this run. Per stage, CPU seconds come from ``benchmarks/e2e_child.py`` (process CPU around each
stage call); stats.json's per-stage ``seconds`` are wall-clock, shown beside them.

The corpus is ``/work/shared/bench/make_corpus.py OUT --docs N --seed 1 --dev-data
/work/shared/data/dev``; ``--corpus`` reuses one already built with those flags (checked
against its manifest), otherwise it is built under ``--work`` with ``nice``.

DataTrove is run by ``--datatrove-python``, ``$TAOSHA_DATATROVE_PYTHON``, this interpreter if it
imports datatrove, or the venv ``--datatrove-venv`` (default ``../dtvenv``), which is created
when missing as
    python -m venv --system-site-packages DIR
    DIR/bin/pip install "datatrove[io,processing]==0.10.1" spacy
(a separate venv: datatrove[processing] pins trafilatura<1.12, taosha needs 2.x).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH = Path("/work/shared/bench")
CONFIG = ROOT / "configs" / "cc_math_code.yaml"
LID = ROOT / "filters" / "models" / "lid.176.ftz"
ZH_CATS, EN_CATS = ("zh_prose", "zh_math"), ("en_prose", "en_math")


# ----------------------------------------------------------------------------- processes


def run_measured(cmd: list[str], log: Path, env: dict | None = None) -> dict:
    """Run ``cmd`` to completion; CPU (user + sys, children included) and peak RSS from wait4."""
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
            "max_rss_mb": ru.ru_maxrss / 1024}


def taosha_config(inputs: list[str], out: Path, classify: bool, config: Path = CONFIG) -> dict:
    import yaml

    data = yaml.safe_load(config.read_text())
    data["input"]["paths"] = inputs
    data["output"]["dir"] = str(out)
    if not classify:
        data["stages"] = [s for s in data["stages"] if not (s == "classify" or (isinstance(s, dict) and "classify" in s))]
    return data


def run_taosha(name: str, inputs: list[str], work: Path, classify: bool, rep: int) -> dict:
    out = work / f"{name}-out"
    shutil.rmtree(out, ignore_errors=True)
    spec, res_path = work / f"{name}.spec.json", work / f"{name}.result.json"
    spec.write_text(json.dumps({"config": taosha_config(inputs, out, classify)}))
    proc = run_measured([sys.executable, str(ROOT / "benchmarks" / "e2e_child.py"), str(spec), str(res_path)],
                        work / f"{name}-{rep}.log")
    res = json.loads(res_path.read_text())
    return {**proc, "child": res, "docs_in": res["records_in"], "kept": res["kept"]}


def run_datatrove(python: str, corpus: Path, work: Path, rep: int) -> dict:
    dt_work = work / "datatrove"
    cmd = [python, str(BENCH / "datatrove_bench.py"), str(corpus), str(dt_work), "--lid", str(LID),
           "--workers", "2", "--variant", "filter_dedup", "--force"]
    proc = run_measured(cmd, work / f"datatrove-{rep}.log")
    res = json.loads((dt_work / "filter_dedup" / "results.json").read_text())
    return {**proc, "own_cpu_s": res["total_cpu_s"], "own_wall_s": res["total_wall_s"],
            "peak_rss_sum_mb": res["peak_rss_sum_mb"], "docs_in": res["corpus"]["docs"], "kept": res["docs_kept"],
            "phases": {p["phase"]: (p["wall_s"], p["cpu_s"]) for p in res["phases"]}}


DATATROVE_REQS = ["datatrove[io,processing]==0.10.1", "spacy"]


def _has_datatrove(python: str | None) -> bool:
    return bool(python) and Path(python).exists() and subprocess.run(
        [python, "-c", "import datatrove, spacy"], capture_output=True).returncode == 0


def datatrove_python(arg: str | None, venv: Path) -> str | None:
    """An interpreter that imports datatrove: --datatrove-python, $TAOSHA_DATATROVE_PYTHON, this
    one, or VENV's (created with pip from PyPI when missing: a separate venv that sees this
    environment's packages, because datatrove[processing] pins trafilatura<1.12)."""
    for cand in (arg, os.environ.get("TAOSHA_DATATROVE_PYTHON"), sys.executable, str(venv / "bin" / "python")):
        if _has_datatrove(cand):
            return cand
    if arg:
        return None
    print(f"[e2e] installing DataTrove into {venv} ({' '.join(DATATROVE_REQS)})", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    subprocess.run(["nice", str(venv / "bin" / "pip"), "install", "-q", *DATATROVE_REQS], check=True)
    return str(venv / "bin" / "python") if _has_datatrove(str(venv / "bin" / "python")) else None


# ----------------------------------------------------------------------------- inputs


def ensure_corpus(corpus: Path | None, docs: int, work: Path) -> Path:
    """An existing make_corpus.py output with --docs DOCS --seed 1, or one built under WORK."""
    want = {"docs": docs, "seed": 1}
    cands = [corpus] if corpus else [work / f"corpus-{docs}", Path("/tmp/bench50k")] if docs == 50_000 else [work / f"corpus-{docs}"]
    for c in cands:
        m = c / "manifest.json"
        if m.exists():
            params = json.loads(m.read_text()).get("params", {})
            if all(params.get(k) == v for k, v in want.items()):
                return c
            if corpus:
                raise SystemExit(f"{c} was built with {params}, not --docs {docs} --seed 1")
    target = work / f"corpus-{docs}"
    print(f"[e2e] building the corpus in {target} (make_corpus.py --docs {docs} --seed 1)", flush=True)
    subprocess.run(["nice", sys.executable, str(BENCH / "make_corpus.py"), str(target), "--docs", str(docs),
                    "--seed", "1", "--dev-data", "/work/shared/data/dev"], check=True)
    return target


def split_by_language(corpus: Path, work: Path) -> dict[str, tuple[Path, float, int]]:
    """JSONL.gz of the zh and the en documents of ``corpus`` (once): {lang: (dir, text MB, docs)}."""
    cats = {}
    with gzip.open(corpus / "docs_meta.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            cats[r["id"]] = r["cat"]
    out = {}
    for lang, want in (("zh", ZH_CATS), ("en", EN_CATS)):
        d = work / f"split-{corpus.name}-{lang}"
        meta = d / "meta.json"
        if not meta.exists():
            d.mkdir(parents=True, exist_ok=True)
            n, nbytes = 0, 0
            for shard in sorted((corpus / "docs").glob("*.jsonl.gz")):
                with gzip.open(shard, "rt", encoding="utf-8") as src, \
                        gzip.open(d / shard.name, "wt", encoding="utf-8", compresslevel=6) as dst:
                    for line in src:
                        r = json.loads(line)
                        if cats.get(r["id"]) in want:
                            dst.write(line)
                            n += 1
                            nbytes += len(r["text"].encode())
            meta.write_text(json.dumps({"docs": n, "text_bytes": nbytes}))
        m = json.loads(meta.read_text())
        out[lang] = (d, m["text_bytes"] / 1e6, m["docs"])
    return out


def build_warc(work: Path, min_mb: float, files: int = 8) -> tuple[list[str], float, float]:
    """The crawl samples concatenated (gzip members stay whole) into ``files`` files holding at
    least ``min_mb`` MB uncompressed in all: (paths, gz MB, uncompressed MB)."""
    samples = sorted((ROOT / "configs" / "demo_data").rglob("*.warc.gz"))
    raw = [s.read_bytes() for s in samples]
    unz = sum(len(gzip.decompress(b)) for b in raw)
    copies = max(1, -(-int(min_mb * 1e6) // unz))
    d = work / f"warc-{min_mb:g}mb"
    paths = [d / f"crawl-{i:02d}.warc.gz" for i in range(files)]
    if not all(p.exists() for p in paths):
        d.mkdir(parents=True, exist_ok=True)
        for i, p in enumerate(paths):
            n = len(range(i, copies, files))
            with open(p, "wb") as f:
                for _ in range(n):
                    for b in raw:
                        f.write(b)
    return [str(p) for p in paths], sum(p.stat().st_size for p in paths) / 1e6, unz * copies / 1e6


# ----------------------------------------------------------------------------- report


def med(values: list[float]) -> float:
    return statistics.median(values)


def stage_table(runs: list[dict]) -> list[str]:
    """Median CPU and wall seconds per stage over the runs of one variant."""
    names: list[str] = []
    for r in runs:
        for k in r["child"]["stage_cpu_s"]:
            if k not in names:
                names.append(k)
    lines = [f"    {'stage':24s} {'CPU s':>8s} {'wall s':>8s} {'rows in':>8s} {'kept':>7s}"]
    stats = {s["stage"]: s for s in runs[0]["child"]["stats"]["stages"]}
    for k in ["startup"] + names + ["read/write/run"]:
        if k == "startup":
            cpu = med([r["child"]["startup_cpu_s"] for r in runs])
            wall = float("nan")
        elif k == "read/write/run":
            cpu = med([r["child"]["other_cpu_s"] for r in runs])
            wall = float("nan")
        else:
            cpu = med([r["child"]["stage_cpu_s"].get(k, 0.0) for r in runs])
            wall = med([r["child"]["stage_wall_s"].get(k, 0.0) for r in runs])
        st = stats.get(k)
        extra = f" {st['rows_in']:8d} {st['kept']:7d}" if st else ""
        lines.append(f"    {k:24s} {cpu:8.2f} {wall:8.2f}{extra}")
    return lines


def summarize(name: str, runs: list[dict], docs: int, mb: float) -> dict:
    cpu = med([r["cpu_s"] for r in runs])
    wall = med([r["wall_s"] for r in runs])
    rss = med([r.get("peak_rss_sum_mb", r["max_rss_mb"]) for r in runs])
    print(f"  {name:16s} CPU {cpu:7.1f} s  wall {wall:7.1f} s  {docs / wall:7.0f} docs/s  {mb / wall:6.2f} MB/s  "
          f"{docs / cpu:7.0f} docs/CPU-s  {mb / cpu:6.2f} MB/CPU-s  peak RSS {rss:6.0f} MB  kept {runs[0]['kept']}"
          f"  (CPU per rep: {', '.join('%.1f' % r['cpu_s'] for r in runs)})")
    return {"cpu_s": cpu, "wall_s": wall, "docs_per_cpu_s": docs / cpu, "peak_rss_mb": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=None, help="existing make_corpus.py output (--seed 1)")
    ap.add_argument("--docs", type=int, default=50_000)
    ap.add_argument("--reps", type=int, default=2, help="alternating repetitions (medians over them)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/taosha_e2e"))
    ap.add_argument("--only", default="datatrove,taosha,taosha+classify,zh,en",
                    help="comma list of datatrove, taosha, taosha+classify, zh, en")
    ap.add_argument("--no-warc", action="store_true")
    ap.add_argument("--warc-mb", type=float, default=200.0, help="uncompressed WARC MB for the WARC variant")
    ap.add_argument("--datatrove-python", default=None)
    ap.add_argument("--datatrove-venv", type=Path, default=Path(os.environ.get("TAOSHA_DATATROVE_VENV", ROOT.parent / "dtvenv")),
                    help="venv to find or create DataTrove in (default $TAOSHA_DATATROVE_VENV or ../dtvenv)")
    ap.add_argument("--datatrove-reps", type=int, default=None, help="DataTrove repetitions (default --reps)")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    corpus = ensure_corpus(args.corpus, args.docs, args.work)
    manifest = json.loads((corpus / "manifest.json").read_text())
    docs, mb = manifest["docs"], manifest["text_bytes"] / 1e6
    inputs = [str(corpus / "docs")]
    dt_python = None
    if "datatrove" in only:
        dt_python = datatrove_python(args.datatrove_python, args.datatrove_venv)
        if dt_python is None:
            print("[e2e] datatrove not importable (see --datatrove-python); DataTrove left out", flush=True)
            only.remove("datatrove")
    splits = split_by_language(corpus, args.work) if {"zh", "en"} & set(only) else {}
    print(f"[e2e] corpus {corpus}: {docs} docs, {mb:.1f} MB text; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start", flush=True)

    results: dict[str, list[dict]] = {k: [] for k in only}
    for rep in range(args.reps):
        for name in only:
            t0 = time.perf_counter()
            if name == "datatrove" and rep >= (args.datatrove_reps if args.datatrove_reps is not None else args.reps):
                continue
            if name == "datatrove":
                r = run_datatrove(dt_python, corpus, args.work, rep)
            elif name in ("taosha", "taosha+classify"):
                r = run_taosha(name, inputs, args.work, name == "taosha+classify", rep)
            else:
                r = run_taosha(f"lang-{name}", [str(splits[name][0])], args.work, True, rep)
            results[name].append(r)
            print(f"[e2e] rep {rep + 1}/{args.reps} {name}: CPU {r['cpu_s']:.1f} s, wall {r['wall_s']:.1f} s "
                  f"({time.perf_counter() - t0:.0f} s), load average {os.getloadavg()[0]:.1f}", flush=True)

    report: dict = {"corpus": str(corpus), "docs": docs, "text_mb": mb, "reps": args.reps}
    print(f"\n== e2e: {docs} docs, {mb:.1f} MB text, medians of {args.reps} alternating run(s), whole processes")
    for name in ("datatrove", "taosha", "taosha+classify"):
        if results.get(name):
            report[name] = summarize(name, results[name], docs, mb)
    if "datatrove" in report:
        dt = results["datatrove"]
        print(f"  datatrove's own figures: CPU {med([r['own_cpu_s'] for r in dt]):.1f} s, wall "
              f"{med([r['own_wall_s'] for r in dt]):.1f} s; phases (wall s, CPU s) {dt[0]['phases']}")
        for name, target in (("taosha", 20.0), ("taosha+classify", 12.0)):
            if name in report:
                ratio = report[name]["docs_per_cpu_s"] / report["datatrove"]["docs_per_cpu_s"]
                report[name]["ratio_vs_datatrove"] = ratio
                print(f"  ratio {name:16s} / datatrove, docs per CPU-second: {ratio:5.1f}x "
                      f"(target {target:g}x: {'met' if ratio >= target else 'NOT met'})")
    for name in ("taosha", "taosha+classify"):
        if results.get(name):
            print(f"\n  per stage, {name} (CPU s and wall s, medians; stats.json rows):")
            print("\n".join(stage_table(results[name])))
    if {"zh", "en"} <= set(results):
        print("\n  by language, configs/cc_math_code.yaml (with classify):")
        per_mb = {}
        for lang in ("zh", "en"):
            runs = results[lang]
            lmb, ldocs = splits[lang][1], splits[lang][2]
            cpu = med([r["cpu_s"] for r in runs])
            stage_cpu = med([r["child"]["run_cpu_s"] for r in runs])
            per_mb[lang] = stage_cpu / lmb
            by_stage = {k: round(med([r["child"]["stage_cpu_s"].get(k, 0.0) for r in runs]) / lmb, 3)
                        for k in runs[0]["child"]["stage_cpu_s"]}
            print(f"  {lang}: {ldocs} docs, {lmb:.1f} MB; process CPU {cpu:.1f} s, run CPU {stage_cpu:.1f} s -> "
                  f"{per_mb[lang]:.3f} CPU-s per MB (run); per stage CPU-s/MB {by_stage}")
        ratio = per_mb["zh"] / per_mb["en"]
        report["zh_over_en_cpu_per_mb"] = ratio
        print(f"  zh / en CPU per MB: {ratio:.2f}x (target <= 2x: {'met' if ratio <= 2 else 'NOT met'})")

    if not args.no_warc:
        paths, gz_mb, raw_mb = build_warc(args.work, args.warc_mb)
        runs = [run_taosha("warc", paths, args.work, True, rep) for rep in range(args.reps)]
        wall = med([r["wall_s"] for r in runs])
        cpu = med([r["cpu_s"] for r in runs])
        recs = runs[0]["docs_in"]
        read_cpu = med([r["child"]["other_cpu_s"] for r in runs])
        print(f"\n  WARC: {len(paths)} files, {gz_mb:.1f} MB gz / {raw_mb:.1f} MB uncompressed, {recs} records, "
              f"configs/cc_math_code.yaml")
        print(f"  WARC: wall {wall:.1f} s -> {recs / wall:.0f} records/s, {raw_mb / wall:.1f} MB/s uncompressed "
              f"({gz_mb / wall:.1f} MB/s gz); CPU {cpu:.1f} s -> {recs / cpu:.0f} records/CPU-s, "
              f"{raw_mb / cpu:.1f} MB/CPU-s; read (HTML -> text) + write CPU {read_cpu:.1f} s; kept {runs[0]['kept']}; "
              f"peak RSS {med([r['max_rss_mb'] for r in runs]):.0f} MB")
        print("\n".join(stage_table(runs)))
        report["warc"] = {"records": recs, "wall_s": wall, "cpu_s": cpu, "gz_mb": gz_mb, "raw_mb": raw_mb}
    print(f"\n[e2e] load average {os.getloadavg()[0]:.1f} at the end")
    if args.json:
        args.json.write_text(json.dumps({"report": report, "runs": results}, indent=1, default=str))


if __name__ == "__main__":
    main()
