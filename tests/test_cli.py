"""The CLI end to end, on tiny runs in a temporary folder."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio.cli import main

TINY = ["--steps", "12", "--batch-size", "32", "--sample-every", "4", "--eval-every", "6",
        "--checkpoint-every", "6", "--device", "cpu", "--quiet"]


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_train_info_sample(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, _, err = _run(["train", "--dataset", "ring8", "--out", str(run_dir), *TINY], capsys)
    assert code == 0, err
    assert "Final checkpoint" in err and "Finished at step 12" in err
    assert (run_dir / "checkpoints" / "step_0000012.safetensors").is_file()

    code, out, _ = _run(["info", str(run_dir), "--json"], capsys)
    info = json.loads(out)
    assert code == 0 and info["kind"] == "run" and info["status"] == "finished"
    assert info["step"] == 12 and info["params_g"] > 0 and info["params_d"] > 0
    assert info["config"]["data"]["name"] == "ring8"

    ckpt = run_dir / "checkpoints" / "step_0000006.safetensors"
    code, out, _ = _run(["info", str(ckpt), "--json"], capsys)
    info = json.loads(out)
    # ring8's default MLPs: z 4 → 64 → 64 → 64 → 2, and 2 → 64 → 64 → 64 → 1
    g = 4 * 64 + 64 + 2 * (64 * 64 + 64) + 64 * 2 + 2
    d = 2 * 64 + 64 + 2 * (64 * 64 + 64) + 64 + 1
    assert info["step"] == 6 and info["family"] == "toy" and info["params_d"] == d

    code, out, _ = _run(["info", str(ckpt)], capsys)
    assert f"parameters: G {g:,}, D {d:,}" in out

    grid = tmp_path / "grid.png"
    code, out, _ = _run(["sample", str(run_dir), "--n", "16", "--out", str(grid)], capsys)
    assert code == 0 and out.strip() == str(grid)
    with Image.open(grid) as image:
        assert image.size == (512, 512)


def test_train_images_with_config_file_and_conditional_sampling(tmp_path, capsys):
    from ganstudio.engine.config import defaults_for

    cfg = defaults_for("digits")
    cfg.model.width = 0.125
    config = tmp_path / "digits.json"
    config.write_text(cfg.to_json())
    run_dir = tmp_path / "run"
    code, _, err = _run(["train", "--config", str(config), "--conditional", "--steps", "2",
                         "--out", str(run_dir), "--quiet", "--device", "cpu"], capsys)
    assert code == 0, err
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["model"]["conditional"] is True and saved["model"]["width"] == 0.125
    grid = tmp_path / "sevens.png"
    code, _, err = _run(["sample", str(run_dir), "--n", "9", "--class", "7", "--out", str(grid)],
                        capsys)
    assert code == 0, err
    with Image.open(grid) as image:
        assert image.size == (3 * 30 + 2, 3 * 30 + 2)


def test_resume_continues_the_same_run_folder(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert _run(["train", "--dataset", "ring8", "--out", str(run_dir), *TINY], capsys)[0] == 0
    code, _, err = _run(["train", "--resume", str(run_dir), "--steps", "18", "--quiet"], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"type": "resume", "step": 12} in records
    assert json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"] == 18


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--dataset", "mnist"], "unknown dataset 'mnist'"),
        (["train", "--model", "stylegan9", "--steps", "1"], "unknown model 'stylegan9'"),
        (["train", "--steps", "ten"], "invalid int value"),
        (["train", "--lr-g", "-1"], "lr_g"),
        (["train", "--config", "missing.json"], "missing.json does not exist"),
        (["train", "--resume", "missing.safetensors"], "missing.safetensors"),
        (["train", "--frobnicate"], "unrecognized arguments"),
        (["sample", "missing.safetensors"], "does not exist"),
        (["info", "missing-run"], "does not exist"),
        (["explode"], "does not exist"),
    ],
)
def test_mistakes_get_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(argv, capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err + out


def test_existing_run_folder_is_not_overwritten(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert _run(["train", "--dataset", "ring8", "--out", str(run_dir), *TINY], capsys)[0] == 0
    code, _, err = _run(["train", "--dataset", "ring8", "--out", str(run_dir), *TINY], capsys)
    assert code == 2 and "already holds a run" in err


def test_ctrl_c_stops_cleanly_with_a_final_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganstudio", "train", "--dataset", "ring8", "--steps", "1000000",
         "--checkpoint-every", "0", "--out", str(run_dir), "--device", "cpu"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    metrics = run_dir / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while '"type": "step"' not in (metrics.read_text() if metrics.exists() else ""):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Stopped at step" in err and "Traceback" not in err
    latest = json.loads((run_dir / "checkpoints" / "latest.json").read_text())
    assert latest["step"] > 0
    assert json.loads((run_dir / "run.json").read_text())["status"] == "stopped"


def test_sample_out_never_replaces_a_file_by_surprise(tmp_path, monkeypatch, capsys):
    from ganstudio.resources import pretrained_dir

    monkeypatch.chdir(tmp_path)
    checkpoint = str(pretrained_dir() / "ring8.safetensors")
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"a picture I made")
    code, _, err = _run(["sample", checkpoint, "--n", "4", "--out", str(mine)], capsys)
    assert code == 2 and "mine.png already exists" in err and "--force" in err
    assert mine.read_bytes() == b"a picture I made"
    code, _, _ = _run(["sample", checkpoint, "--n", "4", "--out", str(mine), "--force"], capsys)
    assert code == 0 and mine.read_bytes().startswith(b"\x89PNG")

    link = tmp_path / "link.png"
    link.symlink_to(mine)
    for out, says in ((tmp_path, "is a folder; name a file inside it"),
                      (link, "link.png is a symbolic link"),
                      (Path("/dev/null"), "/dev/null is a character device")):
        if not out.exists():
            continue
        code, _, err = _run(["sample", checkpoint, "--n", "4", "--out", str(out), "--force"],
                            capsys)
        assert code == 2 and says in err and len(err.strip().splitlines()) == 1
    assert link.is_symlink() and not Path("/dev/null").is_file()

    # the default name is never an existing file: NAME-2.png, NAME-3.png...
    names = [_run(["sample", checkpoint, "--n", "4"], capsys)[1].strip() for _ in range(3)]
    assert names == ["ring8_samples.png", "ring8_samples-2.png", "ring8_samples-3.png"]


@pytest.mark.parametrize("psi", ["nan", "inf", "-5", "2.5"])
def test_sample_refuses_a_truncation_out_of_range(psi, tmp_path, capsys):
    from ganstudio.resources import pretrained_dir

    code, _, err = _run(["sample", str(pretrained_dir() / "ring8.safetensors"),
                         "--truncation", psi, "--out", str(tmp_path / "s.png")], capsys)
    assert code == 2 and "--truncation must be a number from 0 to 2" in err
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize(("argv", "says"), [
    (["--model", "gan2014", "--dataset", "digits", "--width", "2"],
     "--width sets the channels of dcgan, not of gan2014"),
    (["--dataset", "ring8", "--data-file", "points.npy"],
     "--data-file is the file of the points dataset, and this run trains on ring8"),
    (["--dataset", "points.csv", "--data-file", "other.csv"], "drop --data-file"),
    (["--batch-size", "100000000"], "train.batch_size: must be a whole number from 2 to"),
])
def test_train_refuses_options_it_would_ignore_or_cannot_afford(argv, says, tmp_path,
                                                                monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(["train", *argv, "--steps", "1", "--quiet"], capsys)
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_a_batch_too_large_for_memory_is_refused_before_anything_is_allocated(
        tmp_path, monkeypatch, capsys):
    config = tmp_path / "wide.json"
    config.write_text(json.dumps({"data": {"name": "ring8"}, "model": {
        "family": "toy", "hidden": 4096, "depth": 8}, "train": {"batch_size": 1_000_000}}))
    code, _, err = _run(["train", "--config", str(config), "--out", str(tmp_path / "run"),
                         "--device", "cpu", "--quiet"], capsys)
    assert code == 2 and "train.batch_size 1,000,000 needs about" in err
    assert "the largest batch that fits is about" in err
    assert not (tmp_path / "run" / "run.json").exists()


def test_sample_from_given_latents_and_labels_writes_raw_arrays(tmp_path, capsys):
    """--z and --labels make samples exactly reproducible; --out x.npy keeps raw floats."""
    from ganstudio.engine.formats import load_generator
    from ganstudio.resources import pretrained_dir

    checkpoint = pretrained_dir() / "digits-conditional.safetensors"
    generator = load_generator(checkpoint)
    z = np.random.default_rng(0).standard_normal((5, generator.z_dim)).astype(np.float32)
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "labels.npy", np.array([3, 1, 4, 1, 5]))
    out = tmp_path / "x.npy"
    assert main(["sample", str(checkpoint), "--z", str(tmp_path / "z.npy"), "--labels",
                 str(tmp_path / "labels.npy"), "--out", str(out)]) == 0
    raw = np.load(out, allow_pickle=False)
    assert raw.shape == (5, 1, 28, 28) and raw.dtype == np.float32
    expected = generator.render(torch.from_numpy(z), torch.tensor([3, 1, 4, 1, 5]))
    assert np.allclose(raw, expected.numpy(), atol=1e-6)
    assert raw.min() >= -1 and raw.max() <= 1  # the generator's own range, not 0-255

    # class vectors mix classes; ψ pulls z towards the mean latent (zero for z models)
    vectors = np.zeros((5, 10), np.float32)
    vectors[:, 3] = vectors[:, 8] = 0.5
    np.save(tmp_path / "mix.npy", vectors)
    assert main(["sample", str(checkpoint), "--z", str(tmp_path / "z.npy"), "--labels",
                 str(tmp_path / "mix.npy"), "--truncation", "0.5", "--out", str(out),
                 "--force"]) == 0
    mixed = generator.render(torch.from_numpy(z) * 0.5, torch.from_numpy(vectors))
    assert np.allclose(np.load(out, allow_pickle=False), mixed.numpy(), atol=1e-6)


@pytest.mark.parametrize("args, message", [
    (["--truncation", "nan"], "--truncation must be a number from 0 to 2"),
    (["--truncation", "inf"], "--truncation must be a number from 0 to 2"),
    (["--truncation", "-5"], "--truncation must be a number from 0 to 2"),
    (["--z", "{tmp}/wrong.npy"], "holds an array of shape (3, 7)"),
    (["--labels", "{tmp}/wrong.npy"], "is not class-conditional"),
    (["--n", "0"], "--n must be 1 to 4096"),
])
def test_sample_refuses_bad_values_in_one_line(tmp_path, capsys, args, message):
    from ganstudio.resources import pretrained_dir

    np.save(tmp_path / "wrong.npy", np.zeros((3, 7), np.float32))
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code = main(["sample", str(pretrained_dir() / "digits.safetensors"), *args,
                 "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def test_wgan_gp_from_the_command_line_takes_its_papers_settings(tmp_path):
    from ganstudio.cli import build_parser, train_config

    args = build_parser().parse_args(["train", "--dataset", "digits", "--loss", "wgan-gp"])
    o = train_config(args).optim
    assert (o.lr_g, o.lr_d, o.beta1, o.beta2, o.d_steps) == (1e-4, 1e-4, 0.0, 0.9, 5)
    args = build_parser().parse_args(["train", "--dataset", "digits", "--loss", "wgan-gp",
                                      "--d-steps", "2", "--lr-g", "3e-4"])
    o = train_config(args).optim
    assert (o.lr_g, o.lr_d, o.d_steps) == (3e-4, 1e-4, 2)


def test_train_asks_for_image_evaluations_and_augmentation(tmp_path, capsys, monkeypatch):
    from ganstudio.engine.metrics import evaluation

    monkeypatch.setattr(evaluation, "TRAINING_SAMPLES", 100)
    run_dir = tmp_path / "run"
    code, _, err = _run(["train", "--dataset", "digits", "--out", str(run_dir), *TINY,
                         "--evals", "classes,kid", "--augment", "translation,cutout"], capsys)
    assert code == 0, err
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train"]["evals"] == ["classes", "kid"]
    assert config["train"]["augment"] == "translation,cutout"
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = {(r["name"], r["step"]) for r in records if r["type"] == "eval"}
    assert evals == {("classes", 6), ("kid", 6), ("classes", 12), ("kid", 12)}


@pytest.mark.parametrize("argv, message", [
    (["--evals", "fid,sharpness"], "unknown evaluation 'sharpness'"),
    (["--augment", "colour"], "unknown transform 'colour'"),
])
def test_unknown_evaluations_and_augmentations_are_named(tmp_path, capsys, argv, message):
    code, _, err = _run(["train", "--dataset", "digits", "--out", str(tmp_path / "run"),
                         *TINY, *argv], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
