"""Reading a fastText model file (``.bin`` or quantized ``.ftz``) into numpy arrays.

fastText's Python module answers one question per call and hides its matrices when a model
is quantized; :mod:`filters.fasttext_infer.kernel` needs them whole. This reader follows the
file layout of fastText 0.9 (format version 12): args, dictionary (with the pruned n-gram
index of ``.ftz`` files), input matrix, output matrix, each dense or product-quantized.
Quantized input rows are decoded once here into a dense float32 matrix, each value the same
``norm * centroid`` product fastText adds when it reads the row, so sums are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = 793712314
VERSION = 12
LABEL_PREFIX = b"__label__"  # fastText's default; not stored in the file
LOSS_NAMES = {1: "hs", 2: "ns", 3: "softmax", 4: "ova"}
KSUB = 256  # centroids per sub-quantizer (fastText's ProductQuantizer::ksub_)


class ModelFileError(ValueError):
    """The file is not a fastText model this reader understands."""


@dataclass(frozen=True)
class FastTextModel:
    """What a supervised fastText model predicts with, as flat arrays."""

    dim: int
    loss: str  # "hs", "softmax", "ns" or "ova"
    word_ngrams: int
    bucket: int
    minn: int
    maxn: int
    nwords: int
    words: list[bytes]  # vocabulary entries (words then labels), in file order
    counts: np.ndarray  # int64 count per entry
    labels: list[str]  # label names without the prefix, in output order
    prune_index: np.ndarray  # int32 per bucket: input row offset past nwords, or -1 (pruned away)
    input_rows: np.ndarray  # float32 (rows, dim): word rows then n-gram rows, dequantized
    output_rows: np.ndarray  # float32 (labels, dim); hierarchical softmax: one row per inner tree node


class _Reader:
    def __init__(self, data: bytes, path: str) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, dtype: str, count: int = 1) -> np.ndarray:
        dt = np.dtype(dtype)
        end = self.pos + dt.itemsize * count
        if end > len(self.data):
            raise ModelFileError(f"{self.path}: truncated fastText model (needs {end} bytes, has {len(self.data)})")
        out = np.frombuffer(self.data, dtype=dt, count=count, offset=self.pos)
        self.pos = end
        return out

    def one(self, dtype: str) -> int | float:
        return self.take(dtype)[0].item()


def _dictionary(r: _Reader, size: int) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """(words, int64 counts, int8 entry types) of ``size`` entries ``word\\0 <i8 count> <i1 type>``:
    one ``find`` per word, then the counts and types gathered in numpy (per-entry numpy
    reads took 0.25 s per process for the three shipped models)."""
    data, pos, find = r.data, r.pos, r.data.find
    words, word_ends = [], []
    for _ in range(size):
        end = find(b"\0", pos)
        if end < 0:
            raise ModelFileError(f"{r.path}: truncated fastText dictionary")
        words.append(data[pos:end])
        word_ends.append(end)
        pos = end + 10
    if pos > len(data):
        raise ModelFileError(f"{r.path}: truncated fastText dictionary")
    ends = np.array(word_ends, dtype=np.int64)
    raw = np.frombuffer(data, dtype=np.uint8, count=pos)
    counts = raw[(ends + 1)[:, None] + np.arange(8)].view("<i8").ravel().astype(np.int64)
    types = raw[ends + 9].view(np.int8)
    r.pos = pos
    return words, counts, types


def _quant_matrix(r: _Reader) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(codes (m, nsubq), centroids (nsubq, KSUB, dsub) zero-padded, norms (m,), dims) of a QuantMatrix."""
    qnorm = bool(r.one("<u1"))
    m, n = int(r.one("<i8")), int(r.one("<i8"))
    codesize = int(r.one("<i4"))
    codes = r.take("<u1", codesize)
    dim, nsubq, dsub, lastdsub = (int(r.one("<i4")) for _ in range(4))
    if dim != n or nsubq * dsub - (dsub - lastdsub) != dim or codesize != m * nsubq:
        raise ModelFileError(f"{r.path}: inconsistent product quantizer ({m}x{n}, {nsubq} x {dsub}/{lastdsub})")
    flat = r.take("<f4", dim * KSUB)
    centroids = np.zeros((nsubq, KSUB, dsub), dtype=np.float32)
    for sub in range(nsubq):  # fastText packs the last (narrower) sub-quantizer at its own width
        width = lastdsub if sub == nsubq - 1 else dsub
        start = sub * KSUB * dsub
        centroids[sub, :, :width] = flat[start:start + KSUB * width].reshape(KSUB, width)
    norms = np.ones(m, dtype=np.float32)
    if qnorm:
        norm_codes = r.take("<u1", m)
        ndim, nnsubq, ndsub, _ = (int(r.one("<i4")) for _ in range(4))
        if ndim != 1 or nnsubq != 1 or ndsub != 1:
            raise ModelFileError(f"{r.path}: unexpected norm quantizer")
        norms = r.take("<f4", KSUB)[norm_codes].astype(np.float32)
    return codes.reshape(m, nsubq), centroids, norms, np.array([dim, nsubq, dsub, lastdsub])


