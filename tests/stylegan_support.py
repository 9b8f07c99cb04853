"""Test support for StyleGAN files: a writer of network pickles laid out as NVIDIA's code writes
them, random networks of any configuration, and a plain, slow reference implementation.

The writer reproduces the persistence structure of the fixtures: each network is pickled as a
call ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with the module's ``__dict__``
in ``meta["state"]``; tensors and parameters through torch's own reducers (``_rebuild_tensor_v2``,
``_rebuild_parameter``, ``_load_from_bytes``); numpy scalars and arrays through numpy's; the
training kwargs as a ``dnnlib.util.EasyDict``. Protocol 3 and nested ``synthesis_kwargs`` for the
stylegan2-ada-pytorch codebase, protocol 4 and flat kwargs for stylegan3.

The reference works on the file's tensors by name and does everything the obvious way: one
sample at a time, weights modulated and demodulated explicitly, upsampling by inserting zeros
then filtering with the full 2-D filter, downsampling by dropping samples.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ganstudio.engine.nets.stylegan import build_stylegan

MODULE_SOURCE = "# module source omitted by GAN Studio's test writer\n"
FILE_CLASS_NAMES = {
    "StyleGANGenerator": "Generator", "MappingNetwork": "MappingNetwork",
    "EqualizedLinear": "FullyConnectedLayer", "SynthesisNetwork": "SynthesisNetwork",
    "SynthesisBlock": "SynthesisBlock", "StyleConv": "SynthesisLayer", "ToRGB": "ToRGBLayer",
    "ResidualUpsample": "Conv2dLayer", "FourierInput": "SynthesisInput",
    "AliasFreeLayer": "SynthesisLayer",
}
_NUMPY_SCALAR = np.float64(0).__reduce__()[0]
_NUMPY_RECONSTRUCT = np.zeros(1).__reduce__()[0]


def shared_fixtures(kind: str) -> Path:
    """``shared/fixtures/<kind>`` beside the checkout (or under ``$GANSTUDIO_FIXTURES``)."""
    override = os.environ.get("GANSTUDIO_FIXTURES")
    if override:
        return Path(override) / kind
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "fixtures" / kind).is_dir():
            return parent / "shared" / "fixtures" / kind
    return Path("shared") / "fixtures" / kind  # absent: the tests that need it skip


class EasyDict(dict):
    """Pickled under the name dnnlib.util.EasyDict."""


class Persistent:
    """Pickled as ``torch_utils.persistence._reconstruct_persistent_obj(meta)``; with ``build``,
    followed by a BUILD of that state on the result (which NVIDIA's files never do)."""

    def __init__(self, meta: dict, build: dict | None = None):
        self.meta, self.build = meta, build


class Call:
    """Pickled as a call of the global ``module.name`` with ``args``: for hostile files."""

    def __init__(self, module: str, name: str, *args: Any):
        self.module, self.name, self.args = module, name, args


class _Global:
    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args):  # the pickler insists that a reduce function be callable
        raise AssertionError("the test writer's stand-in was called")


def _reconstruct_persistent_obj(meta):  # only ever pickled by name, never called
    raise AssertionError("the test writer's stand-in was called")


class SnapshotPickler(pickle._Pickler):
    """The pure-Python pickler, writing some objects under the global names NVIDIA's files use."""

    def __init__(self, file, protocol: int, numpy_module: str = "numpy.core.multiarray",
                 names: dict | None = None):
        super().__init__(file, protocol)
        self.renames = {id(obj): name for obj, name in (names or {}).items()}
        self.renames |= {
            id(_reconstruct_persistent_obj): ("torch_utils.persistence",
                                              "_reconstruct_persistent_obj"),
            id(EasyDict): ("dnnlib.util", "EasyDict"),
            id(_NUMPY_SCALAR): (numpy_module, "scalar"),
            id(_NUMPY_RECONSTRUCT): (numpy_module, "_reconstruct"),
        }

    def reducer_override(self, obj):
        if isinstance(obj, Persistent):
            if obj.build is not None:
                return _reconstruct_persistent_obj, (obj.meta,), obj.build
            return _reconstruct_persistent_obj, (obj.meta,)
        if isinstance(obj, Call):
            return _Global(obj.module, obj.name), obj.args
        return NotImplemented

    def save_global(self, obj, name=None):
        if isinstance(obj, _Global):
            module, name = obj.module, obj.name
        elif id(obj) in self.renames:
            module, name = self.renames[id(obj)]
        else:
            return super().save_global(obj, name)
        if self.proto >= 4:
            self.save(module)
            self.save(name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())
        self.memoize(obj)

    # the base class dispatches functions and classes to its own save_global, not to ours
    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, _Global) or id(obj) in self.renames:
            memo = self.memo.get(id(obj))
            if memo is not None:
                return self.write(self.get(memo[0]))
            return self.save_global(obj)
        return super().save(obj, save_persistent_id)


