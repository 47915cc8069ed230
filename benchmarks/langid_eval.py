"""Accuracy of the langid stage against raw lid.176 on labeled rows.

Usage: python benchmarks/langid_eval.py [--data /work/shared/data/dev/langid.jsonl]

Prints accuracy per language, per kind (sentence/word/word-pair), per script, and the
Hans/Hant accuracy of ``zh_script``, for the stage (prose view + script evidence +
vote) and for raw ``model.predict`` on the same texts (newlines replaced by spaces).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import pyarrow as pa

from filters.langid.stage import LangIdStage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="/work/shared/data/dev/langid.jsonl")
    args = ap.parse_args()
    rows = [json.loads(line) for line in open(args.data, encoding="utf-8") if line.strip()]
    stage = LangIdStage()
    stage.setup()
    texts = [r["text"] for r in rows]
    result, _ = stage.predict(pa.array(texts, pa.large_string()))
    ours = result.lang.to_pylist()
    scripts = result.zh_script.to_pylist()
    raw_labels, _ = stage._model.predict([t.replace("\n", " ") for t in texts], k=1)
    raw = [x[0][9:] for x in raw_labels]  # raw labels as the model gives them

    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[f"lang={r['label']}"].append(i)
        groups[f"lang={r['label']} kind={r['kind']}"].append(i)
        groups[f"kind={r['kind']}"].append(i)
        if r.get("script"):
            groups[f"lang={r['label']} kind={r['kind']} script={r['script']}"].append(i)
    print(f"{len(rows)} rows from {args.data}")
    print(f"{'group':<44}{'n':>6}{'stage':>9}{'raw lid.176':>13}")
    for name in sorted(groups):
        ix = groups[name]
        acc = sum(ours[i] == rows[i]["label"] for i in ix) / len(ix)
        acc_raw = sum(raw[i] == rows[i]["label"] for i in ix) / len(ix)
        print(f"{name:<44}{len(ix):>6}{acc:>9.3f}{acc_raw:>13.3f}")
    labeled = [i for i, r in enumerate(rows) if r.get("script")]
    decided = [i for i in labeled if scripts[i] is not None]
    right = sum(scripts[i] == rows[i]["script"] for i in decided)
    print(f"zh_script: {right}/{len(decided)} correct where decided; {len(labeled) - len(decided)} of {len(labeled)} undecided (null)")


if __name__ == "__main__":
    main()
