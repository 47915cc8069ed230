"""Read -> write throughput for JSONL and WARC inputs, and the HTML extractor comparison.

    python benchmarks/read_write.py [--mb 200] [--repeats 3]     # throughput
    python benchmarks/read_write.py --compare-extractors          # resiliparse vs trafilatura

Throughput: builds inputs of at least ``--mb`` MB in a temp dir by repeating real
samples (JSONL: the rows of tests/data/dev; WARC: the real .warc.gz files of the crawl
directory concatenated, member by member), then prints records/s and MB/s (input file
bytes) for

- read only (``pipeline.io.readers.read_file`` over every file), and
- read + write (``pipeline.run.local.run_local`` on a config with no stages:
  Parquet shards, rejects, errors, manifest and stats),

with baselines measured in the same run: ``pyarrow.json.read_json`` (vectorized, no
per-line error handling) for JSONL, and a bare FastWARC iteration (no text
extraction) for WARC. Figures are medians over ``--repeats`` runs, as wall-clock rates
and as rates per CPU-second of this process (the honest figure on a shared machine,
where wall time includes waiting for a core).

Extractor comparison: on every HTML response of the crawl samples, per extractor:
docs/s, empty extractions, recall of long ``<p>`` paragraphs, share of output lines
that come from nav/header/footer/aside, CJK characters kept on the Chinese pages,
mojibake markers, code lines kept with their indentation, and injected formulas kept.
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_CRAWL = "/work/shared/data/crawl"
DEFAULT_DEV = str(ROOT / "tests" / "data" / "dev")


def build_jsonl(dev: Path, out: Path, mb: float, files: int = 4) -> int:
    """Repeat the dev rows into ``files`` JSONL files totalling >= mb MB; returns bytes."""
    rows = b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in sorted(dev.glob("*.jsonl")))
    per_file = int(mb * 1e6 / files) + 1
    total = 0
    for i in range(files):
        with open(out / f"part-{i}.jsonl", "wb") as f:
            written = 0
            while written < per_file:
                f.write(rows)
                written += len(rows)
        total += written
    return total


def build_warc(crawl: Path, out: Path, mb: float, files: int = 4) -> int:
    """Concatenate the real .warc.gz files (whole gzip members) into files totalling >= mb MB."""
    blob = b"".join(p.read_bytes() for p in sorted(crawl.rglob("*.warc.gz"))
                    if not p.name.endswith((".wet.gz", ".wat.gz")))
    per_file = int(mb * 1e6 / files) + 1
    total = 0
    for i in range(files):
        with open(out / f"part-{i}.warc.gz", "wb") as f:
            written = 0
            while written < per_file:
                f.write(blob)
                written += len(blob)
        total += written
    return total


def count_lines(directory: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in directory.iterdir())


def time_read(directory: Path, extract: str) -> tuple[float, float, int, int]:
    from pipeline.config import InputConfig
    from pipeline.io.readers import read_file, resolve_inputs

    start, cpu = time.perf_counter(), time.process_time()
    rows = errors = 0
    for path in resolve_inputs([str(directory)]):
        for chunk in read_file(path, InputConfig(batch_size=2000, extract=extract)):
            rows += chunk.records.num_rows
            errors += chunk.errors.num_rows
    return time.perf_counter() - start, time.process_time() - cpu, rows, errors


def time_run_local(directory: Path, out: Path, extract: str) -> tuple[float, float, int] | None:
    try:
        from pipeline.config import load_config
        from pipeline.run.local import run_local
    except ImportError as exc:
        print(f"  (run_local unavailable: {exc}; read-only figures only)")
        return None
    shutil.rmtree(out, ignore_errors=True)
    cfg = load_config(data={"input": {"paths": [str(directory)], "batch_size": 2000, "extract": extract},
                            "output": {"dir": str(out)}, "stages": []})
    start, cpu = time.perf_counter(), time.process_time()
    result = run_local(cfg, progress=None, overwrite=True)
    return time.perf_counter() - start, time.process_time() - cpu, result.stats.records_in


def baseline_jsonl(directory: Path) -> tuple[float, float]:
    import pyarrow as pa
    import pyarrow.json as pj

    pa.set_cpu_count(1)  # one core, like the reader, so the ratio compares code, not cores
    start, cpu = time.perf_counter(), time.process_time()
    for p in sorted(directory.iterdir()):
        pj.read_json(p)
    return time.perf_counter() - start, time.process_time() - cpu


def baseline_warc(directory: Path) -> tuple[float, float]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    start, cpu = time.perf_counter(), time.process_time()
    for p in sorted(directory.iterdir()):
        with open(p, "rb") as f:
            for rec in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=True):
                rec.reader.read()
    return time.perf_counter() - start, time.process_time() - cpu


def report(label: str, timings: list[tuple], records: int, nbytes: int, base: float | None = None) -> float:
    """Print rates from the median wall time and the median CPU time; returns the CPU median."""
    wall = statistics.median(t[0] for t in timings)
    cpu = statistics.median(t[1] for t in timings)
    line = (f"  {label:<34} {records / wall:>9,.0f} rec/s {nbytes / 1e6 / wall:>7.1f} MB/s wall | "
            f"{records / cpu:>9,.0f} rec/s {nbytes / 1e6 / cpu:>7.1f} MB/s per CPU-second")
    if base:
        line += f" | x{cpu / base:.1f} baseline CPU"
    print(line + f"  (medians of {len(timings)})")
    return cpu


def throughput(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="taosha-bench-"))
    try:
        for kind in ("jsonl", "warc"):
            src = tmp / kind
            src.mkdir()
            nbytes = build_jsonl(Path(args.dev), src, args.mb) if kind == "jsonl" else build_warc(Path(args.crawl), src, args.mb)
            print(f"{kind.upper()}: {nbytes / 1e6:.0f} MB in {len(list(src.iterdir()))} files")
            base = [baseline_jsonl(src) if kind == "jsonl" else baseline_warc(src) for _ in range(args.repeats)]
            reads = [time_read(src, args.extract) for _ in range(args.repeats)]
            rows = reads[0][2] + reads[0][3]
            base_cpu = report("baseline " + ("pyarrow.json.read_json" if kind == "jsonl" else "fastwarc, no extraction"),
                              base, rows, nbytes)
            report("read_file (read only)", reads, rows, nbytes, base_cpu)
            runs = [time_run_local(src, tmp / f"out-{kind}", args.extract) for _ in range(args.repeats)]
            if runs[0] is not None:
                report("run_local, no stages (read+write)", runs, runs[0][2], nbytes, base_cpu)
            shutil.rmtree(src)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ extractor comparison


def html_pages(crawl: Path) -> list[tuple[str, str, bytes]]:
    """(file, url, decoded html) of every 200 HTML response in the crawl samples."""
    from pipeline.io.readers.charset import decode_bytes
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    pages = []
    for p in sorted(crawl.rglob("*.warc.gz")):
        if p.name.endswith((".wet.gz", ".wat.gz")):
            continue
        with open(p, "rb") as f:
            for rec in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=True, auto_decode="all"):
                ctype = rec.http_headers.get("Content-Type") or ""
                if rec.http_headers.status_code == 200 and "html" in ctype:
                    charset = re.search(r"charset=([\w-]+)", ctype)
                    body = rec.reader.read()
                    pages.append((p.name, rec.headers.get("WARC-Target-URI").strip("<>"),
                                  decode_bytes(body, charset.group(1) if charset else None).text))
    return pages


FORMULAS = ('<p>Inline <script type="math/tex">x^2+1</script>, display <script type="math/tex; mode=display">'
            '\\int_0^1 f</script>, KaTeX <span class="katex"><annotation encoding="application/x-tex">\\frac{a}{b}'
            '</annotation></span>, MathML <math alttext="\\sqrt{2}"><msqrt><mn>2</mn></msqrt></math>, text \\(q\\).</p>')
FORMULA_MARKS = ("$x^2+1$", "$$\\int_0^1 f$$", "$\\frac{a}{b}$", "$\\sqrt{2}$", "\\(q\\)")


def page_signals(html: str) -> dict:
    from resiliparse.parse.html import HTMLTree

    from pipeline.io.readers.html_math import select

    tree = HTMLTree.parse(html)
    paras = [re.sub(r"\s+", " ", p.text).strip() for p in select(tree.document, "p")]
    boiler = set()
    for el in select(tree.document, "nav, header, footer, aside, [role=navigation]"):
        boiler.update(s for s in (re.sub(r"\s+", " ", x).strip() for x in el.text.split("\n")) if len(s) > 15)
    code = []
    for el in select(tree.document, "pre"):
        code.extend(line.rstrip() for line in el.text.split("\n") if line.strip())
    return {"paras": [p for p in paras if len(p) >= 200], "boiler": boiler, "code": code}


def compare_extractors(args: argparse.Namespace) -> None:
    from pipeline.io.readers.html_text import html_to_text

    pages = html_pages(Path(args.crawl))
    signals = [page_signals(h) for _, _, h in pages]
    mathjax = [i for i, (_, _, h) in enumerate(pages) if "mathjax" in h.lower()]
    injected = {}
    for i in mathjax:
        h = pages[i][2]
        m = max(re.finditer(r"(?is)<p[ >].*?</p>", h), key=lambda x: len(x.group(0)), default=None)
        at = m.end() if m else h.lower().find("<body") + 6
        injected[i] = h[:at] + FORMULAS + h[at:]
    print(f"{len(pages)} HTML pages ({sum(1 for f, _, _ in pages if f == 'warcfile.warc.gz')} from warcfile.warc.gz), "
          f"{len(mathjax)} MathJax pages, {sum(len(s['code']) for s in signals)} code lines in <pre>")
    for extractor in ("resiliparse", "trafilatura"):
        html_to_text(pages[0][2], extractor)  # warm imports
        times = []
        for _ in range(args.repeats):
            start = time.process_time()  # CPU time: wall time on a shared machine measures the neighbours
            outputs = [html_to_text(h, extractor) for _, _, h in pages]
            times.append(time.process_time() - start)
        med = statistics.median(times)
        empty = sum(1 for o in outputs if not o.strip())
        para_total = sum(len(s["paras"]) for s in signals)
        para_kept = sum(sum(1 for p in s["paras"] if p[:120] in re.sub(r"\s+", " ", o)) for s, o in zip(signals, outputs))
        lines = [(line.strip(), s["boiler"]) for s, o in zip(signals, outputs) for line in o.split("\n") if len(line.strip()) > 15]
        boiler = sum(1 for line, b in lines if line in b)
        cjk_in = cjk_out = 0
        mojibake = 0
        for (f, _, h), o in zip(pages, outputs):
            mojibake += len(re.findall(r"Ã|锟斤拷|\ufffd", o))
            if f == "warcfile.warc.gz":
                cjk_out += len(re.findall(r"[\u4e00-\u9fff]", o))
                cjk_in += len(re.findall(r"[\u4e00-\u9fff]", re.sub(r"(?is)<(script|style)[^>]*>.*?</\1>|<[^>]+>", " ", h)))
        code_total = sum(len(s["code"]) for s in signals)
        code_kept = sum(sum(1 for c in s["code"] if c in o) for s, o in zip(signals, outputs))
        math_out = [html_to_text(h, extractor) for h in injected.values()]
        math_kept = sum(sum(1 for mark in FORMULA_MARKS if mark in o) for o in math_out)
        print(f"{extractor}:")
        print(f"  speed {len(pages) / med:,.0f} docs per CPU-second ({med:.2f} CPU-s for {len(pages)} pages, "
              f"median of {args.repeats})")
        print(f"  empty outputs {empty}/{len(pages)}; long <p> paragraphs kept {para_kept}/{para_total}; "
              f"output lines from nav/header/footer/aside {boiler}/{len(lines)}")
        print(f"  Chinese pages: CJK chars kept {cjk_out:,} of {cjk_in:,} in the page text; mojibake markers {mojibake}")
        print(f"  code lines kept with indentation {code_kept}/{code_total}; injected formulas kept "
              f"{math_kept}/{len(FORMULA_MARKS) * len(injected)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=200.0, help="size of each generated input (MB, default 200)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--crawl", default=DEFAULT_CRAWL, help="directory of real .warc.gz files")
    parser.add_argument("--dev", default=DEFAULT_DEV, help="directory of real JSONL rows")
    parser.add_argument("--extract", default="resiliparse", choices=["resiliparse", "trafilatura"])
    parser.add_argument("--compare-extractors", action="store_true")
    args = parser.parse_args(argv)
    if args.compare_extractors:
        compare_extractors(args)
    else:
        throughput(args)


if __name__ == "__main__":
    main()
