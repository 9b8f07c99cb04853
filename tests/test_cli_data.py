"""``ganstudio data …``: inspect, prepare, list, clear, and what bad input and Ctrl-C give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dataset_files import image_folder

from ganstudio import cli
from ganstudio.cli import EXIT_INTERRUPTED, EXIT_USAGE, main
from ganstudio.engine.data.prepare import list_prepared, prepared_root


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))


def test_inspect_prints_a_report_or_json(tmp_path, capsys):
    root = image_folder(tmp_path / "pets", {"cat": 3, "dog": 2})
    assert main(["data", "inspect", str(root)]) == 0
    out = capsys.readouterr().out
    assert "5 images" in out and "2 classes: cat (3), dog (2)" in out
    assert main(["data", "inspect", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["count"] == 5 and report["classes"] == [{"name": "cat", "count": 3},
                                                          {"name": "dog", "count": 2}]


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["data", "inspect", str(tmp_path / "missing")]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ganstudio: error:") and "missing" in err[0]
    root = image_folder(tmp_path / "pets", {"cat": 1, "dog": 1})
    assert main(["data", "prepare", str(root), "--resolution", "9"]) == EXIT_USAGE
    assert "16 to 256, not 9" in capsys.readouterr().err
    assert main(["data", "prepare", str(root)]) == EXIT_USAGE  # --resolution is required
    assert main(["data", "download", "imagenet"]) == EXIT_USAGE
    assert "Unknown dataset 'imagenet'" in capsys.readouterr().err


def test_prepare_list_and_clear(tmp_path, capsys):
    root = image_folder(tmp_path / "pets", {"cat": 3, "dog": 2})
    assert main(["data", "prepare", str(root), "--resolution", "16", "--grayscale",
                 "--crop", "pad", "--flip"]) == 0
    captured = capsys.readouterr()
    folder = Path(captured.out.strip())
    assert folder.parent == prepared_root() and (folder / "images.npy").is_file()
    assert "5 images, 1×16×16, 2 classes" in captured.err
    (prepared,) = list_prepared()
    assert prepared.shape == (1, 16, 16)
    assert main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert "Built-in:" in listing and "fashion-mnist" in listing and str(folder) in listing
    assert main(["data", "clear"]) == 0
    assert "MB freed" in capsys.readouterr().out and list_prepared() == []


def test_ctrl_c_while_preparing_leaves_nothing(tmp_path, capsys, monkeypatch):
    root = image_folder(tmp_path / "pets", {"cat": 3, "dog": 2})

    def interrupt(self, done, total):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli._ProgressLine, "images", interrupt)
    assert main(["data", "prepare", str(root), "--resolution", "16"]) == EXIT_INTERRUPTED
    assert "Cancelled; nothing was written." in capsys.readouterr().err
    assert list(prepared_root().iterdir()) == []
