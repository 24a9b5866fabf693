"""netbuild._pieces: a rearranged blob's blocks are produced by a worker thread while the previous one is
written. The pieces come in order, equal to the blob; a writer that stops early (a full disk) or a
producer that fails leaves no thread behind and loses no error."""
import threading

import numpy as np
import pytest

from import_caffe import layout, netbuild


@pytest.fixture
def lazy(monkeypatch):
    monkeypatch.setattr(layout, "LAZY_BYTES", 0)
    monkeypatch.setattr(layout.Rearranged, "BLOCK_BYTES", 4 * 50)      # 1 row of 50 values a block


def workers():
    return [t for t in threading.enumerate() if t.name == "tf2caffe-blob-blocks"]


def test_pieces_are_the_blob_in_order(lazy):
    kernel = np.random.RandomState(0).standard_normal((50, 40)).astype(np.float32)
    blob = layout.dense_kernel(kernel)
    got = [(start, piece.copy()) for start, piece in netbuild._pieces(blob)]
    assert [s for s, _ in got] == list(range(40))
    np.testing.assert_array_equal(np.concatenate([p for _, p in got]), kernel.T)
    assert not workers()


def test_plain_arrays_are_one_piece_and_empty_ones_none():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert [(s, p is arr) for s, p in netbuild._pieces(arr)] == [(0, True)]
    assert list(netbuild._pieces(np.zeros((0, 3), np.float32))) == []


def test_a_writer_that_stops_early_leaves_no_thread(lazy):
    blob = layout.dense_kernel(np.ones((50, 400), np.float32))
    pieces = netbuild._pieces(blob)
    next(pieces)
    pieces.close()                      # what an exception in f.write does to the generator
    assert not workers()


def test_a_failing_producer_raises_in_the_writer(lazy, monkeypatch):
    blob = layout.dense_kernel(np.ones((50, 40), np.float32))

    def broken(buffers=1):
        yield 0, np.zeros((1, 50), np.float32)
        raise MemoryError("no buffer")
    monkeypatch.setattr(blob, "blocks", broken)
    with pytest.raises(MemoryError):
        list(netbuild._pieces(blob))
    assert not workers()
