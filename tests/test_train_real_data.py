"""Training on real data: configs, the CLI's --data, checkpoints that stand alone, exact resume
from a disk-backed set, and a few steps on real Fashion-MNIST when it is installed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio.cli import main
from ganstudio.engine.config import DataConfig, defaults_for, problems, validate
from ganstudio.engine.data.batches import real_data
from ganstudio.engine.errors import ConfigError
from ganstudio.engine.trainer import Trainer

FASHION = Path("/usr/share/datasets/fashion-mnist")
TINY = ["--steps", "4", "--batch-size", "8", "--sample-every", "2", "--checkpoint-every", "2",
        "--device", "cpu", "--quiet"]


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))


def _folder(root: Path, classes=("cats", "dogs"), per_class: int = 6, size: int = 20) -> Path:
    """Small RGB PNGs in one folder per class, each class a colour of its own."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            pixels[..., k % 3] += 150
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _small(cfg, steps: int):
    cfg.model.width, cfg.train.steps, cfg.train.batch_size = 0.125, steps, 8
    cfg.train.device, cfg.train.sample_every = "cpu", 2
    cfg.train.checkpoint_every, cfg.train.grid_size = 2, 16
    return cfg


# --- settings ---------------------------------------------------------------------------------


def test_real_data_settings_are_checked():
    data = real_data("fashion-mnist", 28)
    assert (data.name, data.source, data.resolution) == ("fashion-mnist", "fashion-mnist", 28)
    assert problems(defaults_for(data)) == []

    bad = defaults_for(data)
    bad.data.name, bad.data.resolution, bad.data.crop = "digits", 300, "stretch"
    fields = {p.field for p in problems(bad)}
    assert fields == {"data.name", "data.resolution", "data.crop"}
    built_in = defaults_for("digits")
    built_in.data.flip = True
    assert [p.field for p in problems(built_in)] == ["data.flip"]


def test_a_folder_named_like_a_built_in_set_gets_a_name_of_its_own(tmp_path):
    folder = _folder(tmp_path / "digits")
    data = real_data(str(folder), 16)
    assert data.name == "digits-data" and data.source == str(folder.resolve())


@pytest.mark.parametrize("family, sizes", [("dcgan", (16, 28, 32, 64, 128)),
                                           ("resnet", (32, 64, 128))])
def test_every_real_recipe_is_valid_at_every_size_its_network_builds(family, sizes):
    for size in sizes:
        cfg = defaults_for(DataConfig(name="set", source="/data/set", resolution=size), family)
        assert cfg.model.family == family and problems(cfg) == []
    with pytest.raises(ConfigError, match=f"{family} builds .* not 48 px"):
        defaults_for(DataConfig(name="set", source="/data/set", resolution=48), family)


def test_conditional_on_a_set_without_labels_is_refused_once_it_is_prepared(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (20, 16, 16), dtype=np.uint8)
    np.save(tmp_path / "faces.npy", images)
    cfg = _small(defaults_for(real_data(str(tmp_path / "faces.npy"), 16)), 2)
    cfg.model.conditional = True
    validate(cfg)  # the classes are not known before the set is prepared
    with pytest.raises(ConfigError, match="no class labels"):
        Trainer(cfg)._setup()


# --- resume from a disk-backed set -------------------------------------------------------------