def _dequantize(codes: np.ndarray, centroids: np.ndarray, norms: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """Dense rows equal to what fastText's ``addcode`` adds: ``norm * centroid`` in float32."""
    dim, nsubq, dsub, lastdsub = (int(x) for x in dims)
    rows = np.empty((len(codes), dim), dtype=np.float32)
    for sub in range(nsubq):
        width = lastdsub if sub == nsubq - 1 else dsub
        rows[:, sub * dsub:sub * dsub + width] = centroids[sub, codes[:, sub], :width] * norms[:, None]
    return rows


def read_model(path: str | Path) -> FastTextModel:
    """Parse ``path``; raises :class:`ModelFileError` on anything but a supervised model."""
    path = str(path)
    r = _Reader(Path(path).read_bytes(), path)
    if r.one("<i4") != MAGIC:
        raise ModelFileError(f"{path}: not a fastText model (bad magic number)")
    version = r.one("<i4")
    if version != VERSION:
        raise ModelFileError(f"{path}: fastText file format {version}; this reader knows {VERSION}")
    dim, _ws, _epoch, _min_count, _neg, word_ngrams, loss, model, bucket, minn, maxn, _lr_rate = (int(x) for x in r.take("<i4", 12))
    r.take("<f8")  # sampling threshold t
    if model != 3:
        raise ModelFileError(f"{path}: not a supervised model (model type {model})")
    size, nwords, nlabels = (int(r.one("<i4")) for _ in range(3))
    r.take("<i8")  # ntokens
    prune_size = int(r.one("<i8"))
    words, counts, types = _dictionary(r, size)
    if (types[:nwords] != 0).any() or (types[nwords:] != 1).any() or size != nwords + nlabels:
        raise ModelFileError(f"{path}: dictionary is not words followed by labels")
    if prune_size > 0:
        pairs = r.take("<i4", 2 * prune_size).reshape(prune_size, 2)
        prune_index = np.full(bucket, -1, dtype=np.int32)
        prune_index[pairs[:, 0]] = pairs[:, 1]
    elif prune_size == 0:
        prune_index = np.full(bucket, -1, dtype=np.int32)
    else:
        prune_index = np.arange(bucket, dtype=np.int32)
    quant_input = bool(r.one("<u1"))
    if quant_input:
        input_rows = _dequantize(*_quant_matrix(r))
    else:
        m, n = int(r.one("<i8")), int(r.one("<i8"))
        input_rows = r.take("<f4", m * n).reshape(m, n)
    if quant_input and bool(r.one("<u1")):
        # fastText sums a quantized output row's products in another order; not worth a second path
        raise ModelFileError(f"{path}: quantized output matrix (quantize -qout) is not supported")
    if not quant_input:
        r.take("<u1")  # qout flag, meaningless without a quantized input
    m, n = int(r.one("<i8")), int(r.one("<i8"))
    output_rows = r.take("<f4", m * n).reshape(m, n)
    if r.pos != len(r.data):
        raise ModelFileError(f"{path}: {len(r.data) - r.pos} bytes left after the output matrix")
    if input_rows.shape[1] != dim or output_rows.shape[1] != dim:
        raise ModelFileError(f"{path}: matrix width differs from dim {dim}")
    labels = [w[len(LABEL_PREFIX):].decode("utf-8", "replace") if w.startswith(LABEL_PREFIX) else w.decode("utf-8", "replace")
              for w in words[nwords:]]
    return FastTextModel(
        dim=dim, loss=LOSS_NAMES.get(loss, str(loss)), word_ngrams=word_ngrams, bucket=bucket, minn=minn, maxn=maxn,
        nwords=nwords, words=words, counts=counts, labels=labels, prune_index=prune_index,
        input_rows=np.ascontiguousarray(input_rows, dtype=np.float32),
        output_rows=np.ascontiguousarray(output_rows, dtype=np.float32),
    )
