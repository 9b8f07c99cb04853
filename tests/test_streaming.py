"""Batches streamed from a prepared set: order, bit-exact resume, held-out images, flips."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from ganstudio.engine.data.prepare import PrepareOptions, prepare
from ganstudio.engine.data.streaming import StreamingSource
from ganstudio.engine.errors import ConfigError, DatasetError

N = 50


@pytest.fixture
def prepared(tmp_path, monkeypatch):
    """50 images, image i filled with the value i (plus a left-right ramp), labelled i % 5."""
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))
    images = np.repeat(np.arange(N, dtype=np.uint8)[:, None, None], 16, axis=1)
    images = np.repeat(images, 16, axis=2)
    images[:, :, 0] = 255  # a white left column, to tell a flipped image apart
    np.save(tmp_path / "set.npy", images)
    np.save(tmp_path / "set_labels.npy", np.arange(N) % 5)
    return prepare(tmp_path / "set.npy", PrepareOptions(resolution=16))


def _ids(images: torch.Tensor) -> list[int]:
    return images[:, 0, 8, 8].tolist()


def test_batches_are_uint8_images_with_labels(prepared):
    source = StreamingSource(prepared, seed=0)
    x, y = source.next_batch(8)
    assert x.dtype == torch.uint8 and x.shape == (8, 1, 16, 16)
    assert y.dtype == torch.int64 and y.tolist() == [i % 5 for i in _ids(x)]
    assert len(source) == N and source.info.shape == (1, 16, 16)
    source.close()


def test_every_epoch_serves_each_image_once_in_a_new_order(prepared):
    source = StreamingSource(prepared, seed=3)
    served = []
    for _ in range(2 * N // 7 + 1):
        served += _ids(source.next_batch(7)[0])
    first, second = served[:N], served[N : 2 * N]
    assert sorted(first) == sorted(second) == list(range(N))
    assert first != second
    assert source.state_dict()["epoch"] == 2
    source.close()


@pytest.mark.parametrize("flip", [False, True])
def test_resume_is_bit_exact(prepared, flip):
    source = StreamingSource(prepared, seed=7, flip=flip)
    for _ in range(3):
        source.next_batch(16)
    state = source.state_dict()
    after = [source.next_batch(16) for _ in range(3)]
    source.close()

    resumed = StreamingSource(prepared, seed=7, flip=flip)
    resumed.next_batch(16)  # read ahead from the start, then moved back by the state
    resumed.load_state_dict(state)
    again = [resumed.next_batch(16) for _ in range(3)]
    resumed.close()
    for (x1, y1), (x2, y2) in zip(after, again):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_flips_are_random_left_right_mirrors(prepared):
    source = StreamingSource(prepared, seed=1, flip=True)
    x, _ = source.next_batch(N)
    flipped = x[:, 0, 0, -1] == 255
    assert 10 < int(flipped.sum()) < 40
    assert torch.equal(x[flipped][:, 0, :, 0], x[flipped][:, 0, :, 1])  # the ramp moved right
    source.close()


def test_a_new_batch_size_continues_from_what_was_handed_out(prepared):
    source = StreamingSource(prepared, seed=2, prefetch=3)
    whole = StreamingSource(prepared, seed=2)
    expected = _ids(whole.next_batch(16)[0])
    got = _ids(source.next_batch(4)[0]) + _ids(source.next_batch(4)[0])
    got += _ids(source.next_batch(8)[0])  # the read-ahead batches of 4 are dropped
    assert got == expected
    source.close()
    whole.close()


def test_held_out_images_are_never_served_and_fixed_by_the_seed(prepared):
    source = StreamingSource(prepared, seed=4, hold_out=10)
    held, labels = source.held_out(10)
    held_ids = set(_ids(held))
    assert len(held_ids) == 10 and labels.tolist() == [i % 5 for i in _ids(held)]
    served = set()
    for _ in range(3 * 40 // 8):
        served |= set(_ids(source.next_batch(8)[0]))
    assert served == set(range(N)) - held_ids
    assert set(_ids(source.held_out(3)[0])) <= held_ids
    with pytest.raises(ConfigError, match="Only 10 images are held out"):
        source.held_out(11)
    same = StreamingSource(prepared, seed=4, hold_out=10)
    other = StreamingSource(prepared, seed=5, hold_out=10)
    assert set(_ids(same.held_out(10)[0])) == held_ids
    assert set(_ids(other.held_out(10)[0])) != held_ids
    for s in (source, same, other):
        s.close()


def test_sample_does_not_depend_on_the_position(prepared):
    source = StreamingSource(prepared, seed=0)
    before = source.sample(12, seed=9)
    source.next_batch(20)
    after = source.sample(12, seed=9)
    assert torch.equal(before[0], after[0]) and len(set(_ids(before[0]))) == 12
    assert not torch.equal(source.sample(12, seed=10)[0], before[0])
    source.close()


def test_a_state_from_another_order_is_refused(prepared):
    source = StreamingSource(prepared, seed=0)
    state = source.state_dict()
    with pytest.raises(DatasetError, match="seed 0, here 1"):
        StreamingSource(prepared, seed=1).load_state_dict(state)


def test_close_stops_the_reader(prepared):
    source = StreamingSource(prepared, seed=0)
    source.next_batch(4)
    thread = source._thread
    assert thread.is_alive()
    source.close()
    assert not thread.is_alive()



def test_a_read_error_reaches_the_caller_and_never_blocks_close(prepared, monkeypatch):
    real = StreamingSource._read
    failed = threading.Event()

    def third_read_fails(self, indices, flips=None):
        self.reads = getattr(self, "reads", 0) + 1
        if self.reads == 3:
            failed.set()
            raise OSError("disk gone")
        return real(self, indices, flips)

    monkeypatch.setattr(StreamingSource, "_read", third_read_fails)
    source = StreamingSource(prepared, seed=0, prefetch=1)
    source.next_batch(4)
    assert failed.wait(10)  # the reader failed while the queue still holds batch two
    closing = threading.Thread(target=source.close)  # returns, though the reader could not
    closing.start()                                   # hand its error over
    closing.join(10)
    assert not closing.is_alive()
    failed.clear()
    source = StreamingSource(prepared, seed=0, prefetch=1)
    source.next_batch(4)
    source.next_batch(4)
    with pytest.raises(OSError, match="disk gone"):
        source.next_batch(4)
    source.close()