def test_resume_from_a_disk_backed_set_is_bit_exact(tmp_path):
    """N steps straight == N/2 steps, a resume, N/2 more; over epoch ends, with flips."""
    rng = np.random.default_rng(1)
    np.save(tmp_path / "set.npy", rng.integers(0, 255, (20, 16, 16, 3), dtype=np.uint8))
    np.save(tmp_path / "set_labels.npy", np.arange(20) % 4)
    data = real_data(str(tmp_path / "set.npy"), 16, flip=True)

    def config(steps):
        cfg = _small(defaults_for(data), steps)
        cfg.model.conditional = True
        return cfg

    straight = Trainer(config(8), run_dir=tmp_path / "a")
    list(straight.run())
    list(Trainer(config(4), run_dir=tmp_path / "b").run())
    torch.manual_seed(99)  # the resume restores every random state itself
    resumed = Trainer(config(8), run_dir=tmp_path / "b", resume=tmp_path / "b")
    events = list(resumed.run())
    assert events[0].step == 4
    assert straight.source.state_dict() == resumed.source.state_dict()
    assert straight.source.state_dict()["epoch"] >= 3  # 8 steps × 8 images over 20 images
    for a, b in zip(straight.G.state_dict().values(), resumed.G.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(straight.D.state_dict().values(), resumed.D.state_dict().values()):
        assert torch.equal(a, b)


# --- the command line --------------------------------------------------------------------------


def test_train_on_a_folder_then_info_sample_and_resume(tmp_path, capsys):
    folder = _folder(tmp_path / "pets")
    run_dir = tmp_path / "run"
    code, _, err = _run(["train", "--data", str(folder), "--resolution", "16", "--width",
                         "0.125", "--conditional", "--out", str(run_dir), *TINY], capsys)
    assert code == 0, err
    config = json.loads((run_dir / "config.json").read_text())["data"]
    assert config["source"] == str(folder.resolve()) and config["resolution"] == 16
    assert config["name"] == "pets" and config["crop"] == "centre"

    code, out, _ = _run(["info", str(run_dir)], capsys)
    assert code == 0 and f"data: pets ({folder.resolve()}, 16 px, centre crop)" in out

    # the checkpoint alone samples: the set's shape and classes are in its metadata
    checkpoint = run_dir / "checkpoints" / "step_0000004.safetensors"
    from ganstudio.engine.formats import load_generator

    generator = load_generator(checkpoint)
    assert generator.shape == (3, 16, 16) and generator.classes == ("cats", "dogs")
    assert len(generator.meta["dataset"]["prepared"]) == 16
    grid = tmp_path / "grid.png"
    code, _, err = _run(["sample", str(checkpoint), "--n", "4", "--out", str(grid)], capsys)
    assert code == 0 and grid.is_file(), err

    code, _, err = _run(["train", "--resume", str(run_dir), "--steps", "6", "--quiet"], capsys)
    assert code == 0 and (run_dir / "checkpoints" / "step_0000006.safetensors").is_file(), err


def test_without_a_resolution_the_images_own_size_is_used_when_the_model_builds_it(
        tmp_path, capsys):
    folder = _folder(tmp_path / "small", size=16)
    code, _, err = _run(["train", "--data", str(folder), "--width", "0.125", "--out",
                         str(tmp_path / "run"), *TINY], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["resolution"] == 16


@pytest.mark.parametrize("argv, message", [
    (["--data", "missing-folder"], "missing-folder does not exist"),
    (["--data", "{folder}", "--resolution", "48"], "dcgan builds 16, 28, 32, 64, 128 px"),
    (["--data", "{folder}", "--model", "resnet", "--resolution", "28"], "resnet builds 32"),
    (["--data", "{folder}", "--resolution", "16", "--grayscale", "--model", "toy"],
     "toy does not train on images"),
    (["--resolution", "32"], "--resolution prepares real data; add --data PATH"),
    (["--data", "{folder}", "--dataset", "digits"], "--data and --dataset"),
    (["--data", "{folder}", "--resume", "run"], "a resumed run keeps its data"),
])
def test_mistakes_with_real_data_get_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys,
                                                             argv, message):
    folder = _folder(tmp_path / "pets")
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{folder}", str(folder)) for a in argv]
    code, out, err = _run(["train", *argv, "--steps", "2", "--quiet"], capsys)
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out
    assert not (tmp_path / "runs").exists()  # refused before any run folder was made


def test_ctrl_c_while_preparing_stops_with_nothing_written(tmp_path, capsys, monkeypatch):
    from ganstudio.engine.data import prepare as prepare_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(prepare_module, "prepare", interrupted)
    folder = _folder(tmp_path / "pets")
    code, _, err = _run(["train", "--data", str(folder), "--resolution", "16", "--out",
                         str(tmp_path / "run")], capsys)
    assert code == 130 and "Cancelled while preparing" in err
    assert not (tmp_path / "run").exists()


# --- real Fashion-MNIST ------------------------------------------------------------------------


@pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_a_few_steps_on_real_fashion_mnist(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, _, err = _run(["train", "--data", "fashion-mnist", "--conditional", "--out",
                         str(run_dir), *TINY], capsys)
    assert code == 0, err
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in metrics if m["type"] == "step"]
    assert len(steps) == 4 and all(np.isfinite(m["loss_d"]) for m in steps)
    from ganstudio.engine.formats import load_generator

    generator = load_generator(run_dir)
    assert generator.shape == (1, 28, 28) and generator.classes[0] == "T-shirt/top"
    assert generator.dataset == "fashion-mnist"


def test_a_classifier_serves_only_the_image_shape_it_was_trained_on():
    from ganstudio.engine.data import DATASETS
    from ganstudio.engine.metrics.evaluation import training_space

    digits = DATASETS["digits"]
    assert training_space(digits) == "classifier"
    resized = dataclasses.replace(digits, shape=(1, 32, 32))
    assert training_space(resized) != "classifier"
