"""The compiled predictor answers exactly as the fastText library, label and probability,
on the shipped models and on models the library trains and quantizes here."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from filters.fasttext_infer.model_file import ModelFileError, read_model
from filters.fasttext_infer.predictor import CompiledPredictor
from filters.langid.stage import DEFAULT_MODEL as LID_MODEL
from filters.classify.stage import DEFAULT_CODE_MODEL, DEFAULT_MATH_MODEL

DEV = Path(__file__).resolve().parents[2] / "data" / "dev"
EDGE_LINES = [
    "",
    "   \t ",
    "hello world",
    "Bonjour tout le monde, comment ça va ?",
    "这是一个关于数据清洗的中文句子",
    "__label__en only a label-looking token",
    "__label__",
    "words before </s> and words after",
    "</s>",
    "tab\tvertical\vform\ffeed\rcarriage\x00nul",
    "stops at the newline\nnot read after it",
    "émoji 🙂 and ｆｕｌｌｗｉｄｔｈ and Ελληνικά and русский",
    "x" * 3000,
    " ".join(["token"] * 1500),
    "<>" * 10 + " <a> <<>> >< " + "ℵ" * 5,
]


def _library(path):
    import fasttext

    fasttext.FastText.eprint = lambda *a, **k: None
    return fasttext.load_model(str(path))


def _assert_same(path, lines: list[bytes]):
    """fastText's multilinePredict on each line + newline vs the kernel on the Arrow array."""
    lib = _library(path)
    want_labels, want_probs = lib.f.multilinePredict([x + b"\n" for x in lines], 1, 0.0, "strict")
    pred = CompiledPredictor.load(path)
    idx, probs = pred.top(pa.array(lines, pa.binary()))
    got_labels = [pred.labels[i] if i >= 0 else None for i in idx]
    assert got_labels == [x[0] if len(x) else None for x in want_labels]
    assert probs.tolist() == [float(np.float32(p[0])) if len(p) else 0.0 for p in want_probs]
    return got_labels


def _dev_lines(dev_data, limit=400):
    out = []
    for name in ("langid.jsonl", "code_pos.jsonl", "math_pos_en.jsonl", "math_pos_zh.jsonl", "neg_en.jsonl", "neg_zh.jsonl"):
        for line in (dev_data / name).read_text(encoding="utf-8").split("\n")[:limit]:
            if not line:
                continue
            text = json.loads(line)["text"]
            out += [part[:400] for part in text.split("\n") if part.strip()][:5]
    return out


def test_lid176_answers_as_fasttext_on_dev_text_and_edge_cases(dev_data):
    lines = [x.encode() for x in _dev_lines(dev_data) + EDGE_LINES]
    lines += [b"caf\xc3", b"\xff\xfe broken utf-8 \x80\x80", b"\xe4\xb8"]  # not valid UTF-8: fastText reads bytes
    labels = _assert_same(LID_MODEL, lines)
    assert len(lines) > 2000 and {"__label__en", "__label__zh"} <= set(labels)


@pytest.mark.parametrize("path", [DEFAULT_MATH_MODEL, DEFAULT_CODE_MODEL])
def test_classifiers_answer_as_fasttext(path, dev_data):
    from filters.classify.tokens import tokenize_many

    texts = _dev_lines(dev_data, limit=200) + EDGE_LINES
    lines = [x.rstrip(b"\n") for x in tokenize_many(texts, encoded=True)] + [x.encode() for x in EDGE_LINES]
    _assert_same(path, lines)


# Random words of the math model's vocabulary on which float32 ``expf`` in the softmax gave
# a probability one ulp off the library's (which takes the double ``exp`` of a float and
# rounds): about 1 line in 60,000 of random or real text.
SOFTMAX_EXP_LINES = [
    '_unwind_context kenny _python bakes cdn geometrically 拢 return comp_ellint_ 庚 octagon 0130 arbitrary vmatrix $ mxpre grey saturating_sub decode bypass groupe porcelain tc rustc assert_eq_m appending 全 recognizing colno qwerty subsec_skipgram lstms lifshitz legendre __il dumb random china already qh cores iw abigail fig_softmaxreg threadid aprs sidenote ①③ seth slist 98 hashset есть cj intrusiverefcntptr pw \\sum_d',
    'yscale joostje shell largestsumofaverages fprintf 317 fm frederick 用 expose csv_data dll_prefix submatrix svg global_config devil affordable pouches globalisel cherries ft metavalue_generic_dateformatitem_md pepper brotli rick prod 忍 n_t cs 牺 heat moore neck __del__ seiten bbox_loss virtualmachine \\theta_l enormous lapack syscall allowances px rx tagged _i get_event_loop param_group contract padded',
]


