"""Forking a run and comparing runs: the engine functions and the CLI."""

import hashlib
import json
import subprocess
import sys

import pytest
import torch

from ganstudio.cli import main
from ganstudio.engine import forks
from ganstudio.engine.errors import ConfigError
from ganstudio.engine.runs import RunFolder
from ganstudio.engine.runs_table import is_being_written, runs_table
from ganstudio.engine.trainer import Trainer


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "writer.lock"}


@pytest.fixture
def parent(tiny_config, tmp_path):
    """A finished 20-step run with checkpoints at 10 and 20, and its final G."""
    trainer = Trainer(tiny_config(steps=20), run_dir=tmp_path / "parent")
    for _ in trainer.run():
        pass
    return tmp_path / "parent", [p.detach().clone() for p in trainer.G.parameters()]


def test_a_fork_without_changes_continues_as_its_parent_did_and_records_it(parent, tmp_path):
    parent_dir, final = parent
    before = _digest(parent_dir)
    trainer = forks.fork(parent_dir, 10, {}, tmp_path / "child")
    for _ in trainer.run():
        pass
    for a, b in zip(trainer.G.parameters(), final):
        assert torch.equal(a, b)  # resumed bit-exactly from the parent's step 10
    child = RunFolder(tmp_path / "child")
    assert child.parent() == (parent_dir.resolve(), 10)
    assert child.meta()["parent"]["checkpoint"] == "step_0000010.safetensors"
    steps = [r["step"] for r in child.metrics() if r["type"] == "step"]
    assert steps == list(range(11, 21))
    assert _digest(parent_dir) == before  # the parent is only read


def test_a_fork_with_a_new_learning_rate_trains_with_it(parent, tmp_path):
    parent_dir, _ = parent
    plan = forks.plan_fork(parent_dir, None, {"optim.lr_g": 5e-4, "train.steps": 24})
    assert plan.step == 20 and plan.changed == {"optim.lr_g": 5e-4, "train.steps": 24}
    trainer = forks.fork(parent_dir, None, {"optim.lr_g": 5e-4, "train.steps": 24},
                         tmp_path / "child")
    for _ in trainer.run():
        pass
    records = [r for r in RunFolder(tmp_path / "child").metrics() if r["type"] == "step"]
    assert [r["step"] for r in records] == [21, 22, 23, 24]
    assert {r["lr_g"] for r in records} == {5e-4}


@pytest.mark.parametrize("step, overrides, message", [
    (7, {}, "has no checkpoint at step 7; it has 10, 20"),
    (10, {"optim.lr_q": 1.0}, "optim.lr_q: there is no such setting"),
    (10, {"model.hidden": 32}, "a fork keeps the networks"),
    (10, {"optim.name": "sgd"}, "a fork keeps the networks"),
    (10, {"optim.lr_g": -1.0}, "optim.lr_g"),
    (20, {}, "set train.steps above it"),
])
def test_a_bad_fork_is_refused_before_anything_is_written(parent, tmp_path, step, overrides,
                                                          message):
    parent_dir, _ = parent
    with pytest.raises(ConfigError, match=message):
        forks.fork(parent_dir, step, overrides, tmp_path / "child")
    assert not (tmp_path / "child").exists()


def test_a_fork_never_writes_into_its_parent(parent):
    parent_dir, _ = parent
    with pytest.raises(ConfigError, match="inside it"):
        forks.fork(parent_dir, 10, {}, parent_dir / "child")


def test_parse_target_and_overrides():
    assert forks.parse_target("runs/a@400") == (forks.Path("runs/a"), 400)
    assert forks.parse_target("runs/a") == (forks.Path("runs/a"), None)
    assert forks.parse_overrides(["optim.lr_g=1e-4", "train.augment=color", "train.ema=false"]) \
        == {"optim.lr_g": 1e-4, "train.augment": "color", "train.ema": False}
    with pytest.raises(ConfigError, match="must be a whole number"):
        forks.parse_target("runs/a@x")
    with pytest.raises(ConfigError, match="expected section.key=value"):
        forks.parse_overrides(["lr"])


def test_cli_forks_and_refuses_with_one_line_and_exit_2(parent, tmp_path, capsys):
    parent_dir, _ = parent
    out = tmp_path / "forked"
    code = main(["train", "--fork", f"{parent_dir}@10", "--set", "optim.lr_d=2e-3",
                 "--lr-g", "3e-4", "--out", str(out), "--quiet"])
    assert code == 0
    fork = RunFolder(out)
    assert fork.parent() == (parent_dir.resolve(), 10)
    assert (fork.config.optim.lr_g, fork.config.optim.lr_d) == (3e-4, 2e-3)
    capsys.readouterr()
    for argv, message in [
        (["--fork", f"{parent_dir}@3"], "has no checkpoint at step 3"),
        (["--fork", str(parent_dir), "--set", "model.z_dim=3"], "keeps the networks"),
        (["--fork", str(parent_dir), "--dataset", "grid25"], "--dataset cannot be given"),
    ]:
        assert main(["train", *argv, "--out", str(tmp_path / "no"), "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "no").exists()


def test_runs_compare_shows_what_differs_and_a_run_another_process_writes(parent, tmp_path,
                                                                          capsys):
    parent_dir, _ = parent
    trainer = forks.fork(parent_dir, 10, {"optim.lr_g": 5e-4}, tmp_path / "child")
    for _ in trainer.run():
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom ganstudio.engine.runs import RunLock\n"
         f"lock = RunLock.acquire({str(tmp_path / 'child')!r})\nprint('locked', flush=True)\n"
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert is_being_written(tmp_path / "child") and not is_being_written(parent_dir)
        table = runs_table([parent_dir, tmp_path / "child"])
        assert table.settings == ["optim.lr_g"]
        assert table.columns[:7] == ["name", "dataset", "model", "loss", "status", "steps",
                                     "parent"]
        first, second = table.rows
        assert (first["status"], second["status"]) == ("finished", "live")
        assert (first["steps"], second["steps"]) == (20, 20)
        assert (first["optim.lr_g"], second["optim.lr_g"]) == (1e-3, 5e-4)
        assert second["parent"] == "parent@10" and "parent" not in first
        assert "modes/modes" in table.metrics and "overfit/r_t" not in table.metrics
        assert main(["runs", "compare", str(parent_dir), str(tmp_path / "child"),
                     "--json"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["columns"] == table.columns and printed["rows"][1]["status"] == "live"
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not is_being_written(tmp_path / "child")
    assert main(["runs", "compare", str(parent_dir), str(tmp_path / "child")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:7] == table.columns[:7] and len(lines) == 3
    assert main(["runs", "compare", str(tmp_path / "nothing")]) == 2
