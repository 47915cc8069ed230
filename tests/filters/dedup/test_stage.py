"""The dedup stage end to end on the local engine, on real texts: the way the runner
calls it (Parquet intermediates -> run_global -> __call__ per batch)."""

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from filters.dedup.signatures import sig_matrix
from filters.dedup.stage import DedupStage
from filters.dedup.index import INDEX_SUBDIR, index_files
from filters.dedup.marks import read_marks, read_part_marks
from filters.dedup.storage import Store
from pipeline.schema import drop_rows, make_batch
from pipeline.stage import GlobalContext, is_global

DEV = Path(__file__).resolve().parents[2] / "data" / "dev"
ROWS = [json.loads(line) for line in (DEV / "neardup_clusters.jsonl").open()]


def _cluster(label: str) -> list[dict]:
    return [r for r in ROWS if r["label"] == label]


def run_stage(stage, batches, tmp_path, name="run", previous=(), output_dir=None):
    paths = []
    for i, b in enumerate(batches):
        p = tmp_path / f"{name}-{i}.parquet"
        pq.write_table(b, p)
        paths.append(str(p))
    ctx = GlobalContext(engine="local", work_dir=str(tmp_path / f"{name}-work"),
                        previous_outputs=tuple(map(str, previous)), output_dir=output_dir and str(output_dir))
    stage.run_global(paths, ctx)
    out = []
    for p in paths:  # as the runner does: bind each input, then stream it
        stage.bind_input(p)
        out.append(stage(pq.read_table(p)))
    return pa.concat_tables(out)


def _by_id(table: pa.Table) -> dict[str, dict]:
    return {r["id"]: r for r in table.to_pylist()}


@pytest.fixture()
def real_batches():
    cmath = _cluster("cmath-000")
    gsd = next(r for r in ROWS if r["label"].startswith("gsd") and r["variant"] == "zh-Hant")
    gsd_pair = _cluster(gsd["label"])
    gsm = _cluster(next(r["label"] for r in ROWS if r["label"].startswith("gsm8k")))
    uniques = [json.loads(line) for line in (DEV / "neg_en.jsonl").open()][:20]
    rows = cmath + gsd_pair + gsm + uniques
    texts = [r["text"] for r in rows]
    ids = [r.get("id") or f"u{i}" for i, r in enumerate(rows)]
    ids = [i if i.startswith("nd-") else f"neg-{n}" for n, i in enumerate(ids)]
    # an exact copy up to case, punctuation and whitespace
    texts.append("  " + gsm[0]["text"].upper().replace(".", " ") + "!!")
    ids.append("copy-gsm")
    half = len(texts) // 2
    return [make_batch(texts[:half], ids=ids[:half], source="a"), make_batch(texts[half:], ids=ids[half:], source="b")], \
        cmath, gsd_pair, gsm


def test_exact_and_near_duplicates_on_real_texts(tmp_path, real_batches):
    batches, cmath, gsd_pair, gsm = real_batches
    stage = DedupStage()
    assert is_global(stage)
    out = _by_id(run_stage(stage, batches, tmp_path))
    # the CMATH distractor variants form one cluster with one survivor (the longest)
    members = [out[r["id"]] for r in cmath]
    survivor = max(cmath, key=lambda r: (len(r["text"]), -int(r["id"][3:])))["id"]
    assert {m["dup_cluster"] for m in members} == {survivor}
    assert out[survivor]["drop_reason"] is None and out[survivor]["dup_of"] is None
    assert all(m["drop_reason"] == "dedup:near" and m["dup_of"] == survivor for m in members if m["id"] != survivor)
    # Traditional vs Simplified: the same normalized text -> an exact duplicate
    a, b = (out[r["id"]] for r in gsd_pair)
    assert a["dup_cluster"] == b["dup_cluster"]
    assert sorted([a["drop_reason"] or "", b["drop_reason"] or ""]) == ["", "dedup:exact"]
    # GSM8K standard vs socratic solutions -> near; the case/punctuation copy -> exact
    g_main, g_soc = (out[r["id"]] for r in gsm)
    assert {g_main["drop_reason"], g_soc["drop_reason"]} == {None, "dedup:near"}
    copy = out["copy-gsm"]
    survivor_gsm = g_soc["id"] if g_soc["drop_reason"] is None else g_main["id"]
    assert copy["dup_of"] == survivor_gsm and copy["drop_reason"] in ("dedup:exact", "dedup:near")
    # the copy is an exact copy of the standard solution: exact iff that one survived
    assert (copy["drop_reason"] == "dedup:exact") == (survivor_gsm == g_main["id"])
    # unrelated prose is untouched
    negs = [r for k, r in out.items() if k.startswith("neg-")]
    assert all(r["drop_reason"] is None and r["dup_cluster"] is None for r in negs)