def dump_snapshot(snapshot: Any, protocol: int, numpy_module: str = "numpy.core.multiarray",
                  names: dict | None = None) -> bytes:
    """Pickle ``snapshot``; ``names`` pickles some classes or functions under other names."""
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's TypedStorage deprecation notice
        SnapshotPickler(f, protocol, numpy_module, names).dump(snapshot)
    return f.getvalue()


def persistent_meta(class_name: str, state: dict) -> dict:
    hooks = ("_backward_pre_hooks", "_backward_hooks", "_forward_hooks",
             "_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_forward_pre_hooks",
             "_forward_pre_hooks_with_kwargs", "_state_dict_hooks", "_state_dict_pre_hooks",
             "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks")
    full = {"training": False, "_parameters": {}, "_buffers": {},
            "_non_persistent_buffers_set": set(), "_is_full_backward_hook": None,
            **{h: OrderedDict() for h in hooks}, "_modules": {}}
    full.update(state)
    return {"type": "class", "version": 6, "module_src": MODULE_SOURCE,
            "class_name": class_name, "state": full}


def _as_numpy(value):
    """Some attributes as numpy values, as NVIDIA's code leaves them."""
    if isinstance(value, float):
        return np.float64(value)
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return np.array(value, dtype=np.int64)
    return value


def to_persistent(module: torch.nn.Module, init_kwargs: dict | None = None) -> Persistent:
    """A module of ours as the persistent object NVIDIA's code would have pickled."""
    params = {k: torch.nn.Parameter(v.detach().clone(), requires_grad=False)
              for k, v in module._parameters.items()}
    buffers = {k: None if v is None else v.detach().clone() for k, v in module._buffers.items()}
    children = {k: to_persistent(v) for k, v in module._modules.items()}
    attributes = {k: _as_numpy(v) for k, v in vars(module).items()
                  if not k.startswith("_") and k not in ("training", "config")
                  and isinstance(v, (bool, int, float, str, list))}
    state = {"_parameters": params, "_buffers": buffers, "_modules": children, **attributes,
             "_init_args": (), "_init_kwargs": EasyDict(init_kwargs or {})}
    return Persistent(persistent_meta(FILE_CLASS_NAMES[type(module).__name__], state))