def test_softmax_takes_the_double_exp_as_the_library_does():
    _assert_same(DEFAULT_MATH_MODEL, [x.encode() for x in SOFTMAX_EXP_LINES])


_CHILD = """
import json, sys, fasttext
train, out, kw, quantize = json.loads(sys.argv[1])
model = fasttext.train_supervised(train, verbose=0, thread=1, **kw)
if quantize:
    model.quantize(retrain=False, **quantize)
model.save_model(out)
"""


def _train(tmp_path, name, quantize=None, **kw):
    """A small model trained on dev rows (math / code / prose labels) by the fastText library,
    in a child process: this fastText build sometimes fails a second training in one process
    with "Encountered NaN" (see ``filters.classify.train``); a NaN is retried at half the rate."""
    rows = []
    for file, lab in (("math_pos_en.jsonl", "math"), ("math_pos_zh.jsonl", "math"), ("code_pos.jsonl", "code"),
                      ("neg_en.jsonl", "prose"), ("neg_zh.jsonl", "prose")):
        for line in (DEV / file).read_text(encoding="utf-8").split("\n")[:120]:
            if line:
                rows.append((lab, " ".join(json.loads(line)["text"].split())[:300]))
    train = tmp_path / f"{name}.txt"
    train.write_text("".join(f"__label__{lab} {text}\n" for lab, text in rows), encoding="utf-8")
    out = tmp_path / (f"{name}.ftz" if quantize else f"{name}.bin")
    _fit(train, out, {"epoch": 2, "dim": 16, "seed": 1, **kw}, quantize)
    return out, [text for _, text in rows[::3]]


def _fit(train, out, options, quantize=None):
    options = {"lr": 0.1, **options}
    for _ in range(5):
        job = json.dumps([str(train), str(out), options, quantize])
        done = subprocess.run([sys.executable, "-c", _CHILD, job], capture_output=True, text=True)
        if done.returncode == 0:
            return
        assert "NaN" in done.stderr, done.stderr
        options["lr"] /= 2
    raise AssertionError(f"fastText could not train {out}: {done.stderr[-300:]}")


def train_quantized_output_model(tmp_path) -> Path:
    """A ``quantize -qout`` model, which the compiled reader refuses: quantizing the output matrix
    needs 256 rows, so 300 labels. Character n-grams (minn 2) on purpose: with this wheel, a model
    of so many labels and no subwords (maxn 0) trains on memory that differs between processes
    (a different file every run, "Encountered NaN" in about 4 runs in 10 whatever the learning
    rate); with subwords the same training gives the same file every run."""
    many = tmp_path / "many.txt"
    many.write_text("".join(f"__label__l{i} word{i} w{i % 7} shared\n" for i in range(300)) * 2, encoding="utf-8")
    out = tmp_path / "qout.ftz"
    _fit(many, out, {"epoch": 1, "dim": 16, "bucket": 300, "minn": 2, "maxn": 3}, {"qout": True})
    return out


@pytest.mark.parametrize("kw", [
    {"loss": "softmax", "minn": 2, "maxn": 5, "wordNgrams": 3, "bucket": 5000},
    {"loss": "hs", "minn": 1, "maxn": 3, "wordNgrams": 2, "bucket": 3000},
    {"loss": "softmax", "minn": 0, "maxn": 0, "wordNgrams": 1, "bucket": 0},
])
def test_models_trained_here_answer_as_fasttext(tmp_path, kw):
    path, texts = _train(tmp_path, "m", **kw)
    lines = [t.encode() for t in texts + EDGE_LINES] + [b"unseen words entirely", b"def sum prime"]
    _assert_same(path, lines)