def test_copy_of_survivor_is_exact(tmp_path):
    texts = [r["text"] for r in _cluster("cmath-001")]
    longest = max(texts, key=len)
    out = _by_id(run_stage(DedupStage(), [make_batch(texts + [longest.replace("，", ",")], ids=[f"d{i}" for i in range(len(texts))] + ["zcopy"], source="s")], tmp_path))
    assert out["zcopy"]["drop_reason"] == "dedup:exact"


def test_survivor_is_highest_score_then_longest(tmp_path):
    texts = [r["text"] for r in _cluster("cmath-004")]
    ids = [f"d{i}" for i in range(len(texts))]
    shortest = min(range(len(texts)), key=lambda i: len(texts[i]))
    scores = [0.1] * len(texts)
    scores[shortest] = 0.9
    batch = make_batch(texts, ids=ids, source="s", extra={"math_score": pa.array(scores, pa.float32())})
    out = _by_id(run_stage(DedupStage(), [batch], tmp_path))
    assert out[ids[shortest]]["drop_reason"] is None
    assert {r["dup_of"] for r in out.values() if r["drop_reason"]} == {ids[shortest]}
    out2 = _by_id(run_stage(DedupStage(score_column="none"), [batch], tmp_path, name="noscore"))
    longest = max(range(len(texts)), key=lambda i: len(texts[i]))
    assert out2[ids[longest]]["drop_reason"] is None


def test_already_dropped_rows_take_no_part(tmp_path):
    texts = [r["text"] for r in _cluster("cmath-005")]
    batch = make_batch(texts, ids=[f"d{i}" for i in range(len(texts))], source="s")
    longest = max(range(len(texts)), key=lambda i: len(texts[i]))
    mask = [i == longest for i in range(len(texts))]
    batch = drop_rows(batch, mask, "heuristics:too_short")
    out = run_stage(DedupStage(), [batch], tmp_path)
    rows = out.to_pylist()
    assert rows[longest]["drop_reason"] == "heuristics:too_short" and rows[longest]["dup_cluster"] is None
    assert all(r["dup_of"] != f"d{longest}" for r in rows)
    assert out["id"].to_pylist() == batch["id"].to_pylist()


def test_marks_are_stored_per_input_and_bound_one_input_at_a_time(tmp_path, real_batches):
    batches = real_batches[0]
    whole = run_stage(DedupStage(), batches, tmp_path)
    marks_dir = Store.at(tmp_path / "run-work" / "marks")
    marks = read_marks(marks_dir)
    for part, batch in enumerate(batches):
        mine = read_part_marks(marks_dir, part)
        assert set(mine["id"].to_list()) <= set(batch["id"].to_pylist())
        assert mine.height == marks.filter(pl.col("part") == part).height > 0
    # an unbound call (taosha stage, notebooks) loads every input's marks: same answer
    stage = DedupStage(work_uri=str(tmp_path / "run-work"))
    unbound = pa.concat_tables([stage(b) for b in batches])
    assert unbound.equals(whole)
    with pytest.raises(RuntimeError, match="not an input"):
        stage.bind_input(str(tmp_path / "elsewhere.parquet"))


def test_call_before_run_global_is_a_clear_error():
    with pytest.raises(RuntimeError, match="run_global"):
        DedupStage()(make_batch(["x"], ids=["a"], source="s"))


