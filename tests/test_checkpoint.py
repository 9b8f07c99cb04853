"""Checkpoints: round trip, atomic writes, refusal of pickled code, damaged files, exact resume."""

import json
import os
import pickle

import pytest
import torch

from ganstudio.engine import atomic
from ganstudio.engine.checkpoint import (
    flatten_state,
    load_native_generator,
    read_training_state,
    resolve_checkpoint,
    safe_torch_load,
    unflatten_state,
)
from ganstudio.engine.errors import CheckpointError
from ganstudio.engine.formats import load_generator
from ganstudio.engine.trainer import Trainer


@pytest.fixture
def finished_run(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    trainer = Trainer(tiny_config(steps=12), run_dir=run_dir)
    list(trainer.run())
    return trainer, run_dir


def test_round_trip_rebuilds_the_generator_from_the_file_alone(finished_run):
    trainer, run_dir = finished_run
    loaded = load_native_generator(run_dir)  # a run folder resolves to its latest checkpoint
    assert loaded.path.name == "step_0000012.safetensors"
    assert loaded.step == 12 and loaded.dataset == "ring8" and loaded.kind == "points"
    assert loaded.z_dim == trainer.G.z_dim and not loaded.conditional
    z = torch.randn(10, loaded.z_dim)
    assert torch.equal(loaded.render(z), trainer.generate(z))  # the EMA copy samples
    meta = loaded.meta
    assert meta["family"] == "toy" and meta["dataset"]["shape"] == [2]
    assert meta["config"]["optim"]["lr_g"] == pytest.approx(1e-3)


def test_latest_pointer_and_training_state(finished_run):
    trainer, run_dir = finished_run
    latest = json.loads((run_dir / "checkpoints" / "latest.json").read_text())
    assert latest == {"step": 12, "generator": "step_0000012.safetensors",
                      "state": "step_0000012.train.safetensors"}
    state, meta = read_training_state(run_dir / "checkpoints" / latest["state"])
    assert state["step"] == 12 and meta["step"] == 12
    assert set(state) >= {"generator", "discriminator", "optim_g", "optim_d", "rng_torch",
                          "rng_run", "generator_ema"}
    assert isinstance(state["optim_g"]["param_groups"][0]["betas"], tuple)
    assert torch.equal(state["discriminator"]["body.0.weight"], trainer.D.body[0].weight)


def test_flatten_keeps_int_keys_tuples_and_nesting():
    state = {"state": {0: {"step": torch.tensor(3.0), "m": torch.ones(2)}},
             "groups": [{"betas": (0.5, 0.9), "params": [0], "flag": None}]}
    tensors = {}
    skeleton = flatten_state(state, tensors, "s")
    again = unflatten_state(json.loads(json.dumps(skeleton)), tensors)
    assert list(again["state"]) == [0]
    assert torch.equal(again["state"][0]["m"], torch.ones(2))
    assert again["groups"] == [{"betas": (0.5, 0.9), "params": [0], "flag": None}]


def test_atomic_write_survives_a_crash_mid_write(finished_run, monkeypatch):
    _, run_dir = finished_run
    path = resolve_checkpoint(run_dir)
    before = path.read_bytes()

    def crash(*args):
        raise OSError("simulated power cut before the rename")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        atomic.atomic_write_bytes(path, b"half a new checkpoint", replace=True)
    assert path.read_bytes() == before
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert load_native_generator(path).step == 12


def test_atomic_write_survives_a_crash_during_fsync(tmp_path, monkeypatch):
    path = tmp_path / "file.json"
    atomic.atomic_write_json(path, {"good": True})

    def crash(fd):
        raise OSError("disk vanished")

    monkeypatch.setattr(atomic.os, "fsync", crash)
    with pytest.raises(OSError):
        atomic.atomic_write_json(path, {"good": False}, replace=True)
    assert json.loads(path.read_text()) == {"good": True}
    assert os.listdir(tmp_path) == ["file.json"]


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_pickled_code_is_refused_without_running(tmp_path, suffix):
    marker = tmp_path / "pwned"
    path = tmp_path / f"evil{suffix}"
    torch.save({"weight": torch.ones(1), "payload": _Exploit(str(marker))}, path)
    with pytest.raises(CheckpointError, match=f"evil\\{suffix} was refused"):
        safe_torch_load(path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused"):
        load_generator(path)
    assert not marker.exists()


def test_raw_pickle_file_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pth"
    path.write_bytes(pickle.dumps(_Exploit(str(marker))))
    with pytest.raises(CheckpointError, match=r"model\.pth"):
        safe_torch_load(path)
    assert not marker.exists()


def test_truncated_checkpoint_gets_a_clear_error(finished_run, tmp_path):
    _, run_dir = finished_run
    data = resolve_checkpoint(run_dir).read_bytes()
    for cut in (10, len(data) // 2, len(data) - 3):
        broken = tmp_path / "broken.safetensors"
        broken.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=r"broken\.safetensors is damaged"):
            load_native_generator(broken)


def test_truncated_torch_file_gets_a_clear_error(tmp_path):
    path = tmp_path / "netG.pth"
    torch.save({"w": torch.ones(100)}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"netG\.pth is damaged or truncated"):
        safe_torch_load(path)


def test_wrong_kind_of_file(tmp_path, finished_run):
    _, run_dir = finished_run
    text = tmp_path / "notes.safetensors"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match=r"notes\.safetensors"):
        load_native_generator(text)
    state = next((run_dir / "checkpoints").glob("*.train.safetensors"))
    # a training state resolves to the generator beside it
    assert load_generator(state).step == int(state.name[5:12])
    with pytest.raises(CheckpointError, match="does not exist"):
        load_generator(tmp_path / "missing.safetensors")


def test_resume_is_bit_identical(tiny_config, tmp_path):
    """2N steps in one go == N steps, then a resume for N more (on the CPU)."""
    n = 10
    one_go = Trainer(tiny_config(steps=2 * n, train__ema=True), run_dir=tmp_path / "a")
    list(one_go.run())

    first = Trainer(tiny_config(steps=n, train__ema=True), run_dir=tmp_path / "b")
    list(first.run())
    torch.manual_seed(1234)  # disturb the global RNG: the resume must restore it
    second = Trainer(tiny_config(steps=2 * n, train__ema=True), run_dir=tmp_path / "b",
                     resume=tmp_path / "b")
    events = list(second.run())
    assert events[0].step == n

    for a, b in zip(one_go.G.state_dict().values(), second.G.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(one_go.G_ema.state_dict().values(), second.G_ema.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(one_go.D.state_dict().values(), second.D.state_dict().values()):
        assert torch.equal(a, b)


def test_resume_with_dropout_and_d_steps_is_bit_identical(tiny_config, tmp_path):
    def cfg(steps):
        c = tiny_config(steps=steps)
        c.data.name, c.model.family, c.train.eval_every = "digits", "gan2014", 0
        c.optim.d_steps, c.train.batch_size = 2, 8
        return c

    one_go = Trainer(cfg(6), run_dir=tmp_path / "a")
    list(one_go.run())
    list(Trainer(cfg(3), run_dir=tmp_path / "b").run())
    second = Trainer(cfg(6), run_dir=tmp_path / "b", resume=tmp_path / "b" / "checkpoints"
                     / "step_0000003.safetensors")
    list(second.run())
    for a, b in zip(one_go.G.parameters(), second.G.parameters()):
        assert torch.equal(a, b)


def test_resume_without_training_state_is_explained(finished_run, tiny_config, tmp_path):
    _, run_dir = finished_run
    for state in (run_dir / "checkpoints").glob("*.train.safetensors"):
        state.unlink()
    trainer = Trainer(tiny_config(steps=20), resume=run_dir)
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        list(trainer.run())
