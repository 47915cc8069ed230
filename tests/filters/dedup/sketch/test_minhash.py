"""Signatures equal datasketch.MinHash's (affine32 scheme) for the same seed, num_perm
and shingles, on real documents."""

import json
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash

from filters.dedup.sketch.minhash import SCHEME, jaccard_estimate, permutations, signatures
from tests.filters.dedup.shingle_reference import shingle_hashes
from filters.dedup.sketch.shingles import ShingleConfig, shingle_hash32, shingle_normal_form, shingle_strings

DEV = Path(__file__).resolve().parents[3] / "data" / "dev"


def test_permutations_are_datasketchs():
    m = MinHash(num_perm=64, seed=7)
    a, b = permutations(64, 7)
    assert m.scheme == SCHEME
    assert np.array_equal(m.permutations[0], a) and np.array_equal(m.permutations[1], b)


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 42)])
def test_signatures_equal_datasketch_on_real_texts(num_perm, seed):
    texts = [json.loads(line)["text"] for line in (DEV / "neardup_clusters.jsonl").open()][::7]
    texts += [json.loads(line)["text"] for line in (DEV / "math_pos_en.jsonl").open()][:20] + [""]
    cfg = ShingleConfig()
    norm = shingle_normal_form(texts, cfg)
    sig = signatures(*shingle_hashes(norm, cfg), num_perm=num_perm, seed=seed)
    for i, t in enumerate(norm.to_list()):
        m = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash32)
        shingles = shingle_strings(t, cfg)
        if shingles:
            m.update_batch([s.encode() for s in shingles])
        assert np.array_equal(m.hashvalues, sig[i]), i


def test_stage_path_signatures_equal_datasketch():
    import polars as pl

    from filters.dedup.signatures import SignatureConfig, signature_table, sig_matrix
    from pipeline.schema import make_batch

    texts = [json.loads(line)["text"] for line in (DEV / "code_pos.jsonl").open()][:10]
    texts += [json.loads(line)["text"] for line in (DEV / "neardup_clusters.jsonl").open()][::25]
    table = signature_table(make_batch(texts, ids=[str(i) for i in range(len(texts))], source="s"), SignatureConfig())
    sig = sig_matrix(table["sig"], 128)
    for i, t in enumerate(shingle_normal_form(pl.Series(texts)).to_list()):
        m = MinHash(num_perm=128, seed=1, hashfunc=shingle_hash32)
        m.update_batch([s.encode() for s in shingle_strings(t)])
        assert np.array_equal(m.hashvalues, sig[i])


def test_compiled_kernel_equals_numpy_blocks():
    from filters.dedup.sketch.minhash import signatures_numpy

    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**63, 30000, dtype=np.uint64)
    offsets = np.concatenate([[0], np.sort(rng.integers(0, 30000, 299)), [30000]])
    assert np.array_equal(signatures(hashes, offsets, 64, 5), signatures_numpy(hashes, offsets, 64, 5))


def test_signatures_straddling_blocks_are_merged():
    # one document with more shingles than a block, between two small ones
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, 20000, dtype=np.uint64)
    offsets = np.array([0, 3, 19990, 20000])
    sig = signatures(hashes, offsets, 32, 1)
    for i in range(3):
        alone = signatures(hashes[offsets[i] : offsets[i + 1]], np.array([0, offsets[i + 1] - offsets[i]]), 32, 1)
        assert np.array_equal(alone[0], sig[i])


def test_jaccard_estimate_tracks_true_jaccard():
    a = np.arange(0, 1000, dtype=np.uint64)
    b = np.arange(500, 1500, dtype=np.uint64)  # true Jaccard 1/3
    sig = signatures(np.concatenate([a, b]), np.array([0, 1000, 2000]), 256, 1)
    assert abs(jaccard_estimate(sig[0], sig[1]) - 1 / 3) < 0.1
