"""Data-parallel training under torchrun (gloo on the CPU): one writer, ranks in step."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ganstudio.engine import distributed

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent))


def _rank_main(rank: int, world_size: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world_size),
                      RANK=str(rank), LOCAL_RANK=str(rank))
    world = distributed.from_environment()
    distributed.start(world, torch.device("cpu"))
    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.full((3,), float(rank + 1))  # rank 0: 1, rank 1: 2
    distributed.average_gradients([p], world)
    stop = distributed.any_rank(rank == 1, world, torch.device("cpu"))
    torch.save({"grad": p.grad, "stop": stop}, f"{out}/rank{rank}.pt")
    dist.barrier()
    distributed.stop(world)


def test_gradients_are_averaged_and_a_stop_reaches_every_rank(tmp_path):
    port = 29500 + os.getpid() % 1000
    mp.spawn(_rank_main, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    for rank in (0, 1):
        result = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert torch.equal(result["grad"], torch.full((3,), 1.5))
        assert result["stop"] is True


def test_one_process_is_a_world_of_one(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    world = distributed.from_environment()
    assert not world.distributed and world.leader
    assert distributed.any_rank(True, world, torch.device("cpu")) is True


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed beside this Python")
def test_torchrun_trains_with_rank_zero_writing_the_run_folder(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    result = subprocess.run(
        [TORCHRUN, "--nproc-per-node", "2", "--master-port", str(29600 + os.getpid() % 1000),
         "-m", "ganstudio", "train", "--dataset", "ring8", "--steps", "12", "--device", "cpu",
         "--batch-size", "32", "--sample-every", "6", "--eval-every", "6",
         "--checkpoint-every", "0", "--out", str(run_dir)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.count("Final checkpoint") == 1  # rank 0 alone reports
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if r["type"] == "step"]
    assert steps == list(range(1, 13))  # one writer: no step twice
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "finished" and "× 2 processes" in meta["device_name"]
    assert json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"] == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no stray folders
