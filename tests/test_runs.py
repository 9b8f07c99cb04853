"""Run folders: layout, tailing a file that is still being written, resume records."""

import json

import numpy as np

from ganstudio.engine.runs import MetricsTail, RunFolder, load_points_sample, resolve_history
from ganstudio.engine.trainer import Trainer


def test_a_run_folder_has_the_documented_layout(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    list(Trainer(tiny_config(steps=10), run_dir=run_dir).run())
    assert json.loads((run_dir / "config.json").read_text())["format_version"] == 1
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "finished" and meta["step"] == 10 and meta["device"] == "cpu"
    run = RunFolder(run_dir)
    records = run.metrics()
    kinds = [r["type"] for r in records]
    assert kinds[0] == "started" and kinds[-1] == "done"
    assert [r["step"] for r in records if r["type"] == "step"] == list(range(1, 11))
    assert {"loss_g", "loss_d", "d_real", "d_fake", "grad_g", "grad_d", "lr_g", "lr_d",
            "d_steps", "its", "elapsed"} <= set(next(r for r in records if r["type"] == "step"))
    samples = run.samples()
    assert [s.step for s in samples] == [0, 5, 10]
    sample = load_points_sample(samples[-1].points)
    assert sample.points.shape == (64, 2) and sample.labels is None
    assert sample.field.shape == (64, 64) and len(sample.extent) == 4
    assert sample.directions.shape == (64, 2) and sample.manifold is None  # z has 4 dimensions
    assert run.latest_checkpoint().name == "step_0000010.safetensors"
    assert run.status() == "finished"


def test_tail_returns_only_complete_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    tail = MetricsTail(path)
    assert tail.poll() == []  # not created yet
    with open(path, "w") as f:
        f.write('{"type": "step", "step": 1}\n{"type": "st')
        f.flush()
        assert tail.poll() == [{"type": "step", "step": 1}]
        f.write('ep", "step": 2}\n')
        f.flush()
        assert tail.poll() == [{"type": "step", "step": 2}]
        assert tail.poll() == []


def test_tail_skips_a_damaged_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"type": "eval", "step": 1}\n{garbage\n{"type": "eval", "step": 2}\n')
    assert MetricsTail(path).poll() == [{"type": "eval", "step": 1}, {"type": "eval", "step": 2}]


def test_resume_record_supersedes_later_steps():
    records = [{"type": "step", "step": s} for s in range(1, 8)]
    records += [{"type": "resume", "step": 5}, {"type": "step", "step": 6}]
    steps = [r["step"] for r in resolve_history(records) if r["type"] == "step"]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_a_run_whose_writer_died_reads_as_interrupted(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    list(Trainer(tiny_config(steps=3), run_dir=run_dir).run())
    meta = json.loads((run_dir / "run.json").read_text())
    meta.update(status="running", pid=2**22 + 12345)  # no such process
    (run_dir / "run.json").write_text(json.dumps(meta))
    assert RunFolder(run_dir).status() == "interrupted"


def test_image_run_writes_png_grids(tiny_config, tmp_path):
    from PIL import Image

    cfg = tiny_config(steps=2)
    cfg.data.name, cfg.model.family, cfg.model.width, cfg.train.eval_every = (
        "digits", "dcgan", 0.125, 0)
    run_dir = tmp_path / "run"
    list(Trainer(cfg, run_dir=run_dir).run())
    png = RunFolder(run_dir).samples()[-1].path
    with Image.open(png) as image:
        assert image.size == (8 * 30 + 2, 8 * 30 + 2) and image.mode == "L"
        assert np.asarray(image).std() > 0


def test_records_read_back_as_the_events_they_were_written_from(tiny_config, tmp_path):
    from ganstudio.engine import events as ev

    run_dir = tmp_path / "run"
    written = list(Trainer(tiny_config(steps=6), run_dir=run_dir).run())
    read = [ev.event_from_record(r) for r in RunFolder(run_dir).metrics()]
    read = [e for e in read if e is not None]
    assert [type(e) for e in read] == [type(e) for e in written]
    steps_written = [e for e in written if isinstance(e, ev.StepEvent)]
    steps_read = [e for e in read if isinstance(e, ev.StepEvent)]
    assert steps_read == steps_written
    started = read[0]
    assert started.kind == "points" and started.real_points is None
    assert RunFolder(run_dir).real_points().shape == (1000, 2)
    samples = [e for e in read if isinstance(e, ev.SamplesEvent)]
    assert samples[-1].path == "samples/step_0000006.png" and samples[-1].points is None
    assert ev.event_from_record({"type": "resume", "step": 3}) is None
    assert ev.event_from_record({"type": "step"}) is None  # damaged: no step
