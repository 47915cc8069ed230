from __future__ import annotations

import pyarrow.fs as pafs
import pytest

from pipeline.io import fsutil


def test_atomic_output_appears_only_when_committed(tmp_path):
    fs = pafs.LocalFileSystem()
    path = str(tmp_path / "a.bin")
    with fsutil.AtomicOutput(fs, path) as f:
        f.write(b"half")
        assert not fsutil.exists(fs, path)  # still under its temporary name
        assert [p for p in tmp_path.iterdir() if p.name.endswith(fsutil.TMP_SUFFIX)]
    assert (tmp_path / "a.bin").read_bytes() == b"half"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_atomic_output_leaves_nothing_when_the_writer_fails(tmp_path):
    fs = pafs.LocalFileSystem()
    (tmp_path / "keep.bin").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with fsutil.AtomicOutput(fs, str(tmp_path / "keep.bin")) as f:
            f.write(b"new but incomplete")
            raise RuntimeError("writer died")
    assert (tmp_path / "keep.bin").read_bytes() == b"old"  # the old complete file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.bin"]


def test_atomic_output_on_object_storage(s3_endpoint):
    s3_endpoint["client"].create_bucket(Bucket="taosha-atomic")
    fs, root = fsutil.filesystem_for("s3://taosha-atomic/atomic")
    fsutil.write_bytes_atomic(fs, fsutil.join(root, "x.json"), b"{}")
    with pytest.raises(ValueError):
        with fsutil.AtomicOutput(fs, fsutil.join(root, "y.json")) as f:
            f.write(b"{")
            raise ValueError
    assert [p.rsplit("/", 1)[-1] for p in fsutil.list_files(fs, root)] == ["x.json"]
