"""The corpus of hostile and broken files, built here, and what GAN Studio does with each.

Generator files go through ``ganstudio info``, ``ganstudio sample`` (in-process; a few also in a
real subprocess under a 3 GB address-space limit) and the window's open path, offscreen. Each
is refused with one line that names the file and exit code 2: no traceback, no hang, no
memory blow-up, and no code from the file run. Payloads open a marker file, or call
``os.system`` to make one; the tests check that it does not exist. Then: configs, training
states and run folders; NVIDIA StyleGAN pickles (embedded source, calls through ``__reduce__``,
object arrays, code-running storage blobs, unknown globals, TensorFlow-era layouts); and
dataset files (image bombs, lying IDX headers, escaping archive members, CIFAR pickles that
would run code).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import json
import os
import pickle
import shlex
import struct
import subprocess
import sys
import tarfile
import tracemalloc
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from dataset_files import (
    cifar_binary,
    cifar_python_batch,
    cifar_rows,
    image_folder,
    png_claiming,
    tar_folder,
    write_image,
)
from safetensors.torch import save as save_safetensors
from stylegan_support import (
    Call,
    EasyDict,
    Persistent,
    dump_snapshot,
    persistent_meta,
    random_generator,
    write_snapshot,
)
from torch import nn

from ganstudio.cli import main
from ganstudio.engine.config import ModelConfig, RunConfig
from ganstudio.engine.data import DATASETS
from ganstudio.engine.data.prepare import PrepareOptions, prepare
from ganstudio.engine.data.sources import inspect_source, open_source
from ganstudio.engine.errors import CheckpointError, DatasetError, printable
from ganstudio.engine.formats import load_generator
from ganstudio.engine.formats.stylegan_pickle import open_stylegan_pickle
from ganstudio.engine.nets import build_generator

MEMORY_LIMIT = 3 * 2**30


# --- payloads -----------------------------------------------------------------------------


class OpensMarker:
    """Unpickling this calls open(marker, "w"): code from the file, run."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class RunsShell:
    """Unpickling this calls os.system to create the marker."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(self.marker)}",))


def _torch_bytes(obj, legacy: bool = False) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=not legacy)
    return buffer.getvalue()


# --- a valid GAN Studio checkpoint, and ones with hostile headers or metadata -------------


def _native_parts() -> tuple[dict[str, torch.Tensor], dict]:
    info = DATASETS["ring8"]
    model = ModelConfig(family="toy", z_dim=2, hidden=8, depth=1)
    torch.manual_seed(0)
    generator = build_generator(model, info)
    meta = {
        "format": "ganstudio.generator", "format_version": 1, "step": 3, "family": "toy",
        "model": dataclasses.asdict(model),
        "dataset": {**info.to_dict(), "description": info.description},
        "output_range": None, "ema": False, "loss": "nonsaturating",
        "config": RunConfig().to_dict(),
    }
    return {k: v.contiguous() for k, v in generator.state_dict().items()}, meta


def _native(meta_text: str | None = None, **changes) -> bytes:
    """A checkpoint with the metadata changed (dotted keys) or replaced by ``meta_text``."""
    tensors, meta = _native_parts()
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        target = meta
        for parent in parents:
            target = target[parent]
        target[key] = value
    text = json.dumps(meta) if meta_text is None else meta_text
    return save_safetensors(tensors, metadata={"ganstudio": text})


def _with_header(header: dict, data: bytes = b"\0" * 8) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


# --- torch.export archives, poisoned in every way torch.export.load would run code ---------


class TinyGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(4, 12)
        self.register_buffer("scale", torch.ones(1))
        self.c = torch.tensor([0.5])  # a tensor constant

    def forward(self, z):
        return torch.tanh(self.l(z)).view(-1, 3, 2, 2) * self.scale * self.c


@pytest.fixture(scope="session")
def exported() -> bytes:
    program = torch.export.export(TinyGenerator().eval(), (torch.randn(2, 4),),
                                  dynamic_shapes={"z": {0: torch.export.Dim("batch")}})
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()


def _edit_archive(data: bytes, edit: Callable[[dict[str, bytes], str], None],
                  compression: int = zipfile.ZIP_STORED) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist()}
    prefix = next(iter(files)).split("/")[0] + "/"
    edit(files, prefix)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def _poison_payload(kind: str, payload) -> Callable:
    """Mark the first weight (or constant) ``use_pickle`` and make its bytes a pickle."""
    def edit(files, prefix):
        config_name = f"{prefix}data/{kind}/model_{kind}_config.json"
        config = json.loads(files[config_name])
        entry = next(iter(config["config"].values()))
        entry["use_pickle"] = True
        files[f"{prefix}data/{kind}/{entry['path_name']}"] = _torch_bytes(payload)
        files[config_name] = json.dumps(config).encode()
    return edit


def _edit_program(change: Callable[[dict], None]) -> Callable:
    def edit(files, prefix):
        program = json.loads(files[f"{prefix}models/model.json"])
        change(program)
        files[f"{prefix}models/model.json"] = json.dumps(program).encode()
    return edit


def _first_node(program: dict) -> dict:
    return program["graph_module"]["graph"]["nodes"][0]


def _sympy_payload(program: dict, marker: Path) -> None:
    sizes = program["graph_module"]["graph"]["tensor_values"]["z"]["sizes"]
    sizes[0]["as_expr"]["expr_str"] = (
        f"Symbol('s0', integer=True) if __import__('os').system('touch {marker}') else 0")


def _expanded_weight(files, prefix):
    name = f"{prefix}data/weights/model_weights_config.json"
    config = json.loads(files[name])
    meta = next(iter(config["config"].values()))["tensor_meta"]
    meta["sizes"] = [{"as_int": 100_000}, {"as_int": 100_000}]
    meta["strides"] = [{"as_int": 0}, {"as_int": 0}]
    files[name] = json.dumps(config).encode()


def _zip_bomb(files, prefix):
    files[f"{prefix}data/weights/weight_0"] = bytes(40 * 2**20)  # deflates ~1000:1


def _declared_3gib(data: bytes) -> bytes:
    """The archive with one weight's size in the central directory set to 3 GiB."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        name = next(i.filename for i in archive.infolist() if i.filename.endswith("weight_0"))
    entry = data.rindex(name.encode()) - 46  # the central directory's entry for it
    assert data[entry : entry + 4] == b"PK\x01\x02"
    return data[: entry + 24] + struct.pack("<I", 3 * 2**30) + data[entry + 28 :]


def _old_layout(files, prefix):
    """The layout of torch.export before PyTorch 2.6: pickled weights, no archive_format."""
    del files[f"{prefix}archive_format"]
    files[f"{prefix}serialized_exported_program.json"] = b"{}"


# --- the corpus ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    name: str  # the file's name: its suffix is what a user would see, not what it holds
    build: Callable  # (path, marker, exported archive) -> None: makes the file at path
    says: str  # what the one-line message must say


