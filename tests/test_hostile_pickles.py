"""Hostile StyleGAN pickles, built by the tests: each is refused with a one-line message (or, for
source code that is merely carried along, opened without running it), and nothing runs."""

from __future__ import annotations

import io
import struct
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch
from stylegan_support import (
    Call,
    EasyDict,
    Persistent,
    dump_snapshot,
    persistent_meta,
    random_generator,
    write_snapshot,
)

from ganstudio.engine.errors import CheckpointError
from ganstudio.engine.formats.stylegan_pickle import open_stylegan_pickle

TINY = ("stylegan2", {"z_dim": 4, "c_dim": 0, "w_dim": 4, "img_resolution": 4, "img_channels": 3,
                      "mapping": {"num_layers": 1},
                      "synthesis": {"channel_base": 16, "channel_max": 4}})


def _refused(path, *fragments: str) -> str:
    with pytest.raises(CheckpointError) as caught:
        open_stylegan_pickle(path)
    message = str(caught.value)
    assert "\n" not in message
    assert path.name in message
    for fragment in fragments:
        assert fragment in message
    return message


def _write(tmp_path, obj, protocol=4, names=None, name="hostile.pkl"):
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
    path = _write(tmp_path, {"G_ema": Persistent(meta)})
    _refused(path, "is a Backdoor, not a StyleGAN generator")


@pytest.mark.parametrize("module, name", [("os", "system"), ("posix", "system"),
                                          ("builtins", "eval"), ("subprocess", "Popen")])
@pytest.mark.parametrize("protocol", [3, 4])
def test_a_call_through_reduce_is_refused(tmp_path, marker, module, name, protocol):
    command = f"touch {marker}" if name != "eval" else f"open({str(marker)!r}, 'w')"
    path = _write(tmp_path, {"G_ema": Call(module, name, command)}, protocol)
    _refused(path, f"the Python global {module}.{name}", "GAN Studio opens")


def test_a_call_hidden_inside_a_network_is_refused(tmp_path, marker):
    meta = persistent_meta("Generator", {"z_dim": Call("os", "system", f"touch {marker}")})
    path = _write(tmp_path, {"G_ema": Persistent(meta)})
    _refused(path, "os.system")


def test_a_numpy_array_of_objects_is_refused(tmp_path, marker):
    evil = np.array([1, Call("os", "system", f"touch {marker}")], dtype=object)
    meta = persistent_meta("Generator", {"img_resolution": evil})
    path = _write(tmp_path, {"G_ema": Persistent(meta)}, protocol=3)
    _refused(path, "numpy array or scalar of Python objects (object dtype)")


def test_a_storage_blob_that_is_a_code_running_pickle_is_refused(tmp_path, marker):
    blob = dump_snapshot(Call("os", "system", f"touch {marker}"), 2)
    storage = Call("torch.storage", "_load_from_bytes", blob)
    tensor = Call("torch._utils", "_rebuild_tensor_v2", storage, 0, (4,), (1,), False,
                  OrderedDict())
    meta = persistent_meta("Generator", {"_buffers": {"w": tensor}})
    path = _write(tmp_path, {"G_ema": Persistent(meta)})
    _refused(path, "a tensor storage that names the Python global os.system")


def test_an_unknown_global_is_refused_by_name(tmp_path):
    path = _write(tmp_path, {"G_ema": Call("torch.nn.modules.linear", "Linear", 4, 4)})
    _refused(path, "torch.nn.modules.linear.Linear")


class TFNetwork:
    """Laid out like dnnlib.tflib.network.Network, which pickles its state, not its class."""

    def __getstate__(self):
        return {"version": 4, "name": "G_synthesis", "static_kwargs": {"resolution": 1024},
                "build_module_src": "import os\nos.system('echo ran')\n",
                "build_func_name": "G_main",
                "variables": [("dlatent_avg", np.zeros(512, dtype=np.float32))]}


def test_a_tensorflow_era_pickle_is_refused_with_what_to_do(tmp_path):
    names = {TFNetwork: ("dnnlib.tflib.network", "Network")}
    path = _write(tmp_path, (TFNetwork(), TFNetwork(), TFNetwork()), protocol=3, names=names)
    _refused(path, "TensorFlow-era StyleGAN network (dnnlib.tflib.network.Network)", "legacy.py")


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
    path = _write(tmp_path, {"G_ema": Persistent(meta)})
    _refused(path, "a tensor of shape [549755813888] larger than its storage")


def test_a_storage_that_claims_more_elements_than_it_holds_is_refused(tmp_path):
    blob = bytearray(_storage_reduce(torch.ones(4)))
    count_at = len(blob) - 4 * 4 - 8
    assert struct.unpack("<q", blob[count_at:count_at + 8])[0] == 4
    blob[count_at:count_at + 8] = struct.pack("<q", 10**12)
    storage = Call("torch.storage", "_load_from_bytes", bytes(blob))
    meta = persistent_meta("Generator", {"_buffers": {"w": Call(
        "torch._utils", "_rebuild_tensor_v2", storage, 0, (4,), (1,), False, OrderedDict())}})
    path = _write(tmp_path, {"G_ema": Persistent(meta)})
    _refused(path, "tensor storage")


@pytest.mark.parametrize("cut", [2, 100, 1000, -10])
def test_a_truncated_file_is_refused(tmp_path, cut):
    path = tmp_path / "g.pkl"
    write_snapshot(path, random_generator(*TINY), "stylegan2-ada-pytorch")
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    _refused(path)


def test_files_that_are_not_pickles_are_refused(tmp_path):
    path = tmp_path / "g.pkl"
    path.write_bytes(b"PK\x03\x04 a zip file")
    _refused(path, "is not a Python pickle")
    _refused(_write(tmp_path, [1, 2, 3], name="list.pkl"), "holds a list, not a snapshot")
    _refused(_write(tmp_path, {"x": 1}, name="dict.pkl"), "holds no network")


def test_a_network_whose_fields_are_rewritten_after_building_is_refused(tmp_path):
    meta = persistent_meta("Generator", {"_init_kwargs": EasyDict()})
    path = _write(tmp_path, {"G_ema": Persistent(meta, build={"children": 5})})
    _refused(path, "fields were rewritten")


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
    _refused(path, message)


def test_shared_structures_stay_shared_and_shared_modules_are_refused(tmp_path):
    # 60 levels of lists, each holding the level below twice: 2**60 leaves if copied naively
    nested: list = [1.0]
    for _ in range(60):
        nested = [nested, nested]
    meta = persistent_meta("Generator", {"z_dim": nested, "_init_kwargs": EasyDict()})
    _refused(_write(tmp_path, {"G_ema": Persistent(meta)}), "not a StyleGAN generator")
    child = Persistent(persistent_meta("FullyConnectedLayer", {}))
    meta = persistent_meta("Generator", {"_modules": {"a": child, "b": child}})
    _refused(_write(tmp_path, {"G_ema": Persistent(meta)}, name="shared.pkl"),
             "a module used twice, or inside itself")