def test_rerun_skips_finished_phases_and_gives_same_marks(tmp_path, real_batches):
    batches = real_batches[0]
    first = run_stage(DedupStage(), batches, tmp_path)
    sig = next((tmp_path / "run-work" / "signatures").glob("*.parquet"))
    mtime = sig.stat().st_mtime_ns
    second = run_stage(DedupStage(), batches, tmp_path)
    assert sig.stat().st_mtime_ns == mtime
    assert first.equals(second)
    third = run_stage(DedupStage(threshold=0.9), batches, tmp_path)  # another plan: recomputed
    assert third["drop_reason"].null_count >= first["drop_reason"].null_count


def test_exact_only(tmp_path):
    texts = [r["text"] for r in _cluster("cmath-000")]
    out = run_stage(DedupStage(near=False), [make_batch(texts + texts[:1], ids=[f"d{i}" for i in range(len(texts) + 1)], source="s")], tmp_path)
    assert [r for r in out["drop_reason"].to_pylist() if r] == ["dedup:exact"]


def test_incremental_run_dedups_against_earlier_index(tmp_path):
    gsm = [r for r in ROWS if r["label"].startswith("gsm8k")][:40]
    first_rows = gsm[0::2]   # standard solutions
    second_rows = gsm[1::2]  # the socratic versions of the same problems
    out1 = tmp_path / "out1"
    run_stage(DedupStage(), [make_batch([r["text"] for r in first_rows], ids=[r["id"] for r in first_rows], source="a")],
              tmp_path, name="r1", output_dir=out1)
    assert index_files(Store.at(out1).sub(INDEX_SUBDIR))
    new = make_batch([r["text"] for r in second_rows] + ["A brand new unrelated sentence about rivers and maps."],
                     ids=[r["id"] for r in second_rows] + ["fresh"], source="b")
    out = _by_id(run_stage(DedupStage(), [new], tmp_path, name="r2", previous=[out1], output_dir=tmp_path / "out2"))
    assert out["fresh"]["drop_reason"] is None
    dropped = [r for r in second_rows if out[r["id"]]["drop_reason"] == "dedup:near"]
    assert len(dropped) >= 0.9 * len(second_rows)
    old_ids = {r["id"] for r in first_rows}
    assert all(out[r["id"]]["dup_of"] in old_ids for r in dropped)
    # the second run's index holds only what it kept
    kept2 = pl.concat([pl.read_parquet(f) for f in index_files(Store.at(tmp_path / "out2").sub(INDEX_SUBDIR))])
    assert "fresh" in kept2["id"].to_list() and not set(kept2["id"].to_list()) & {r["id"] for r in dropped}
    with pytest.raises(ValueError, match="index"):
        run_stage(DedupStage(ngram_word=5), [new], tmp_path, name="r3", previous=[out1])


def test_an_index_written_with_list_signatures_is_read_the_same(tmp_path):
    """Indexes written before signatures were one fixed-size binary value hold them as a
    list of uint32: an incremental run against one decides exactly as against a new one,
    also with both forms among its previous outputs."""
    gsm = [r for r in ROWS if r["label"].startswith("gsm8k")][:40]
    first, second = gsm[0::2], gsm[1::2]
    out1 = tmp_path / "out1"
    run_stage(DedupStage(), [make_batch([r["text"] for r in first], ids=[r["id"] for r in first], source="a")],
              tmp_path, name="r1", output_dir=out1)
    legacy = tmp_path / "legacy"
    shutil.copytree(out1, legacy)
    index = Store.at(legacy).sub(INDEX_SUBDIR)
    num_perm = index.read_json("meta.json")["num_perm"]
    for f in index_files(index):
        t = pq.read_table(f)
        assert pa.types.is_fixed_size_binary(t.schema.field("sig").type)
        values = pa.array(sig_matrix(t["sig"], num_perm).ravel(), pa.uint32())
        t = t.set_column(t.column_names.index("sig"), "sig", pa.FixedSizeListArray.from_arrays(values, num_perm))
        pq.write_table(t, f)
    new = make_batch([r["text"] for r in second], ids=[r["id"] for r in second], source="b")
    want = run_stage(DedupStage(), [new], tmp_path, name="r2", previous=[out1])
    got = run_stage(DedupStage(), [new], tmp_path, name="r3", previous=[legacy])
    assert got.equals(want) and want["drop_reason"].null_count < want.num_rows
    both = run_stage(DedupStage(), [new], tmp_path, name="r4", previous=[legacy, out1])
    assert both["drop_reason"].to_pylist() == want["drop_reason"].to_pylist()