def _bytes(make: Callable[..., bytes]) -> Callable:
    def build(path: Path, marker: Path, exported: bytes) -> None:
        path.write_bytes(make(marker, exported))
    return build


def _cut(make: Callable[[bytes], bytes], fraction: float | None = None, at: int | None = None):
    def cut(marker, exported):
        data = make(exported)
        return data[: at if at is not None else int(len(data) * fraction)]
    return cut


def _native_state_dict(exported) -> bytes:
    return _torch_bytes({"main.0.weight": torch.zeros(4, 8, 4, 4),
                         "main.3.weight": torch.zeros(8, 3, 4, 4)})


def _fifo(path, marker, exported):
    os.mkfifo(path)


def _link_to_dev_zero(path, marker, exported):
    os.symlink("/dev/zero", path)


def _link_loop(path, marker, exported):
    os.symlink(path.name + ".other", path)
    os.symlink(path.name, path.with_name(path.name + ".other"))


def _folder(path, marker, exported):
    path.mkdir()


def _object_npy(marker, exported):
    buffer = io.BytesIO()
    import numpy as np

    np.save(buffer, np.array([OpensMarker(marker)], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


CASES = [
    # pickles with code, in every container the app accepts
    Case("netG.pth", _bytes(lambda m, e: _torch_bytes({"netG": OpensMarker(m)})),
         "was refused: it holds pickled Python objects"),
    Case("legacy.pth", _bytes(lambda m, e: _torch_bytes({"netG": RunsShell(m)}, legacy=True)),
         "was refused: it holds pickled Python objects"),
    Case("raw.pt", _bytes(lambda m, e: pickle.dumps(RunsShell(m))),
         "was refused: it is a Python pickle"),
    Case("objects.npy", _bytes(_object_npy), "is a NumPy array (.npy), not a generator"),
    Case("expanded.pth", _bytes(lambda m, e: _torch_bytes(
        {"main.0.weight": torch.zeros(1, 1, 1, 1).expand(4096, 4096, 4, 4),
         "main.3.weight": torch.zeros(8, 3, 4, 4)})), "holds an expanded tensor of shape"),
    Case("meta-pickle.safetensors",
         _bytes(lambda m, e: _native(pickle.dumps(OpensMarker(m)).decode("latin-1"))),
         "is not valid JSON (line 1, column 1"),
    # .pt2: every way torch.export.load runs code
    Case("poisoned-weight.pt2", _bytes(lambda m, e: _edit_archive(
        e, _poison_payload("weights", OpensMarker(m)))), "as pickled (use_pickle)"),
    Case("poisoned-constant.pt2", _bytes(lambda m, e: _edit_archive(
        e, _poison_payload("constants", RunsShell(m)))), "as pickled (use_pickle)"),
    Case("poisoned-inputs.pt2", _bytes(lambda m, e: _edit_archive(
        e, lambda f, p: f.__setitem__(f"{p}data/sample_inputs/model.pt",
                                      _torch_bytes(RunsShell(m))))),
         "holds pickled objects beyond plain tensors"),
    Case("opaque-constant.pt2", _bytes(lambda m, e: _edit_archive(
        e, lambda f, p: f.__setitem__(f"{p}data/constants/opaque_obj_0",
                                      pickle.dumps(OpensMarker(m))))),
         "a pickled object, and unpickling it could run code"),
    Case("legacy-weights.pt2", _bytes(lambda m, e: _edit_archive(
        e, lambda f, p: f.__setitem__(f"{p}data/weights/model.pt",
                                      _torch_bytes(OpensMarker(m))))), "a pickled object"),
    Case("aoti.pt2", _bytes(lambda m, e: _edit_archive(
        e, lambda f, p: f.__setitem__(f"{p}data/aotinductor/model/model.so", b"\x7fELF"))),
         "compiled native code (AOTInductor)"),
    Case("guard-code.pt2", _bytes(lambda m, e: _edit_archive(e, _edit_program(
        lambda prog: prog.__setitem__(
            "guards_code", [f"__import__('os').system('touch {m}') == 0"])))),
         "which an exported generator does not"),
    Case("sympy-code.pt2", _bytes(lambda m, e: _edit_archive(
        e, _edit_program(lambda prog: _sympy_payload(prog, m)))),
         "which an exported generator does not"),
    Case("python-call.pt2", _bytes(lambda m, e: _edit_archive(e, _edit_program(
        lambda prog: _first_node(prog).__setitem__("target", "torch.os.system")))),
         "calls 'torch.os.system'"),
    Case("name-injection.pt2", _bytes(lambda m, e: _edit_archive(e, _edit_program(
        lambda prog: prog["graph_module"]["signature"]["input_specs"][0]["parameter"]
        .__setitem__("parameter_name", 'l") or __import__("os").system("x") or ("')))),
         "is not a plain name"),
    Case("expanded-weight.pt2", _bytes(lambda m, e: _edit_archive(e, _expanded_weight)),
         "declares 10,000,000,000 values"),
    Case("zip-bomb.pt2", _bytes(lambda m, e: _edit_archive(e, _zip_bomb, zipfile.ZIP_DEFLATED)),
         "refused as a zip bomb"),
    Case("declared-3gib.pt2", _bytes(lambda m, e: _declared_3gib(e)), "refused as a zip bomb"),
    Case("old-format.pt2", _bytes(lambda m, e: _edit_archive(e, _old_layout)),
         "written by an older torch.export"),
    # safetensors headers
    Case("huge-header.safetensors", _bytes(lambda m, e: struct.pack("<Q", 2**63 + 5) + b"{}"),
         "its header claims 9,223,372,036,854,775,813 bytes"),
    Case("negative-header.safetensors", _bytes(lambda m, e: struct.pack("<q", -8) + b"{}"),
         "its header claims"),
    Case("long-header.safetensors", _bytes(lambda m, e: struct.pack("<Q", 4000) + b"{}" * 50),
         "its header claims 4,000 bytes"),
    Case("enormous-shape.safetensors", _bytes(lambda m, e: _with_header(
        {"w": {"dtype": "F32", "shape": [10**9, 10**9], "data_offsets": [0, 8]}})),
         "does not match the bytes its header gives it"),
    Case("negative-shape.safetensors", _bytes(lambda m, e: _with_header(
        {"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})),
         "has no valid shape"),
    Case("no-metadata.safetensors", _bytes(lambda m, e: save_safetensors({"w": torch.ones(2)})),
         "without GAN Studio metadata"),
    # hostile metadata
    Case("meta-list.safetensors", _bytes(lambda m, e: _native("[1, 2]")),
         "a JSON object was expected, not a list"),
    Case("meta-string.safetensors", _bytes(lambda m, e: _native('"model"')),
         "a JSON object was expected, not a string"),
    Case("meta-null.safetensors", _bytes(lambda m, e: _native("null")),
         "a JSON object was expected, not null"),
    Case("meta-deep.safetensors", _bytes(lambda m, e: _native(_deep(100_000))),
         "nested too deeply"),
    Case("meta-nested.safetensors", _bytes(lambda m, e: _native(_deep(200))),
         "nested more than 64 levels deep"),
    Case("meta-not-utf8.safetensors", _bytes(lambda m, e: _with_header(
        {"__metadata__": {"ganstudio": "\udcff"},
         "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})), "is not UTF-8 text"),
    Case("missing-model.safetensors", _bytes(lambda m, e: _native(json.dumps(
        {"format": "ganstudio.generator", "format_version": 1}))), "model is missing"),
    Case("step-text.safetensors", _bytes(lambda m, e: _native(step="ten")), "step is 'ten'"),
    Case("step-negative.safetensors", _bytes(lambda m, e: _native(step=-1)), "step is -1"),
    Case("dataset-list.safetensors", _bytes(lambda m, e: _native(dataset=[1])),
         "dataset is missing or not an object"),
    Case("config-text.safetensors", _bytes(lambda m, e: _native(config="all")),
         "config is not an object"),
    Case("config-types.safetensors", _bytes(lambda m, e: _native(
        config__train={"batch_size": "64"})), "train.batch_size must be a whole number"),
    Case("z-dim-1e9.safetensors", _bytes(lambda m, e: _native(model__z_dim=10**9)),
         "model.z_dim: must be a whole number from 1 to 4096, not 1000000000"),
    Case("depth-1e6.safetensors", _bytes(lambda m, e: _native(model__depth=10**6)),
         "model.depth: must be a whole number from 1 to 32"),
    Case("params-2e9.safetensors", _bytes(lambda m, e: _native(model__hidden=8192,
                                                                model__depth=32)),
         "parameters, more than the 268,435,456 GAN Studio builds"),
    Case("conditional-no.safetensors", _bytes(lambda m, e: _native(model__conditional="no")),
         "model.conditional must be true or false, not 'no'"),
    Case("negative-image.safetensors", _bytes(lambda m, e: _native(
        dataset__kind="images", dataset__shape=[3, -32, 32])), "dataset.shape is [3, -32, 32]"),
    Case("huge-image.safetensors", _bytes(lambda m, e: _native(
        dataset__kind="images", dataset__shape=[3, 10**6, 10**6])), "dataset.shape"),
    Case("unknown-family.safetensors", _bytes(lambda m, e: _native(model__family="stylegan9")),
         "model.family: unknown model 'stylegan9'"),
    Case("range-text.safetensors", _bytes(lambda m, e: _native(output_range="wide")),
         "output_range is 'wide'"),
    Case("version-float.safetensors", _bytes(lambda m, e: _native(format_version=1.0)),
         "invalid checkpoint format_version 1.0"),
    Case("version-new.safetensors", _bytes(lambda m, e: _native(format_version=2)),
         "newer than this GAN Studio reads"),
    Case("wrong-tensors.safetensors", _bytes(lambda m, e: _native(model__hidden=9)),
         "does not match the network its metadata describes"),
    # truncated files, at several lengths
    *[Case(f"cut-{at}.safetensors", _bytes(_cut(lambda e: _native(), at=at)), says)
      for at, says in ((1, "only 1 byte long"), (8, "only 8 bytes long"),
                       (9, "its header claims"), (200, "its header claims"))],
    *[Case(f"cut-{fraction}.safetensors", _bytes(_cut(lambda e: _native(), fraction)),
           "damaged or truncated") for fraction in (0.5, 0.99)],
    *[Case(f"cut-{fraction}.pth", _bytes(_cut(_native_state_dict, fraction)),
           "damaged or truncated") for fraction in (0.3, 0.9)],
    Case("cut-legacy.pth", _bytes(_cut(lambda e: _torch_bytes(
        {"main.0.weight": torch.zeros(4, 8, 4, 4)}, legacy=True), 0.5)), "damaged or truncated"),
    *[Case(f"cut-{fraction}.pt2", _bytes(_cut(lambda e: e, fraction)), "damaged or truncated")
      for fraction in (0.2, 0.7, 0.999)],
    # what the disk itself can hold
    Case("folder.safetensors", _folder, "is a folder, but not a GAN Studio run folder"),
    Case("empty.pt2", _bytes(lambda m, e: b""), "is an empty file"),
    Case("loop.safetensors", _link_loop, "a link loop"),
    Case("fifo.pt2", _fifo, "is a FIFO (named pipe)"),
    Case("zero.pt2", _link_to_dev_zero, "is a character device"),
    Case(os.fsdecode(b"bad-\xff\xfe-name.pt2"), _bytes(lambda m, e: b"\x89PNG\r\n\x1a\n" * 4),
         "is a PNG image"),
]


def _make(case: Case, tmp_path: Path, exported: bytes) -> tuple[Path, Path]:
    if "fifo" in case.name and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    if "zero" in case.name and not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    path, marker = tmp_path / case.name, tmp_path / "code-ran"
    try:
        case.build(path, marker, exported)
    except (OSError, UnicodeEncodeError) as e:  # a file system that refuses such a name
        pytest.skip(f"cannot make {case.name!r} here ({e})")
    return path, marker


def _refused_in_one_line(code: int, out: str, err: str, path: Path, says: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in out + err
    assert printable(path.name) in err
    assert says in err


@pytest.mark.parametrize("case", CASES, ids=[printable(c.name) for c in CASES])
def test_info_refuses_in_one_line(case, tmp_path, exported, capsys):
    path, marker = _make(case, tmp_path, exported)
    code = main(["info", str(path)])
    _refused_in_one_line(code, *capsys.readouterr(), path, case.says)
    assert not marker.exists()


@pytest.mark.parametrize("case", CASES, ids=[printable(c.name) for c in CASES])
def test_sample_refuses_in_one_line(case, tmp_path, exported, capsys):
    path, marker = _make(case, tmp_path, exported)
    out = tmp_path / "samples.png"
    code = main(["sample", str(path), "--out", str(out)])
    _refused_in_one_line(code, *capsys.readouterr(), path, case.says)
    assert not out.exists() and not marker.exists()


@pytest.fixture(scope="module")
def hostile_window(qapp, tmp_path_factory):
    """One main window, offscreen, for every file of the corpus."""
    from PySide6.QtCore import QSettings

    from ganstudio.app import theme
    from ganstudio.app.main_window import MainWindow
    from ganstudio.app.settings import AppSettings

    folder = tmp_path_factory.mktemp("window")
    settings = AppSettings(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
    settings.set_runs_dir(folder / "runs")
    theme.configure_pyqtgraph()
    window = MainWindow(settings)
    window.show()
    yield window
    window.close()
    window.deleteLater()


def _error_boxes():
    from PySide6.QtWidgets import QApplication, QMessageBox

    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.objectName() == "errorDialog" and w.isVisible()]


@pytest.mark.parametrize("case", CASES, ids=[printable(c.name) for c in CASES])
def test_the_window_says_what_is_wrong(case, tmp_path, exported, hostile_window, qtbot):
    path, marker = _make(case, tmp_path, exported)
    hostile_window.open_path(path)
    qtbot.waitUntil(lambda: bool(_error_boxes()), timeout=60_000)
    box = _error_boxes()[0]
    text = box.text()
    box.close()
    assert printable(path.name) in text
    assert hostile_window.explorer_controller.session is None and hostile_window.isVisible()
    assert not marker.exists()


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.skipif(os.name != "posix", reason="FIFOs, /dev/zero and RLIMIT_AS are POSIX")
@pytest.mark.parametrize(("name", "command"), [
    ("fifo.pt2", "info"), ("zero.pt2", "sample"), ("poisoned-inputs.pt2", "info"),
    ("declared-3gib.pt2", "sample"), ("z-dim-1e9.safetensors", "sample"),
])
def test_a_real_process_exits_2_without_a_traceback(name, command, tmp_path, exported):
    """In a subprocess, under a 3 GB address-space limit and a time limit: no hang, no memory
    blow-up, no traceback, exit code 2."""
    case = next(c for c in CASES if c.name == name)
    path, marker = _make(case, tmp_path, exported)
    done = subprocess.run(
        [sys.executable, "-m", "ganstudio", command, str(path)], capture_output=True,
        text=True, timeout=300, preexec_fn=_limit_memory, cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert case.says in done.stderr
    assert not marker.exists()


@pytest.mark.skipif(os.name != "posix", reason="the payload runs touch")
def test_torch_itself_runs_the_payloads_this_corpus_holds(tmp_path, exported):
    """The poisoned archives are real: torch.export.load, unguarded, runs each payload (a
    harmless os.system("touch marker")). GAN Studio refuses the same files without running
    it."""
    for kind, edit in (
        ("weight", lambda m: _poison_payload("weights", RunsShell(m))),
        ("constant", lambda m: _poison_payload("constants", RunsShell(m))),
        ("inputs", lambda m: lambda f, p: f.__setitem__(f"{p}data/sample_inputs/model.pt",
                                                        _torch_bytes(RunsShell(m)))),
    ):
        marker = tmp_path / f"ran-{kind}"
        path = tmp_path / f"{kind}.pt2"
        path.write_bytes(_edit_archive(exported, edit(marker)))
        with pytest.raises(CheckpointError, match="pickled"):
            load_generator(path)
        assert not marker.exists()
        with contextlib.suppress(Exception):  # some fail after running it, some load
            torch.export.load(path)
        assert marker.exists(), kind


# --- configs, training states and run folders ----------------------------------------------


def _assert_one_line(code: int, out: str, err: str, *names: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in out + err
    for name in names:
        assert name in err, err


CONFIGS = [
    ("batch-text.json", b'{"train": {"batch_size": "64"}}',
     "train.batch_size must be a whole number, not '64'"),
    ("not-utf8.json", b'\xff\xfe{"train": {}}', "is not UTF-8 text"),
    ("deep.json", ("[" * 100_000 + "]" * 100_000).encode(), "nested too deeply"),
    ("nested.json", ('{"data": ' + "[" * 100 + "]" * 100 + "}").encode(),
     "nested more than 64 levels deep"),
    ("seed-2-64.json", b'{"train": {"seed": 18446744073709551616}}',
     "train.seed: must be a whole number from 0 to 4294967295"),
    ("conditional-no.json", b'{"model": {"conditional": "no"}}',
     "model.conditional must be true or false, not 'no'"),
    ("ema-false.json", b'{"train": {"ema": "false"}}',
     "train.ema must be true or false, not 'false'"),
    ("version-float.json", b'{"format_version": 1.0}', "format_version 1.0 is invalid"),
    ("list.json", b"[1, 2, 3]", "must be a JSON object, not list"),
    ("depth.json", b'{"model": {"depth": 1000000}}', "model.depth: must be a whole number"),
    ("data-path.json", b'{"data": {"name": "ring8", "path": "x.npy"}}',
     "only the points dataset reads a file"),
]


@pytest.mark.parametrize(("name", "content", "says"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_a_config_file_is_checked_against_its_schema(name, content, says, tmp_path, capsys):
    path = tmp_path / name
    path.write_bytes(content)
    run_dir = tmp_path / "run"
    code = main(["train", "--config", str(path), "--out", str(run_dir), "--quiet"])
    _assert_one_line(code, *capsys.readouterr(), name, says)
    assert not (run_dir / "config.json").exists()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A tiny finished run: copy it before changing anything in it."""
    from ganstudio.engine.config import defaults_for
    from ganstudio.engine.trainer import Trainer

    cfg = defaults_for("ring8")
    cfg.model.hidden, cfg.model.depth = 16, 2
    cfg.train.steps, cfg.train.batch_size, cfg.train.device = 6, 32, "cpu"
    cfg.train.sample_every, cfg.train.eval_every, cfg.train.checkpoint_every = 3, 0, 3
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    list(Trainer(cfg, run_dir=run_dir).run())
    return run_dir


@pytest.fixture
def run_copy(finished_run, tmp_path):
    import shutil

    return Path(shutil.copytree(finished_run, tmp_path / "run"))


def _edit_state(path: Path, edit: Callable[[dict, dict], None]) -> None:
    """Rewrite a training state with ``edit(tensors, metadata)`` applied."""
    from ganstudio.engine.checkpoint import read_safetensors

    tensors, meta = read_safetensors(path)
    edit(tensors, meta)
    path.write_bytes(save_safetensors(tensors, metadata={"ganstudio": json.dumps(meta)}))


def _skeleton_step(value):
    def edit(tensors, meta):
        meta["skeleton"]["dict"] = [[k, value if k == "step" else v]
                                    for k, v in meta["skeleton"]["dict"]]
    return edit


def _tensor(name: str, value: torch.Tensor):
    def edit(tensors, meta):
        tensors[name] = value
    return edit


def _state_config(section: str, key: str, value):
    def edit(tensors, meta):
        for entry in meta["skeleton"]["dict"]:
            if entry[0] == "config":
                config = entry[1]["dict"]
                sec = next(v for k, v in config if k == section)
                sec["dict"] = [[k, value if k == key else v] for k, v in sec["dict"]]
    return edit


def _exp_avg_shape(tensors, meta):
    name = next(k for k in tensors if k.startswith("state.optim_g.state.0.exp_avg"))
    tensors[name] = torch.zeros(7, 3)


STATES = [
    ("negative step", _skeleton_step(-4), "step is -4, not a whole number"),
    ("text step", _skeleton_step("six"), "step is 'six', not a whole number"),
    ("rng of the wrong size", _tensor("state.rng_torch", torch.zeros(10, dtype=torch.uint8)),
     "rng_torch has 10 bytes"),
    ("rng of the wrong type", _tensor("state.rng_run", torch.zeros(5056)),
     "rng_run is not a random-number generator state"),
    ("run rng of the wrong size", _tensor("state.rng_run", torch.zeros(16, dtype=torch.uint8)),
     "rng_run has 16 bytes, not 5056"),
    ("optimiser moment of the wrong shape", _exp_avg_shape, "has shape (7, 3)"),
    ("batch size 1e9", _state_config("train", "batch_size", 10**9), "train.batch_size"),
]


@pytest.mark.parametrize(("what", "edit", "says"), STATES, ids=[s[0] for s in STATES])
def test_a_damaged_training_state_is_refused_before_the_run_restarts(what, edit, says, run_copy,
                                                                     capsys):
    state = run_copy / "checkpoints" / "step_0000006.train.safetensors"
    _edit_state(state, edit)
    metrics_before = (run_copy / "metrics.jsonl").read_bytes()
    code = main(["train", "--resume", str(run_copy), "--steps", "9", "--quiet"])
    _assert_one_line(code, *capsys.readouterr(), state.name, says)
    assert json.loads((run_copy / "run.json").read_text())["status"] == "finished"
    assert (run_copy / "metrics.jsonl").read_bytes() == metrics_before


def _write(relative: str, content: bytes) -> Callable[[Path], None]:
    def damage(run_dir: Path) -> None:
        (run_dir / relative).write_bytes(content)
    return damage


def _replace_with_folder(relative: str) -> Callable[[Path], None]:
    def damage(run_dir: Path) -> None:
        (run_dir / relative).unlink()
        (run_dir / relative).mkdir()
    return damage


def _run_meta(**changes) -> Callable[[Path], None]:
    def damage(run_dir: Path) -> None:
        meta = json.loads((run_dir / "run.json").read_text())
        meta.update(changes)
        (run_dir / "run.json").write_text(json.dumps(meta))
    return damage


def _latest(name: str) -> Callable[[Path], None]:
    def damage(run_dir: Path) -> None:
        pointer = run_dir / "checkpoints" / "latest.json"
        latest = json.loads(pointer.read_text())
        latest["generator"] = name
        pointer.write_text(json.dumps(latest))
    return damage


def _link_checkpoint_elsewhere(run_dir: Path) -> None:
    other = run_dir.parent / "other.safetensors"
    checkpoint = run_dir / "checkpoints" / "step_0000006.safetensors"
    other.write_bytes(checkpoint.read_bytes())
    checkpoint.unlink()
    checkpoint.symlink_to(other)


RUN_FILES = [
    ("run.json binary", _write("run.json", b"\x00\xff\xfe"), "run.json is not UTF-8 text"),
    ("run.json a list", _write("run.json", b"[1]"), "run.json is damaged"),
    ("run.json pid 2**70", _run_meta(pid=2**70), "pid is 1180591620717411303424"),
    ("run.json status", _run_meta(status=["running"]), "status is ['running']"),
    ("config.json binary", _write("config.json", b"\x89PNG\r\n\x1a\n\x00"),
     "config.json is not UTF-8 text"),
    ("config.json a list", _write("config.json", b"[]"), "must be a JSON object"),
    ("config.json negative seed", _write("config.json", b'{"train": {"seed": -1}}'), "train.seed"),
    ("metrics.jsonl a folder", _replace_with_folder("metrics.jsonl"),
     "metrics.jsonl is a folder"),
    ("real.npz corrupt", _write("samples/real.npz", b"PK\x03\x04 half a zip"),
     "real.npz is damaged or not a .npz file"),
    ("real.npz with objects", None, "holds object values, not numbers"),
    ("latest.json binary", _write("checkpoints/latest.json", b"\xff\x00"),
     "latest.json is not UTF-8 text"),
    ("latest.json a list", _write("checkpoints/latest.json", b"[]"),
     "latest.json is damaged (it names no generator)"),
    ("latest.json to /etc/passwd", _latest("/etc/passwd"), "names '/etc/passwd'"),
    ("latest.json to another run", _latest("../../other/checkpoints/step_0000006.safetensors"),
     "a run folder's checkpoints must be its own"),
    ("checkpoint linked out of the run", _link_checkpoint_elsewhere,
     "a run folder's checkpoints must be its own"),
]


@pytest.mark.parametrize(("what", "damage", "says"), RUN_FILES, ids=[r[0] for r in RUN_FILES])
def test_a_damaged_run_folder_is_said_in_one_line(what, damage, says, run_copy, capsys):
    if what == "real.npz with objects":
        import numpy as np

        with zipfile.ZipFile(run_copy / "samples" / "real.npz", "w") as archive:
            buffer = io.BytesIO()
            np.save(buffer, np.array([1, "x"], dtype=object), allow_pickle=True)
            archive.writestr("points.npy", buffer.getvalue())
    else:
        damage(run_copy)
    code = main(["info", str(run_copy)])
    _assert_one_line(code, *capsys.readouterr(), says)
    if what.startswith(("latest", "checkpoint")):
        code = main(["sample", str(run_copy), "--out", str(run_copy / "s.png")])
        _assert_one_line(code, *capsys.readouterr(), says)
        config_before = (run_copy / "config.json").read_bytes()
        code = main(["train", "--resume", str(run_copy), "--steps", "9", "--quiet"])
        _assert_one_line(code, *capsys.readouterr(), says)
        assert (run_copy / "config.json").read_bytes() == config_before


def test_the_window_says_what_is_wrong_with_a_run_folder(run_copy, hostile_window, qtbot):
    _run_meta(pid=2**70)(run_copy)
    hostile_window.open_path(run_copy)
    qtbot.waitUntil(lambda: bool(_error_boxes()), timeout=30_000)
    box = _error_boxes()[0]
    text = box.text()
    box.close()
    assert "run.json is damaged: pid is 1180591620717411303424" in text


def test_damaged_records_are_skipped_and_the_rest_read(run_copy, capsys):
    good = [json.loads(line) for line in (run_copy / "metrics.jsonl").read_text().splitlines()]
    with open(run_copy / "metrics.jsonl", "ab") as f:
        f.write(b'[1, 2]\n"text"\n\xff\xfe{"type": "step"}\n{"type": "step"}\n'
                b'{"type": "step", "step": 7, "loss_g": "high"}\n'
                b'{"type": "step", "step": 2.5}\n{"type": "step", "step": 8, "loss_g": 1.0}\n')
    code = main(["info", str(run_copy), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["step"] == 8
    from ganstudio.engine.runs import RunFolder

    records = RunFolder(run_copy).metrics()
    assert records[: len(good)] == good and records[-1]["step"] == 8
    assert len(records) == len(good) + 1


def test_a_points_file_is_checked_before_it_is_read(tmp_path, capsys):
    import numpy as np

    huge = tmp_path / "huge.npy"
    header = np.lib.format.header_data_from_array_1_0(np.zeros((2, 2)))
    header["shape"] = (10**12, 2)
    with open(huge, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\0" * 64)
    code = main(["train", "--dataset", str(huge), "--steps", "1", "--quiet"])
    _assert_one_line(code, *capsys.readouterr(), "huge.npy declares 2,000,000,000,000 values")

    objects = tmp_path / "objects.npy"
    marker = tmp_path / "code-ran"
    np.save(objects, np.array([OpensMarker(marker)] * 4, dtype=object), allow_pickle=True)
    code = main(["train", "--dataset", str(objects), "--steps", "1", "--quiet"])
    _assert_one_line(code, *capsys.readouterr(), "objects.npy holds object values")
    assert not marker.exists()


def _png_header(width: int, height: int) -> bytes:
    """The start of a PNG that declares ``width`` × ``height`` pixels (no pixels follow)."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_an_image_bomb_is_refused_before_it_is_decoded(tmp_path):
    from ganstudio.engine.errors import ImageError
    from ganstudio.engine.readers import open_image

    for side in (10_000, 100_000):  # above GAN Studio's limit; above Pillow's own
        bomb = tmp_path / f"step_{side}.png"
        bomb.write_bytes(_png_header(side, side))
        with pytest.raises(ImageError, match=r"larger than 64,000,000 pixels"), \
                open_image(bomb):
            pass
    fifo = tmp_path / "step_0000001.png"
    if hasattr(os, "mkfifo"):
        os.mkfifo(fifo)
        with pytest.raises(ImageError, match="is a FIFO"), open_image(fifo):
            pass


def test_the_sample_grid_shows_an_image_bomb_as_a_message(run_copy, qtbot):
    from ganstudio.app.views.sample_grid import SampleGridView

    bomb = run_copy / "samples" / "step_0000006.png"
    bomb.write_bytes(_png_header(100_000, 100_000))
    view = SampleGridView()
    qtbot.addWidget(view)
    view.add_snapshot(6, path=bomb, nrow=4)
    assert view.canvas.image() is None
    assert "larger than 64,000,000 pixels" in view.canvas.message()


# --- NVIDIA StyleGAN pickles ------------------------------------------------------------------


TINY = ("stylegan2", {"z_dim": 4, "c_dim": 0, "w_dim": 4, "img_resolution": 4, "img_channels": 3,
                      "mapping": {"num_layers": 1},
                      "synthesis": {"channel_base": 16, "channel_max": 4}})


def _refused_pkl(path, *fragments: str) -> str:
    """Refused by the loader, and by ``ganstudio info`` in one line with exit code 2."""
    with pytest.raises(CheckpointError) as caught:
        open_stylegan_pickle(path)
    message = str(caught.value)
    assert "\n" not in message
    assert path.name in message
    for fragment in fragments:
        assert fragment in message
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["info", str(path)])
    assert code == 2 and len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
    assert "Traceback" not in err.getvalue()
    return message


def _pickled(tmp_path, obj, protocol=4, names=None, name="hostile.pkl"):
    path = tmp_path / name
    path.write_bytes(dump_snapshot(obj, protocol, names=names))
    return path


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "code-ran"
    yield path
    assert not path.exists(), "code from the file ran"


def _evil_source(marker) -> str:
    return (f"open({str(marker)!r}, 'w').write('ran')\n"
            "import torch\nclass Generator(torch.nn.Module):\n    pass\n")


def test_embedded_source_of_a_real_network_is_never_run(tmp_path, marker):
    path = tmp_path / "g.pkl"
    write_snapshot(path, random_generator(*TINY), "stylegan3", module_src=_evil_source(marker))
    g, _ = open_stylegan_pickle(path)  # the network is fine; its source is simply not read
    assert g(torch.zeros(1, 4)).shape == (1, 3, 4, 4)


def test_embedded_source_of_an_unknown_class_is_refused_unrun(tmp_path, marker):
    meta = persistent_meta("Backdoor", {"_init_kwargs": EasyDict()})
    meta["module_src"] = _evil_source(marker)
    path = _pickled(tmp_path, {"G_ema": Persistent(meta)})
    _refused_pkl(path, "is a Backdoor, not a StyleGAN generator")


@pytest.mark.parametrize("module, name", [("os", "system"), ("posix", "system"),
                                          ("builtins", "eval"), ("subprocess", "Popen")])
@pytest.mark.parametrize("protocol", [3, 4])
def test_a_call_through_reduce_is_refused(tmp_path, marker, module, name, protocol):
    command = f"touch {marker}" if name != "eval" else f"open({str(marker)!r}, 'w')"
    path = _pickled(tmp_path, {"G_ema": Call(module, name, command)}, protocol)
    _refused_pkl(path, f"the Python global {module}.{name}", "GAN Studio opens")


def test_a_call_hidden_inside_a_network_is_refused(tmp_path, marker):
    meta = persistent_meta("Generator", {"z_dim": Call("os", "system", f"touch {marker}")})
    path = _pickled(tmp_path, {"G_ema": Persistent(meta)})
    _refused_pkl(path, "os.system")


def test_a_numpy_array_of_objects_is_refused(tmp_path, marker):
    evil = np.array([1, Call("os", "system", f"touch {marker}")], dtype=object)
    meta = persistent_meta("Generator", {"img_resolution": evil})
    path = _pickled(tmp_path, {"G_ema": Persistent(meta)}, protocol=3)
    _refused_pkl(path, "numpy array or scalar of Python objects (object dtype)")


def test_a_storage_blob_that_is_a_code_running_pickle_is_refused(tmp_path, marker):
    blob = dump_snapshot(Call("os", "system", f"touch {marker}"), 2)
    storage = Call("torch.storage", "_load_from_bytes", blob)
    tensor = Call("torch._utils", "_rebuild_tensor_v2", storage, 0, (4,), (1,), False,
                  OrderedDict())
    meta = persistent_meta("Generator", {"_buffers": {"w": tensor}})
    path = _pickled(tmp_path, {"G_ema": Persistent(meta)})
    _refused_pkl(path, "a tensor storage that names the Python global os.system")


def test_an_unknown_global_is_refused_by_name(tmp_path):
    path = _pickled(tmp_path, {"G_ema": Call("torch.nn.modules.linear", "Linear", 4, 4)})
    _refused_pkl(path, "torch.nn.modules.linear.Linear")


class TFNetwork:
    """Laid out like dnnlib.tflib.network.Network, which pickles its state, not its class."""

    def __getstate__(self):
        return {"version": 4, "name": "G_synthesis", "static_kwargs": {"resolution": 1024},
                "build_module_src": "import os\nos.system('echo ran')\n",
                "build_func_name": "G_main",
                "variables": [("dlatent_avg", np.zeros(512, dtype=np.float32))]}


def test_a_tensorflow_era_pickle_is_refused_with_what_to_do(tmp_path):
    names = {TFNetwork: ("dnnlib.tflib.network", "Network")}
    path = _pickled(tmp_path, (TFNetwork(), TFNetwork(), TFNetwork()), protocol=3, names=names)
    _refused_pkl(path, "TensorFlow-era StyleGAN network (dnnlib.tflib.network.Network)",
                 "legacy.py")


def _storage_reduce(values: torch.Tensor) -> bytes:
    """What torch's own reducer pickles for a storage: a legacy torch.save stream of it."""
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # TypedStorage is deprecated; files hold it
        torch.save(values.storage(), f, _use_new_zipfile_serialization=False)
    return f.getvalue()


def test_a_tensor_larger_than_its_storage_is_refused(tmp_path):
    storage = Call("torch.storage", "_load_from_bytes", _storage_reduce(torch.ones(4)))
    tensor = Call("torch._utils", "_rebuild_tensor_v2", storage, 0, (2**39,), (1,), False,
                  OrderedDict())
    meta = persistent_meta("Generator", {"_buffers": {"w": tensor}})
    path = _pickled(tmp_path, {"G_ema": Persistent(meta)})
    _refused_pkl(path, "a tensor of shape [549755813888] larger than its storage")


def test_a_storage_that_claims_more_elements_than_it_holds_is_refused(tmp_path):
    blob = bytearray(_storage_reduce(torch.ones(4)))
    count_at = len(blob) - 4 * 4 - 8
    assert struct.unpack("<q", blob[count_at:count_at + 8])[0] == 4
    blob[count_at:count_at + 8] = struct.pack("<q", 10**12)
    storage = Call("torch.storage", "_load_from_bytes", bytes(blob))
    meta = persistent_meta("Generator", {"_buffers": {"w": Call(
        "torch._utils", "_rebuild_tensor_v2", storage, 0, (4,), (1,), False, OrderedDict())}})
    path = _pickled(tmp_path, {"G_ema": Persistent(meta)})
    _refused_pkl(path, "tensor storage")


@pytest.mark.parametrize("cut", [2, 100, 1000, -10])
def test_a_truncated_file_is_refused(tmp_path, cut):
    path = tmp_path / "g.pkl"
    write_snapshot(path, random_generator(*TINY), "stylegan2-ada-pytorch")
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    _refused_pkl(path)


def test_files_that_are_not_pickles_are_refused(tmp_path):
    path = tmp_path / "g.pkl"
    path.write_bytes(b"PK\x03\x04 a zip file")
    _refused_pkl(path, "is not a Python pickle")
    _refused_pkl(_pickled(tmp_path, [1, 2, 3], name="list.pkl"), "holds a list, not a snapshot")
    _refused_pkl(_pickled(tmp_path, {"x": 1}, name="dict.pkl"), "holds no network")


def test_a_network_whose_fields_are_rewritten_after_building_is_refused(tmp_path):
    meta = persistent_meta("Generator", {"_init_kwargs": EasyDict()})
    path = _pickled(tmp_path, {"G_ema": Persistent(meta, build={"children": 5})})
    _refused_pkl(path, "fields were rewritten")


@pytest.mark.parametrize("family, change, message", [
    ("stylegan2", {"resample_filter": [1] * 1000}, "short list of numbers"),
    ("stylegan3", {"filter_size": 64, "lrelu_upsampling": 8}, "more than 256 taps"),
    ("stylegan3", {"first_cutoff": 1e300}, "do not fit the stylegan3 network"),
    ("stylegan3", {"first_cutoff": -1.0}, "cannot build"),
])
def test_settings_that_would_build_something_absurd_are_refused(tmp_path, family, change,
                                                                  message):
    config = {**TINY[1], "synthesis": {"channel_base": 16, "channel_max": 4}}
    g = random_generator(family, {**config, "img_resolution": 16} if family == "stylegan3"
                         else config)
    g.config = {**g.config, "synthesis": {**g.config["synthesis"], **change}}
    path = tmp_path / "g.pkl"
    write_snapshot(path, g, "stylegan3")
    _refused_pkl(path, message)


def test_shared_structures_stay_shared_and_shared_modules_are_refused(tmp_path):
    # 60 levels of lists, each holding the level below twice: 2**60 leaves if copied naively
    nested: list = [1.0]
    for _ in range(60):
        nested = [nested, nested]
    meta = persistent_meta("Generator", {"z_dim": nested, "_init_kwargs": EasyDict()})
    _refused_pkl(_pickled(tmp_path, {"G_ema": Persistent(meta)}), "not a StyleGAN generator")
    child = Persistent(persistent_meta("FullyConnectedLayer", {}))
    meta = persistent_meta("Generator", {"_modules": {"a": child, "b": child}})
    _refused_pkl(_pickled(tmp_path, {"G_ema": Persistent(meta)}, name="shared.pkl"),
             "a module used twice, or inside itself")


# --- dataset files ------------------------------------------------------------------------------


def _reasons(report) -> str:
    return " | ".join(s.reason for s in report.first_skipped)


# --- images --------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(30_000, 30_000), (10_000, 10_000)])
def test_decompression_bomb_is_refused_by_name(tmp_path, width, height):
    # 900 MP is over twice Pillow's limit (its own error); 100 MP is between the limit and
    # twice it, where Pillow only warns: both are refused.
    root = image_folder(tmp_path / "set", {"a": 2, "b": 2})
    (root / "a" / "bomb.png").write_bytes(png_claiming(width, height))
    report = inspect_source(root)
    assert report.count == 4 and report.skipped == 1
    assert "set/a/bomb.png was refused" in _reasons(report)
    assert "decompression bomb" in _reasons(report)
    prepared = prepare(root, PrepareOptions(resolution=16), workers=1)
    assert len(prepared) == 4
    assert "bomb.png" in prepared.meta["skipped"]["first"][0]["reason"]


def test_truncated_jpeg_is_reported_by_inspect_and_skipped_by_prepare(tmp_path):
    root = image_folder(tmp_path / "set", {"a": 3, "b": 3}, size=(64, 64), suffix=".jpg")
    whole = (root / "b" / "001.jpg").read_bytes()
    (root / "b" / "001.jpg").write_bytes(whole[: len(whole) * 2 // 3])
    report = inspect_source(root)
    assert report.count == 5 and report.class_counts == (3, 2)
    assert "set/b/001.jpg is cut short" in _reasons(report)
    prepared = prepare(root, PrepareOptions(resolution=16), workers=1)
    assert len(prepared) == 5 and prepared.meta["class_counts"] == [3, 2]
    assert list(prepared.labels) == [0, 0, 0, 1, 1]
    assert "001.jpg is damaged or cut short" in prepared.meta["skipped"]["first"][0]["reason"]


def test_files_that_only_pretend_to_be_images_are_skipped(tmp_path):
    root = image_folder(tmp_path / "set", {"a": 2, "b": 2})
    (root / "a" / "fake.png").write_bytes(b"this is not a png at all")
    (root / "b" / "empty.jpg").write_bytes(b"")
    report = inspect_source(root)
    assert report.count == 4 and report.skipped == 2
    assert "fake.png is not an image file Pillow can read" in _reasons(report)


# --- archives ------------------------------------------------------------------------------


def test_zip_members_that_escape_the_folder_are_refused(tmp_path):
    out = tmp_path / "evil.zip"
    png = write_image(tmp_path / "ok.png").read_bytes()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("set/a.png", png)
        z.writestr("set/b.png", png)
        z.writestr("../escaped.png", png)
        z.writestr("/etc/absolute.png", png)
        z.writestr("set/../../up.png", png)
    report = inspect_source(out)
    assert report.count == 2 and report.skipped == 3
    reasons = _reasons(report)
    assert "evil.zip/../escaped.png was refused: a path that climbs out" in reasons
    assert "evil.zip//etc/absolute.png was refused: an absolute path" in reasons
    assert not (tmp_path.parent / "escaped.png").exists()


def test_tar_members_that_escape_or_link_are_left_out(tmp_path):
    write_image(tmp_path / "ok.png")
    out = tmp_path / "evil.tar"
    with tarfile.open(out, "w") as tar:
        tar.add(tmp_path / "ok.png", "set/a.png")
        tar.add(tmp_path / "ok.png", "../escaped.png")
        link = tarfile.TarInfo("set/link.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    report = inspect_source(out)
    assert report.count == 1 and report.skipped == 1
    assert "escaped.png was refused" in _reasons(report)


def test_zip_member_claiming_a_huge_size_is_not_read(tmp_path, monkeypatch):
    from ganstudio.engine.data import archive

    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 1000)
    write_image(tmp_path / "ok.png", size=(64, 64))
    out = tmp_path / "big.zip"
    with zipfile.ZipFile(out, "w") as z:
        z.write(tmp_path / "ok.png", "big.png")
    with pytest.raises(DatasetError, match=r"big\.zip/big\.png was refused: .* bytes is more"):
        inspect_source(out)


# --- IDX -----------------------------------------------------------------------------------


def _idx_header(n: int) -> bytes:
    return bytes([0, 0, 8, 3]) + struct.pack(">3I", n, 28, 28)


def test_raw_idx_whose_header_lies_is_refused_before_any_allocation(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    # Claims 4 billion images (3 TB) in a file of 784 bytes of pixels.
    path.write_bytes(_idx_header(4_000_000_000) + bytes(784))
    tracemalloc.start()
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte is damaged: its header "
                                           r"promises 4,000,000,000 × 28 × 28"):
        open_source(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 10 << 20


def test_gzipped_idx_whose_header_lies_is_read_only_as_far_as_it_goes(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_header(1_000_000) + bytes(784 * 10)))
    tracemalloc.start()
    with pytest.raises(DatasetError, match=r"holds only 7,840"):
        open_source(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50 << 20  # not the 784 MB the header asks for


def test_idx_cut_short_inside_its_header(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + b"\0\0")
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte"):
        open_source(path)


# --- CIFAR ---------------------------------------------------------------------------------


def test_cifar_binary_batch_cut_short(tmp_path):
    rows, labels = cifar_rows(4)
    data = cifar_binary(rows, labels)
    (tmp_path / "data_batch_1.bin").write_bytes(data[:-1000])
    with pytest.raises(DatasetError, match=r"data_batch_1\.bin is cut short: 11,292 bytes is not "
                                           r"a whole number of 3,073-byte CIFAR records"):
        open_source(tmp_path)
    with pytest.raises(DatasetError, match=r"data_batch_1\.bin is cut short"):
        open_source(tmp_path / "data_batch_1.bin")


def test_cifar_python_batch_cut_short(tmp_path):
    data = cifar_python_batch(*cifar_rows(4))
    (tmp_path / "data_batch_1").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"data_batch_1 is cut short"):
        open_source(tmp_path)


class _RunsCode:
    """Pickles as a call of ``function(*args)``: what a hostile file does."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _hostile_pickles(marker) -> dict[str, bytes]:
    import builtins
    import os
    import subprocess

    touch = f"open({str(marker)!r}, 'w').write('ran')"
    return {
        "os.system": pickle.dumps(_RunsCode(os.system, f"touch {marker}"), protocol=2),
        "builtins.exec": pickle.dumps(_RunsCode(builtins.exec, touch), protocol=2),
        "builtins.eval": pickle.dumps({"data": _RunsCode(builtins.eval, touch)}, protocol=4),
        "subprocess.Popen": pickle.dumps(_RunsCode(subprocess.Popen, ["touch", str(marker)])),
    }


@pytest.mark.parametrize("attack", ["os.system", "builtins.exec", "builtins.eval",
                                    "subprocess.Popen"])
def test_hostile_cifar_python_batch_runs_no_code(tmp_path, attack):
    marker = tmp_path / "pwned"
    (tmp_path / "data_batch_1").write_bytes(_hostile_pickles(marker)[attack])
    with pytest.raises(DatasetError, match=r"data_batch_1 was refused: it asks for .* which "
                                           r"could run code"):
        open_source(tmp_path)
    assert not marker.exists()


def test_hostile_global_hidden_in_a_real_looking_batch_runs_no_code(tmp_path):
    # A genuine batch whose dtype reconstruction is swapped for os.system.
    marker = tmp_path / "pwned"
    data = cifar_python_batch(*cifar_rows(2))
    evil = data.replace(b"cnumpy\ndtype\n", b"cos\nsystem\n", 1)
    evil = evil.replace(b"T\x02\x00\x00\x00u1", b"T" + struct.pack("<I", len(f"touch {marker}"))
                        + f"touch {marker}".encode(), 1)
    (tmp_path / "data_batch_1").write_bytes(evil)
    with pytest.raises(DatasetError, match=r"data_batch_1 was refused: it asks for os\.system"):
        open_source(tmp_path)
    assert not marker.exists()


def test_hostile_batch_inside_a_tarball_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(_hostile_pickles(marker)["os.system"])
    tarball = tar_folder(folder, tmp_path / "cifar-10-python.tar.gz")
    with pytest.raises(DatasetError, match=r"cifar-10-python\.tar\.gz/data_batch_1 was refused"):
        open_source(tarball)
    assert not marker.exists()


def test_cifar_array_of_objects_is_refused(tmp_path):
    data = cifar_python_batch(*cifar_rows(2)).replace(b"T\x02\x00\x00\x00u1",
                                                      b"T\x02\x00\x00\x00O8", 1)
    (tmp_path / "data_batch_1").write_bytes(data)
    with pytest.raises(DatasetError, match=r"data_batch_1 holds an array of type 'O8'"):
        open_source(tmp_path)


# --- arrays --------------------------------------------------------------------------------


def test_npy_of_pickled_objects_is_refused_and_runs_no_code(tmp_path):
    import os

    marker = tmp_path / "pwned"
    array = np.empty((2, 4, 4), dtype=object)
    array[0, 0, 0] = _RunsCode(os.system, f"touch {marker}")
    np.save(tmp_path / "evil.npy", array, allow_pickle=True)
    with pytest.raises(DatasetError, match=r"evil\.npy was refused"):
        open_source(tmp_path / "evil.npy")
    np.savez(tmp_path / "evil.npz", images=array)
    with pytest.raises(DatasetError, match=r"evil\.npz was refused"):
        open_source(tmp_path / "evil.npz")
    assert not marker.exists()