def test_quantized_pruned_models_answer_as_fasttext(tmp_path):
    """``.ftz``: product-quantized input rows with quantized norms, n-gram buckets pruned by cutoff."""
    path, texts = _train(tmp_path, "q", quantize={"qnorm": True, "cutoff": 1000, "dsub": 2},
                         loss="softmax", minn=2, maxn=4, wordNgrams=2, bucket=4000)
    parsed = read_model(path)
    assert 0 < (parsed.prune_index >= 0).sum() < parsed.bucket
    _assert_same(path, [t.encode() for t in texts + EDGE_LINES])


def test_unsupported_and_broken_files_are_refused_clearly(tmp_path):
    ova, _ = _train(tmp_path, "ova", loss="ova")
    with pytest.raises(ModelFileError, match="loss 'ova'"):
        CompiledPredictor.load(ova)
    with pytest.raises(ModelFileError, match="quantized output"):
        read_model(train_quantized_output_model(tmp_path))
    (tmp_path / "junk.bin").write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError, match="bad magic"):
        read_model(tmp_path / "junk.bin")
    data = ova.read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        read_model(tmp_path / "cut.bin")


def test_a_model_cut_anywhere_is_refused_clearly(tmp_path):
    """Cuts inside the header, the dictionary (mid-word, mid-count) and the matrices all
    give ModelFileError, never an IndexError or a short read."""
    data = Path(LID_MODEL).read_bytes()
    cut = tmp_path / "cut.ftz"
    dictionary_end = 92 + sum(len(w) + 10 for w in read_model(LID_MODEL).words)  # header: 92 bytes
    for end in [*range(1, dictionary_end, 997), dictionary_end - 5, dictionary_end - 1,
                *range(dictionary_end, len(data), 9973)]:
        cut.write_bytes(data[:end])
        with pytest.raises(ModelFileError):
            read_model(cut)


def test_arrow_inputs_sliced_chunked_large_and_null():
    pred = CompiledPredictor.load(LID_MODEL)
    texts = ["hello world, this is English", None, "这是中文", "Das ist ein deutscher Satz", ""]
    plain_idx, plain_p = pred.top(pa.array([t or "" for t in texts], pa.string()))
    for arr in (pa.array(texts, pa.string()), pa.array(texts, pa.large_string()),
                pa.chunked_array([pa.array(texts[:2]), pa.array(texts[2:])]),
                pa.array(["pad"] + texts, pa.string()).slice(1)):
        idx, p = pred.top(arr)
        assert idx.tolist() == plain_idx.tolist() and p.tolist() == plain_p.tolist()
    assert [pred.labels[i] for i in plain_idx[[0, 2, 3]]] == ["__label__en", "__label__zh", "__label__de"]
    for rows in ([3, 0, 2], [4], [], [0, 0, 1, 2, 3, 4]):  # some lines, read in place, in any order
        idx, p = pred.top(pa.array(["pad"] + texts, pa.large_string()).slice(1), rows=np.array(rows, np.int64))
        assert idx.tolist() == plain_idx[rows].tolist() and p.tolist() == plain_p[rows].tolist()
    with pytest.raises(TypeError):
        pred.top(pa.array([1, 2]))


def test_the_answer_cache_gives_the_uncached_answers_across_calls_and_clears_when_full(dev_data):
    lines = [x.encode() for x in _dev_lines(dev_data, limit=60)]
    plain = CompiledPredictor.load(LID_MODEL)
    cached = CompiledPredictor.load(LID_MODEL, cache_entries=50)  # far fewer than the distinct lines: it refills
    rng = np.random.default_rng(3)
    for _ in range(6):
        batch = pa.array([lines[i] for i in rng.integers(0, len(lines), 400)], pa.binary())
        want, got = plain.top(batch), cached.top(batch)
        assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()
        assert 0 < cached._cache_fill[0] <= 50 and (cached._cache_keys != 0).sum() == cached._cache_fill[0]
    # a repeated line is answered from the cache: its slot holds the answer
    one = pa.array([lines[0]], pa.binary())
    label, prob = cached.top(one)
    assert label[0] in cached._cache_labels and prob[0] in cached._cache_probs
    # answers under another threshold are not the remembered ones
    high = cached.top(one, threshold=0.9999)
    assert high[0].tolist() == plain.top(one, threshold=0.9999)[0].tolist()
