"""``ganstudio eval`` and ``ganstudio classifiers`` end to end."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

from ganstudio.cli import main
from ganstudio.engine.metrics.evaluation import compute_metrics
from ganstudio.engine.metrics.real_stats import RealStats


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def arrays(tmp_path):
    rng = np.random.default_rng(5)
    real = rng.normal(size=(300, 16)).astype(np.float32)
    fake = (rng.normal(size=(250, 16)) + 0.25).astype(np.float32)
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "fake.npy", fake)
    return tmp_path / "real.npy", tmp_path / "fake.npy", real, fake


def test_eval_of_feature_arrays_computes_every_metric(arrays, capsys):
    real_path, fake_path, real, fake = arrays
    code, out, err = _run(["eval", "--real", str(real_path), "--fake", str(fake_path),
                           "--features", "none", "--json", "--quiet"], capsys)
    assert code == 0, err
    report = json.loads(out)
    expected = compute_metrics(RealStats.from_features(real), fake, ["fid", "kid", "pr", "dc"])
    assert report["metrics"] == pytest.approx(expected, rel=1e-12)
    assert report["n_real"] == 300 and report["n_fake"] == 250 and report["features"] == "none"
    assert err == ""


def test_eval_text_report_and_progress(arrays, capsys):
    real_path, fake_path, _, _ = arrays
    code, out, err = _run(["eval", "--real", str(real_path), "--fake", str(fake_path),
                           "--metrics", "fid,kid"], capsys)
    assert code == 0
    assert "FID" in out and "KID" in out and "±" in out and "precision" not in out
    assert "kid…" in err  # progress goes to stderr, one line per stage off a terminal


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_bytes(b"hello"), "is not a .npy array"),
    (lambda p: np.save(p, np.zeros((4, 3, 2))), "must hold an (N, D) array"),
    (lambda p: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True),
     "is not a .npy array"),
])
def test_bad_arrays_get_one_line_and_exit_code_2(arrays, tmp_path, capsys, make, message):
    real_path, _, _, _ = arrays
    bad = tmp_path / "bad.npy"
    make(bad)
    code, out, err = _run(["eval", "--real", str(real_path), "--fake", str(bad)], capsys)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_pickled_arrays_are_never_unpickled(arrays, tmp_path, capsys, monkeypatch):
    real_path, _, _, _ = arrays
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    assert _run(["eval", "--real", str(real_path), "--fake", str(bad)], capsys)[0] == 2


@pytest.mark.parametrize("argv, message", [
    (["eval"], "give a checkpoint or run folder"),
    (["eval", "--real", "a.npy"], "both --real"),
    (["eval", "--real", "a.npy", "--fake", "b.npy", "--features", "inception"],
     "use --features none"),
    (["eval", "--real", "a.npy", "--fake", "b.npy", "--metrics", "fid,is"], "unknown metric"),
    (["eval", "--real", "a.npy", "--fake", "b.npy", "--n", "1"], "--n must be"),
])
def test_usage_mistakes(capsys, argv, message):
    code, _, err = _run(argv, capsys)
    assert code == 2 and message in err


def _pretrained(name):
    from ganstudio.resources import pretrained_dir

    path = pretrained_dir() / f"{name}.safetensors"
    if not path.is_file():
        pytest.skip(f"{path} is not bundled")
    return path


def test_eval_offline_without_inception_weights_says_what_to_download(
        tmp_path, capsys, monkeypatch):
    from loopback import refused_url

    from ganstudio.engine.metrics import inception

    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path))
    monkeypatch.setattr(inception, "WEIGHTS_URL", refused_url(inception.WEIGHTS_FILE))
    code, _, err = _run(["eval", str(_pretrained("shapes")), "--n", "100"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "pt_inception-2015-12-05-6726825d.pth" in err and "--features classifier" in err


def test_eval_downloads_fid_weights_on_first_use_and_reads_real_data_from_a_folder(
        tmp_path, capsys, monkeypatch):
    from loopback import FileServer
    from PIL import Image
    from test_metrics_inception import _served_weights

    from ganstudio.engine.metrics import inception

    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))
    body, prefix = _served_weights(tmp_path)
    folder = tmp_path / "strokes"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / f"{i}.png")
    with FileServer({inception.WEIGHTS_FILE: body}) as server:
        monkeypatch.setattr(inception, "WEIGHTS_URL", server.url(inception.WEIGHTS_FILE))
        monkeypatch.setattr(inception, "WEIGHTS_SHA256_PREFIX", prefix)
        code, out, err = _run(["eval", str(_pretrained("digits")), "--data", str(folder),
                               "--metrics", "kid", "--n", "6", "--json"], capsys)
    assert code == 0, err
    assert "downloading FID's Inception-v3 weights" in err
    report = json.loads(out)
    assert (report["data"], report["features"], report["n_real"]) == ("strokes", "inception", 6)
    assert report["extractor"].startswith("inception:")
    assert np.isfinite(report["metrics"]["kid"])


def test_eval_of_the_bundled_generator_in_classifier_space(capsys):
    code, out, err = _run(["eval", str(_pretrained("shapes")), "--features", "classifier",
                           "--metrics", "fid,pr,dc,classes", "--n", "500", "--json",
                           "--quiet"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["data"] == "shapes" and report["features"] == "classifier"
    assert report["n_real"] == report["n_fake"] == 500
    m = report["metrics"]
    assert set(m) == {"fid", "precision", "recall", "density", "coverage", "confident",
                      "class_coverage", "class_kl"}
    assert m["fid"] > 0 and 0 <= m["precision"] <= 1 and m["class_coverage"] > 0.5


def test_eval_refuses_data_of_another_shape(capsys):
    code, _, err = _run(["eval", str(_pretrained("shapes")), "--data", "digits",
                         "--features", "classifier", "--n", "50"], capsys)
    assert code == 2 and "digits images are 1×28×28 but the generator draws 3×32×32" in err


def test_eval_refuses_a_points_generator(capsys):
    code, _, err = _run(["eval", str(_pretrained("ring8")), "--features", "classifier"], capsys)
    assert code == 2 and "draws 2-D points" in err


def test_classifiers_list(capsys):
    code, out, _ = _run(["classifiers", "list"], capsys)
    assert code == 0
    assert "digits" in out and "shapes" in out and "held-out" in out


def test_eval_parzen_of_arrays_chooses_sigma_on_the_first_half_of_the_real_rows(arrays,
                                                                                  capsys):
    from ganstudio.engine.metrics.parzen import parzen_evaluation

    real_path, fake_path, real, fake = arrays
    code, out, _ = _run(["eval", "--real", str(real_path), "--fake", str(fake_path),
                         "--metrics", "parzen", "--json", "--quiet"], capsys)
    assert code == 0
    metrics = json.loads(out)["metrics"]
    expected = parzen_evaluation(fake.astype(np.float64), real[:150].astype(np.float64),
                                 real[150:].astype(np.float64))
    assert metrics == pytest.approx({"parzen": expected.mean, "parzen_sem": expected.sem,
                                     "parzen_sigma": expected.sigma})


def test_eval_parzen_of_a_generator_on_fresh_images_of_its_set(capsys):
    code, out, _ = _run(["eval", str(_pretrained("shapes")), "--metrics", "parzen",
                         "--n", "300", "--json", "--quiet"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["features"] == "pixels" and report["n_real"] == 2000
    assert math.isfinite(report["metrics"]["parzen"]) and report["metrics"]["parzen_sigma"] > 0


@pytest.mark.parametrize("argv, message", [
    (["--metrics", "parzen,fid"], "measured on its own"),
    (["--metrics", "parzen", "--features", "classifier"], "leave out --features"),
])
def test_eval_parzen_mistakes(capsys, argv, message):
    code, _, err = _run(["eval", str(_pretrained("shapes")), *argv], capsys)
    assert code == 2 and message in err and "\n" not in err.strip()