def generator_init_kwargs(family: str, config: dict, codebase: str) -> dict:
    top = {k: config[k] for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")}
    mapping = EasyDict(config.get("mapping", {}))
    synthesis = dict(config.get("synthesis", {}))
    if family == "stylegan2":
        synthesis.setdefault("num_fp16_res", 0)
    else:
        synthesis.setdefault("magnitude_ema_beta", 0.999)
    if codebase == "stylegan2-ada-pytorch":
        return {**top, "mapping_kwargs": mapping, "synthesis_kwargs": EasyDict(synthesis)}
    return {**top, "mapping_kwargs": mapping, **synthesis}


def random_generator(family: str, config: dict, seed: int = 0):
    """A network with random weights, every bias, noise strength and ``w_avg`` made to matter."""
    g = build_stylegan(family, config, seed=seed).eval().requires_grad_(False)
    rng = torch.Generator().manual_seed(seed + 1)
    for name, t in g.state_dict().items():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("bias", "noise_strength"):
            t.add_(0.2 * torch.randn(t.shape, generator=rng))
        elif leaf == "w_avg":
            t.copy_(torch.randn(t.shape, generator=rng))
        elif leaf == "magnitude_ema":
            t.fill_(0.5 + float(torch.rand((), generator=rng)))
        elif name.endswith("input.affine.weight"):  # so that samples turn and move differently
            t.copy_(0.3 * torch.randn(t.shape, generator=rng))
    return g


def write_snapshot(path, generator, codebase: str, numpy_module: str = "numpy.core.multiarray",
                   keys: tuple[str, ...] = ("G", "D", "G_ema", "augment_pipe"),
                   module_src: str = MODULE_SOURCE) -> None:
    """A training snapshot holding ``generator`` as G and G_ema, as NVIDIA's training loop
    pickles one (``D`` and ``augment_pipe`` are small stand-ins)."""
    kwargs = generator_init_kwargs(generator.family, generator.config, codebase)
    g = to_persistent(generator, kwargs)
    g.meta["module_src"] = module_src
    other = Persistent(persistent_meta("Discriminator", {
        "_parameters": {"b4.out.weight": torch.nn.Parameter(torch.ones(1, 4),
                                                             requires_grad=False)}}))
    snapshot = {"training_set_kwargs": EasyDict(class_name="training.dataset.ImageFolderDataset",
                                                path="data.zip", use_labels=False,
                                                resolution=generator.img_resolution)}
    for key in keys:
        snapshot[key] = g if key in ("G", "G_ema") else other
    protocol = 3 if codebase == "stylegan2-ada-pytorch" else 4
    path.write_bytes(dump_snapshot(snapshot, protocol, numpy_module))


# --- the slow reference -------------------------------------------------------------------------


def _linear(state: dict, prefix: str, x: torch.Tensor, lr: float = 1.0,
            activation: str = "linear") -> torch.Tensor:
    w, b = state[prefix + ".weight"], state[prefix + ".bias"]
    y = x @ (w * (lr / math.sqrt(w.shape[1]))).t() + b * lr
    return F.leaky_relu(y, 0.2) * math.sqrt(2) if activation == "lrelu" else y


def reference_mapping(state: dict, config: dict, num_ws: int, z: torch.Tensor,
                      c: torch.Tensor | None, psi: float = 1.0, cutoff: int | None = None):
    def normalise(v):
        return v / torch.sqrt((v * v).mean(dim=1, keepdim=True) + 1e-8)

    x = normalise(z)
    if config["c_dim"]:
        x = torch.cat([x, normalise(_linear(state, "mapping.embed", c))], dim=1)
    for i in range(config["mapping"]["num_layers"]):
        x = _linear(state, f"mapping.fc{i}", x, lr=0.01, activation="lrelu")
    ws = x[:, None, :].repeat(1, num_ws, 1)
    stop = num_ws if cutoff is None else cutoff
    w_avg = state["mapping.w_avg"]
    ws[:, :stop] = w_avg + psi * (ws[:, :stop] - w_avg)
    return ws


def _zero_upsample(x: torch.Tensor, up: int) -> torch.Tensor:
    n, c, h, w = x.shape
    out = torch.zeros(n, c, h * up, w * up, dtype=x.dtype)
    out[:, :, ::up, ::up] = x
    return out


def _fir(x: torch.Tensor, f2d: torch.Tensor, pad: tuple[int, int, int, int],
         gain: float = 1.0) -> torch.Tensor:
    """Pad (negative crops), then convolve every channel with the flipped 2-D filter."""
    x = F.pad(x, pad)
    c = x.shape[1]
    k = (f2d * gain).flip(0, 1)[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, k, groups=c)


def _modulated(weight: torch.Tensor, style: torch.Tensor, demodulate: bool) -> torch.Tensor:
    w = weight * style[None, :, None, None]
    if demodulate:
        w = w / torch.sqrt((w * w).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
    return w


def reference_stylegan2(state: dict, config: dict, ws: torch.Tensor, noise_mode: str = "const"
                        ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The image and every layer's output (by the names ``feature_layers`` uses); block images
    are recorded as ``b{res}``."""
    syn = config["synthesis"]
    arch = syn.get("architecture", "skip")
    clamp = syn.get("conv_clamp")
    res_log2 = int(math.log2(config["img_resolution"]))
    outs: dict[str, list[torch.Tensor]] = {}
    images = []
    for n in range(ws.shape[0]):
        w_index, x, img = 0, None, None
        for r in [2**i for i in range(2, res_log2 + 1)]:
            p = f"synthesis.b{r}"
            f2d = state[p + ".resample_filter"]
            convs = ["conv1"] if r == 4 else ["conv0", "conv1"]
            if r == 4:
                x = state[p + ".const"][None]
            x_in = x
            for j, conv in enumerate(convs):
                q = f"{p}.{conv}"
                style = _linear(state, q + ".affine", ws[n:n + 1, w_index + j])[0]
                weight = _modulated(state[q + ".weight"], style, demodulate=True)
                k = weight.shape[-1]
                if conv == "conv0":  # zero-insert, blur (gain 4), then a true convolution
                    taps = f2d.shape[-1]
                    lo, hi = k // 2 + (taps + 1) // 2, k // 2 + (taps - 2) // 2
                    x = _fir(_zero_upsample(x, 2), f2d, (lo, hi, lo, hi), gain=4)
                    x = F.conv2d(x, weight.flip(2, 3))
                else:
                    x = F.conv2d(x, weight, padding=k // 2)
                if noise_mode == "const" and q + ".noise_const" in state:
                    x = x + state[q + ".noise_const"] * state[q + ".noise_strength"]
                gain = math.sqrt(0.5) if arch == "resnet" and conv == "conv1" and r > 4 else 1
                x = F.leaky_relu(x + state[q + ".bias"][None, :, None, None], 0.2)
                x = x * (math.sqrt(2) * gain)
                if clamp is not None:
                    x = x.clamp(-clamp * gain, clamp * gain)
                outs.setdefault(f"b{r}.{conv}", []).append(x)
            if arch == "resnet" and r > 4:
                skip_w = state[p + ".skip.weight"] / math.sqrt(x_in.shape[1])
                y = F.conv2d(x_in, skip_w * math.sqrt(0.5))
                y = _fir(_zero_upsample(y, 2), state[p + ".skip.resample_filter"], (2, 1, 2, 1),
                         gain=4)
                x = y + x
            w_index += len(convs)
            if img is not None:
                img = _fir(_zero_upsample(img, 2), f2d, (2, 1, 2, 1), gain=4)
            if arch == "skip" or r == config["img_resolution"]:
                q = f"{p}.torgb"
                style = _linear(state, q + ".affine", ws[n:n + 1, w_index])[0]
                style = style / math.sqrt(x.shape[1])
                y = F.conv2d(x, _modulated(state[q + ".weight"], style, demodulate=False))
                y = y + state[q + ".bias"][None, :, None, None]
                if clamp is not None:
                    y = y.clamp(-clamp, clamp)
                outs.setdefault(f"b{r}.torgb", []).append(y)
                img = y if img is None else img + y
                outs.setdefault(f"b{r}", []).append(img)
        images.append(img)
    return torch.cat(images), {k: torch.cat(v) for k, v in outs.items()}


def reference_stylegan3(state: dict, synthesis, ws: torch.Tensor,
                        transform: torch.Tensor | None = None
                        ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The image and every layer's output; the layers' sizes, rates and paddings are read from
    the file's attributes of ``synthesis`` (a PersistentObject)."""
    inp = synthesis.child("input")
    outs: dict[str, list[torch.Tensor]] = {}
    images = []
    user = state["synthesis.input.transform"] if transform is None else transform
    for n in range(ws.shape[0]):
        # Fourier features, pixel by pixel in vectorised form
        t = _linear(state, "synthesis.input.affine", ws[n:n + 1, 0])[0]
        t = t / torch.sqrt(t[0] ** 2 + t[1] ** 2)
        rot = torch.tensor([[t[0], -t[1], 0], [t[1], t[0], 0], [0, 0, 1]])
        shift = torch.tensor([[1, 0, -t[2]], [0, 1, -t[3]], [0, 0, 1]])
        m = rot @ shift @ user
        freqs0, phases0 = state["synthesis.input.freqs"], state["synthesis.input.phases"]
        freqs = freqs0 @ m[:2, :2]
        phases = phases0 + freqs0 @ m[:2, 2]
        rate, band = inp.attributes["sampling_rate"], inp.attributes["bandwidth"]
        amp = (1 - (freqs.norm(dim=1) - band) / (rate / 2 - band)).clamp(0, 1)
        size = inp.attributes["size"][0]
        coords = (torch.arange(size) + 0.5 - size / 2) / rate
        py, px = torch.meshgrid(coords, coords, indexing="ij")
        x = torch.stack([torch.sin(2 * math.pi * (fx * px + fy * py + ph)) * a
                         for (fx, fy), ph, a in zip(freqs.tolist(), phases.tolist(),
                                                    amp.tolist())])
        weight = state["synthesis.input.weight"]
        x = torch.einsum("chw,dc->dhw", x, weight / math.sqrt(weight.shape[0]))[None]
        outs.setdefault("input", []).append(x)
        for i, name in enumerate(synthesis.attributes["layer_names"]):
            a = synthesis.child(name).attributes
            q = f"synthesis.{name}"
            style = _linear(state, q + ".affine", ws[n:n + 1, i + 1])[0]
            weight = state[q + ".weight"]
            k = weight.shape[-1]
            gain = 1 / math.sqrt(state[q + ".magnitude_ema"])
            if a["is_torgb"]:
                wmod = _modulated(weight, style / math.sqrt(weight.shape[1] * k * k), False)
            else:
                wmod = _modulated(weight, style, True)
            x = F.conv2d(x * gain, wmod, padding=k - 1) + state[q + ".bias"][None, :, None, None]
            if not a["is_torgb"]:
                fu, fd = state[q + ".up_filter"], state[q + ".down_filter"]
                fu2 = torch.outer(fu, fu)
                fd2 = fd if fd.ndim == 2 else torch.outer(fd, fd)
                up, down = a["up_factor"], a["down_factor"]
                x = _fir(_zero_upsample(x, up), fu2, tuple(a["padding"]), gain=up * up)
                x = F.leaky_relu(x, 0.2) * math.sqrt(2)
            x = x.clamp(-a["conv_clamp"], a["conv_clamp"])
            if not a["is_torgb"]:
                x = _fir(x, fd2, (0, 0, 0, 0))[:, :, ::down, ::down]
            outs.setdefault(name, []).append(x)
        images.append(x * synthesis.attributes["output_scale"])
    return torch.cat(images), {k: torch.cat(v) for k, v in outs.items()}