def test_no_documents_gives_empty_marks(tmp_path):
    batch = drop_rows(make_batch(["a", "b"], ids=["x", "y"], source="s"), [True, True], "langid:other")
    out = run_stage(DedupStage(), [batch], tmp_path)
    assert out["drop_reason"].to_pylist() == ["langid:other"] * 2
    assert out["dup_cluster"].null_count == 2
    stage = DedupStage()
    stage.run_global([], GlobalContext(engine="local", work_dir=str(tmp_path / "empty")))
    assert stage(batch).num_rows == 2


def test_bucket_edges_band_by_band_equal_all_bands_at_once():
    from filters.dedup.local_engine import band_rows, bucket_edges, star_edges

    rng = np.random.default_rng(0)
    nodes = rng.integers(-2**62, 2**62, size=500)
    keys = rng.integers(0, 40, size=(500, 6)).astype(np.uint64)  # few keys: many shared buckets
    got = bucket_edges(nodes, keys).sort("a", "b")
    want = star_edges(band_rows(nodes, keys)).sort("a", "b")
    assert got.height > 500 and got.equals(want)


def test_lsh_reads_signatures_file_by_file_and_verifies_only_candidates(tmp_path):
    """The streamed LSH phase: band keys computed one signature file at a time equal those of
    the whole survivor matrix; verification asks only for the documents on candidate edges
    and gives the Jaccard estimates the whole matrix gives."""
    from filters.dedup.local_engine import DedupPlan, survivor_band_keys, survivor_signatures, verify_edges
    from filters.dedup.signatures import band_keys, sig_array
    from filters.dedup.sketch.minhash import jaccard_estimate

    rng = np.random.default_rng(1)
    store = Store.at(tmp_path)
    base = rng.integers(0, 2**32, size=(60, 128), dtype=np.uint64).astype(np.uint32)
    sig = np.vstack([base, base[:30] ^ (rng.random((30, 128)) < 0.2).astype(np.uint32)])  # 30 near copies
    paths = []
    for k, (lo, hi) in enumerate([(0, 35), (35, 70), (70, 90)]):
        store.write_table(pa.table({"sig": sig_array(sig[lo:hi])}), "signatures", f"sig-{k}.parquet", hashes=True)
        paths.append(store.path("signatures", f"sig-{k}.parquet"))
    keep = np.ones(len(sig), dtype=bool)
    keep[[3, 40, 77]] = False
    plan = DedupPlan(bands=16, rows=8)
    keys = survivor_band_keys(store, paths, None, keep, plan)
    assert np.array_equal(keys, band_keys(sig[keep], 16, 8))
    nodes = np.arange(len(sig), dtype=np.int64)[keep] * 7 + 11
    cand = pl.DataFrame({"a": nodes[[0, 5, 50]], "b": nodes[[60, 64, 52]]})
    asked = []
    survivors = np.flatnonzero(keep)

    def signatures_of(rows):
        asked.append(rows.copy())
        wanted = np.zeros(len(keep), dtype=bool)
        wanted[survivors[rows]] = True
        return survivor_signatures(store, paths, None, wanted, 128)

    got = verify_edges(cand, nodes, signatures_of, None).sort("a")
    (rows,) = asked
    assert sorted(rows.tolist()) == sorted({0, 5, 50, 60, 64, 52})
    full = sig[keep]
    want = [jaccard_estimate(full[[a]], full[[b]])[0] for a, b in ((0, 60), (5, 64), (50, 52))]
    assert got["jaccard"].to_list() == pytest.approx(want)
