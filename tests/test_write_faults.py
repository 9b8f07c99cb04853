"""Writing survives faults: nothing is replaced by surprise, one writer per run folder, a full
disk is a clean stop that resumes, and a killed writer's leftovers are cleaned up."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganstudio.cli import main
from ganstudio.engine import atomic, checkpoint
from ganstudio.engine.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    remove_orphan_temporaries,
)
from ganstudio.engine.errors import DiskFullError, OutputError, RunFolderError
from ganstudio.engine.events import CheckpointEvent
from ganstudio.engine.runs import RunFolder, RunLock, RunWriter
from ganstudio.engine.trainer import Trainer

# --- atomic writes --------------------------------------------------------------------------


def test_an_atomic_write_replaces_a_file_only_when_asked(tmp_path):
    path = tmp_path / "mine.json"
    atomic_write_json(path, {"mine": True})
    with pytest.raises(OutputError, match=r"mine\.json already exists"):
        atomic_write_json(path, {"mine": False})
    assert json.loads(path.read_text()) == {"mine": True}
    atomic_write_json(path, {"mine": False}, replace=True)
    assert json.loads(path.read_text()) == {"mine": False}


def test_an_atomic_write_never_lands_on_a_link_a_folder_or_a_device(tmp_path):
    target = tmp_path / "target.png"
    target.write_bytes(b"precious")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    with pytest.raises(OutputError, match=r"link\.png is a symbolic link"):
        atomic_write_bytes(link, b"new", replace=True)
    assert link.is_symlink() and target.read_bytes() == b"precious"
    with pytest.raises(OutputError, match="is a folder; name a file inside it"):
        atomic_write_bytes(tmp_path, b"new", replace=True)
    if Path("/dev/null").exists():
        with pytest.raises(OutputError, match="/dev/null is a character device"):
            atomic_write_bytes("/dev/null", b"new", replace=True)
        assert not Path("/dev/null").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.png", "target.png"]


def test_orphan_temporaries_of_a_killed_writer_are_removed(tmp_path):
    orphans = [tmp_path / ".step_0001000.safetensors.0123456789ab.tmp",
               tmp_path / ".run.json.abcdefabcdef.tmp"]
    kept = [tmp_path / "step_0001000.safetensors", tmp_path / ".hidden.tmp",
            tmp_path / "notes.0123456789ab.tmp"]
    for path in orphans + kept:
        path.write_bytes(b"x")
    assert sorted(remove_orphan_temporaries(tmp_path)) == sorted(orphans)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in orphans)
    young = tmp_path / ".cache.safetensors.0123456789ab.tmp"
    young.write_bytes(b"x")
    assert remove_orphan_temporaries(tmp_path, older_than=3600) == []
    os.utime(young, (time.time() - 7200, time.time() - 7200))
    assert remove_orphan_temporaries(tmp_path, older_than=3600) == [young]


# --- run folders ----------------------------------------------------------------------------


@pytest.fixture
def finished(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    list(Trainer(tiny_config(steps=10), run_dir=run_dir).run())
    return run_dir


def test_opening_a_run_folder_for_writing_removes_orphans_and_mends_a_torn_line(
        finished, tiny_config):
    checkpoints = finished / "checkpoints"
    orphan = checkpoints / ".step_0000020.safetensors.0123456789ab.tmp"
    orphan.write_bytes(b"\0" * 1000)
    with open(finished / "metrics.jsonl", "ab") as f:
        f.write(b'{"type": "step", "step": 11, "loss')  # killed mid-line
    list(Trainer(tiny_config(steps=14), run_dir=finished, resume=finished).run())
    assert not orphan.exists()
    records = RunFolder(finished).metrics()
    assert {"type": "resume", "step": 10} in records
    assert [r["step"] for r in records if r["type"] == "step"] == list(range(1, 15))


def test_one_writer_per_run_folder(finished, tiny_config):
    from ganstudio.engine.config import RunConfig

    config = RunConfig.from_json_file(finished / "config.json")
    first = RunWriter(finished, config, {})
    try:
        with pytest.raises(RunFolderError, match=rf"is being written by process {os.getpid()} "
                                                 rf"on {socket.gethostname()}"):
            RunWriter(finished, config, {})
        with pytest.raises(RunFolderError, match="is being written by process"):
            list(Trainer(tiny_config(steps=14), run_dir=finished, resume=finished).run())
    finally:
        first.close()
    second = RunWriter(finished, config, {})  # released: the next writer is welcome
    second.close()


@pytest.mark.skipif(os.name != "posix", reason="the lock holder is a POSIX subprocess here")
def test_a_second_train_resume_into_a_live_folder_names_the_live_process(finished, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from ganstudio.engine.runs import RunLock; "
         f"lock = RunLock.acquire({str(finished)!r}); print('locked', flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        code = main(["train", "--resume", str(finished), "--steps", "14", "--quiet"])
        _, err = capsys.readouterr()
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert f"is being written by process {holder.pid} on {socket.gethostname()}" in err
    finally:
        holder.kill()  # the OS releases the lock of a process that dies, however it dies
        holder.wait()
    assert main(["train", "--resume", str(finished), "--steps", "14", "--quiet"]) == 0


def test_the_lock_is_released_when_a_run_ends_in_an_error(finished, tiny_config):
    trainer = Trainer(tiny_config(steps=14), run_dir=finished, resume=finished)
    events = trainer.run()
    next(events)
    with pytest.raises(RuntimeError, match="boom"):
        events.throw(RuntimeError("boom"))
    RunLock.acquire(finished).release()


def test_metrics_are_on_disk_before_a_checkpoint_is_published(tiny_config, tmp_path,
                                                              monkeypatch):
    run_dir = tmp_path / "run"
    seen = []

    def write_latest(folder, step, generator, state):
        records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_bytes()
                   .splitlines()]
        seen.append((step, max(r["step"] for r in records if r["type"] == "step")))
        return checkpoint.write_latest(folder, step, generator, state)

    monkeypatch.setattr("ganstudio.engine.trainer.write_latest", write_latest)
    list(Trainer(tiny_config(steps=20), run_dir=run_dir).run())
    assert seen == [(10, 10), (20, 20)]


# --- a full disk ----------------------------------------------------------------------------


def _disk_fills_at(monkeypatch, step: int):
    """Every atomic write of a checkpoint of ``step`` or later fails as a full disk does."""
    real = atomic.atomic_write_bytes

    def write(path, data, **kwargs):
        name = Path(path).name
        if name.startswith("step_") and int(name[5:12]) >= step:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data, **kwargs)

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", write)


def test_a_full_disk_stops_the_run_cleanly_and_it_resumes_once_there_is_room(
        tiny_config, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    _disk_fills_at(monkeypatch, 20)
    with pytest.raises(DiskFullError) as stopped:
        list(Trainer(tiny_config(steps=30), run_dir=run_dir).run())
    message = str(stopped.value)
    assert message.startswith("The disk is full: writing ") and "\n" not in message
    assert "step_0000020.safetensors failed at step 20" in message
    assert "the last good checkpoint (step 10) is kept" in message
    assert f"ganstudio train --resume {run_dir}" in message
    assert json.loads((run_dir / "run.json").read_text())["status"] == "stopped"
    assert json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"] == 10
    assert not [p for p in (run_dir / "checkpoints").iterdir() if p.name.endswith(".tmp")]

    monkeypatch.undo()  # room again
    events = list(Trainer(tiny_config(steps=30), run_dir=run_dir, resume=run_dir).run())
    assert events[0].step == 10 and events[-1].reason == "finished"
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"


def test_the_cli_says_the_disk_is_full_in_one_line(tmp_path, monkeypatch, capsys):
    _disk_fills_at(monkeypatch, 6)
    run_dir = tmp_path / "run"
    code = main(["train", "--dataset", "ring8", "--steps", "12", "--checkpoint-every", "3",
                 "--sample-every", "3", "--eval-every", "0", "--batch-size", "32",
                 "--device", "cpu", "--out", str(run_dir), "--quiet"])
    _, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("ganstudio: error:")]
    assert len(errors) == 1 and errors[0].startswith("ganstudio: error: The disk is full")
    assert err.strip().splitlines()[-1] == errors[0]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="mounting a tiny tmpfs needs root")
def test_a_real_full_disk(tiny_config, tmp_path):
    """On a 512 KB tmpfs, a run that snapshots every step fills the disk for real."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        run_dir = mount / "run"
        cfg = tiny_config(steps=10_000)
        cfg.train.sample_every, cfg.train.checkpoint_every, cfg.train.eval_every = 1, 5, 0
        with pytest.raises(DiskFullError, match="The disk is full"):
            list(Trainer(cfg, run_dir=run_dir).run())
        assert RunFolder(run_dir).status() in ("stopped", "interrupted")  # run.json may not fit
        kept = json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"]
        checkpoint.load_native_generator(run_dir)  # the last good checkpoint loads
        for old in [*(run_dir / "samples").glob("step_*"),
                    *(run_dir / "checkpoints").glob("step_*")]:
            if f"{kept:07d}" not in old.name:
                old.unlink()  # make room
        cfg.train.steps, cfg.train.sample_every, cfg.train.checkpoint_every = kept + 5, 100, 0
        events = list(Trainer(cfg, run_dir=run_dir, resume=run_dir).run())
        assert events[0].step == kept and events[-1].reason == "finished"
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_checkpoint_saved_twice_at_one_step_replaces_its_own_file(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    trainer = Trainer(tiny_config(steps=10), run_dir=run_dir)
    trainer.save_now()
    trainer.save_now()
    events = list(trainer.run())
    saves = [e for e in events if isinstance(e, CheckpointEvent) and e.step == 0]
    assert len(saves) == 2 and events[-1].reason == "finished"
