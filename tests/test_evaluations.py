"""The evaluation registry and the batch-source seam, engine only."""

import pytest
import torch

from ganstudio.engine import events as ev
from ganstudio.engine.data import load_dataset
from ganstudio.engine.data.batches import InMemorySource
from ganstudio.engine.errors import CheckpointError
from ganstudio.engine.events import event_from_record, event_record
from ganstudio.engine.metrics import registry
from ganstudio.engine.trainer import Trainer


@pytest.fixture
def spy_evaluation(monkeypatch):
    """A registered evaluation that records what it was given."""
    calls = []

    def run(ctx):
        z, labels = ctx.noise(16)
        out = ctx.generate(z, labels)
        calls.append((ctx.step, out.shape, ctx.info.name))
        return {"mean": float(out.mean()), "n": 16.0}

    monkeypatch.setitem(registry.EVALUATIONS, "spy", registry.Evaluation(
        "spy", "test", applies=lambda data: True, run=run))
    return calls


def test_the_mode_sets_default_to_mode_coverage_and_images_to_nothing():
    device, rng = torch.device("cpu"), torch.Generator()
    ring = InMemorySource(load_dataset("ring8"), device, rng)
    digits = InMemorySource(load_dataset("digits"), device, rng)
    assert [e.name for e in registry.evaluations_for(None, ring)] == ["modes"]
    assert registry.evaluations_for(None, digits) == []
    assert registry.evaluations_for(["modes"], digits) == []  # named but does not apply


def test_named_evaluations_run_on_the_sampler_every_n_steps(tiny_config, spy_evaluation,
                                                            tmp_path):
    cfg = tiny_config(steps=20, train__evals=["spy", "modes"])
    events = list(Trainer(cfg, run_dir=tmp_path / "run").run())
    evals = [e for e in events if isinstance(e, ev.EvalEvent)]
    assert [(e.step, e.name) for e in evals] == [(10, "spy"), (10, "modes"), (20, "spy"),
                                                 (20, "modes")]
    assert [c[0] for c in spy_evaluation] == [10, 20]
    assert spy_evaluation[0][1] == (16, 2) and spy_evaluation[0][2] == "ring8"
    record = event_record(evals[0])
    assert record["name"] == "spy" and record["mean"] == evals[0].metrics["mean"]
    assert event_from_record(record) == evals[0]


def test_evaluating_never_changes_the_training_trajectory(tiny_config, spy_evaluation):
    with_evals = Trainer(tiny_config(steps=20, train__evals=["spy", "modes"]))
    without = Trainer(tiny_config(steps=20, train__eval_every=0))
    list(with_evals.run())
    list(without.run())
    for a, b in zip(with_evals.G.parameters(), without.G.parameters()):
        assert torch.equal(a, b)


def test_in_memory_source_draws_from_the_trainers_generator():
    data = load_dataset("ring8")
    rng = torch.Generator().manual_seed(5)
    source = InMemorySource(data, torch.device("cpu"), rng)
    first, _ = source.next_batch(8)
    rng.manual_seed(5)
    again, _ = source.next_batch(8)
    assert torch.equal(first, again)  # the position is the trainer's RNG state
    x, y = source.sample(10, seed=3)
    assert torch.equal(x, source.sample(10, seed=3)[0]) and y is not None
    state = source.state_dict()
    source.load_state_dict(state)
    with pytest.raises(CheckpointError, match=r"saved with 3 training samples.*has 50000"):
        source.load_state_dict({**state, "size": 3})
