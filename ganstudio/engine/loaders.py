"""Opening a generator from any supported file, without running code from it.

1. GAN Studio checkpoints (``.safetensors``, or a run folder for its latest);
2. generator state dicts of the PyTorch DCGAN example (``netG.pth``), read with
   ``torch.load(weights_only=True)``: nz, ngf, nc and the image size come from the shapes;
3. generators exported with ``torch.export`` (``.pt2``) that map a latent batch (and
   optionally labels) to images or 2-D points.
"""

from __future__ import annotations

import logging
import re
import zipfile
from pathlib import Path

import torch
from torch import nn

from ganstudio.engine.checkpoint import load_native_generator, safe_torch_load
from ganstudio.engine.errors import CheckpointError
from ganstudio.engine.generator import Generator

SUPPORTED = (
    "GAN Studio checkpoints (.safetensors) and run folders; PyTorch DCGAN-example generator "
    "state dicts (netG.pth, .pt); generators exported with torch.export (.pt2)"
)
PROBE_BATCH = 16


def load_generator(path: str | Path) -> Generator:
    """Open any supported generator file; a CheckpointError says why one cannot be opened."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} does not exist.")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix == ".safetensors":
        return load_native_generator(path)
    if suffix in (".pth", ".pt"):
        return load_dcgan_example(path)
    if suffix == ".pt2":
        return load_exported(path)
    raise CheckpointError(
        f"{path.name} is not a generator file GAN Studio can open. Supported: {SUPPORTED}."
    )


# --- the PyTorch DCGAN example ---------------------------------------------------------------

_CONV_KEY = re.compile(r"main\.(\d+)\.weight$")


def load_dcgan_example(path: Path) -> Generator:
    from ganstudio.engine.nets.dcgan import DCGANGenerator

    obj = safe_torch_load(path)
    state = _find_dcgan_state(obj)
    if state is None:
        raise CheckpointError(
            f"{path.name} holds tensors, but not a generator laid out like the PyTorch DCGAN "
            f"example (main.0.weight … ConvTranspose2d layers). Supported: {SUPPORTED}."
        )
    convs = sorted(
        (int(m.group(1)), t) for k, t in state.items()
        if (m := _CONV_KEY.fullmatch(k)) and t.dim() == 4
    )
    first, last = convs[0][1], convs[-1][1]
    nz, start = first.shape[0], first.shape[2]
    channels = tuple(int(t.shape[1]) for _, t in convs[:-1])
    nc = int(last.shape[1])
    try:
        module = DCGANGenerator(nz, channels, nc, start)
        module.load_state_dict({k: v.float() if v.is_floating_point() else v
                                for k, v in state.items()})
    except (RuntimeError, IndexError) as e:
        raise CheckpointError(
            f"{path.name} looks like a DCGAN generator but its layers do not fit the DCGAN "
            f"example's layout ({str(e).splitlines()[0]})."
        ) from None
    module.eval().requires_grad_(False)
    return Generator(
        module=module, path=path, source="pytorch-dcgan", z_dim=int(nz), kind="images",
        shape=(nc, module.size, module.size), output_range=(-1.0, 1.0),
        meta={"nz": int(nz), "ngf": int(channels[-1]), "nc": nc, "image_size": module.size},
    )


def _find_dcgan_state(obj) -> dict[str, torch.Tensor] | None:
    """The netG state dict inside ``obj``: the dict itself, or one nested under a key."""
    if not isinstance(obj, dict):
        return None
    tensors = {k.removeprefix("module."): v for k, v in obj.items()
               if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if sum(1 for k, v in tensors.items() if _CONV_KEY.fullmatch(k) and v.dim() == 4) >= 2:
        return tensors
    for key in ("netG", "generator", "G", "state_dict", "model"):
        found = _find_dcgan_state(obj.get(key))
        if found is not None:
            return found
    return None


# --- torch.export programs -------------------------------------------------------------------


class ExportedGenerator(nn.Module):
    """Wraps an exported program: reshapes z as it expects and splits a fixed batch size."""

    def __init__(self, program, z_shape: tuple, batch: int | None, labels: bool):
        super().__init__()
        self.program = program.module()
        self.z_tail = tuple(z_shape[1:])  # (z_dim,) or (z_dim, 1, 1)
        self.batch = batch  # None when the program takes any batch size
        self.takes_labels = labels

    def train(self, mode: bool = True) -> ExportedGenerator:
        # exported programs are inference graphs and refuse train()/eval(); nothing to switch
        self.training = mode
        return self

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = z.reshape(z.shape[0], *self.z_tail)
        if self.batch is None:
            return self._call(z, labels)
        outs = []
        for start in range(0, z.shape[0], self.batch):
            chunk = z[start : start + self.batch]
            n = chunk.shape[0]
            pad = self.batch - n
            if pad:
                chunk = torch.cat([chunk, chunk[:1].expand(pad, *chunk.shape[1:])])
            lab = None
            if labels is not None:
                lab = labels[start : start + self.batch]
                if pad:
                    lab = torch.cat([lab, lab[:1].expand(pad)])
            outs.append(self._call(chunk, lab)[:n])
        return torch.cat(outs)

    def _call(self, z, labels):
        if self.takes_labels:
            if labels is None:
                labels = torch.zeros(z.shape[0], dtype=torch.long)
            return self.program(z, labels)
        return self.program(z)


def load_exported(path: Path) -> Generator:
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path.name} is damaged or is not a torch.export program (a .pt2 file is a zip "
            f"archive, and this one is not). Supported: {SUPPORTED}.")
    quiet = logging.getLogger("torch.export")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # it logs a traceback before raising; ours says it better
    try:
        program = torch.export.load(str(path))
    except Exception as e:  # torch.export raises many types for bad files
        raise CheckpointError(
            f"{path.name} is damaged or is not a torch.export program "
            f"({_first_line(e)}). Supported: {SUPPORTED}."
        ) from None
    finally:
        quiet.setLevel(level)
    inputs = _user_inputs(program)
    if not inputs or len(inputs) > 2:
        raise CheckpointError(
            f"{path.name} takes {len(inputs)} inputs; a generator takes a latent batch "
            "(and optionally a batch of class labels)."
        )
    z_val = inputs[0]
    if z_val.dim() not in (2, 4) or not z_val.is_floating_point():
        raise CheckpointError(
            f"{path.name}'s first input has shape {tuple(z_val.shape)}; a latent batch of "
            "shape (batch, z) or (batch, z, 1, 1) was expected."
        )
    z_shape = tuple(_static(d) for d in z_val.shape)
    if z_shape[1] is None:
        raise CheckpointError(f"{path.name} has a dynamic latent size; export it with a fixed z.")
    takes_labels = len(inputs) == 2
    classes = ()
    if takes_labels:
        n_classes = _embedding_classes(program) or 10
        classes = tuple(str(i) for i in range(n_classes))
    module = ExportedGenerator(program, z_shape, z_shape[0], takes_labels).eval()
    z_dim = int(z_shape[1])
    probe_z = torch.randn(PROBE_BATCH, z_dim, generator=torch.Generator().manual_seed(0))
    probe_labels = torch.arange(PROBE_BATCH) % max(1, len(classes)) if takes_labels else None
    try:
        with torch.no_grad():
            out = module(probe_z, probe_labels)
    except Exception as e:  # whatever the program raises, say so plainly
        raise CheckpointError(
            f"{path.name} failed on a probe batch of {PROBE_BATCH} latents ({_first_line(e)})."
        ) from None
    if out.dim() == 4 and out.shape[1] in (1, 3):
        kind, shape, output_range = "images", tuple(out.shape[1:]), _probe_range(out)
    elif out.dim() == 2 and out.shape[1] == 2:
        kind, shape, output_range = "points", (2,), None
    else:
        raise CheckpointError(
            f"{path.name} produces outputs of shape {tuple(out.shape)}; GAN Studio shows "
            "images (batch, 1 or 3, H, W) and 2-D points (batch, 2)."
        )
    return Generator(
        module=module, path=path, source="torch-export", z_dim=z_dim, kind=kind,
        shape=shape, output_range=output_range, classes=classes,
        meta={"batch": z_shape[0], "probe_min": float(out.min()), "probe_max": float(out.max())},
    )


def _user_inputs(program) -> list[torch.Tensor]:
    from torch.export.graph_signature import InputKind

    names = [s.arg.name for s in program.graph_signature.input_specs
             if s.kind == InputKind.USER_INPUT]
    nodes = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    return [nodes[name].meta["val"] for name in names if name in nodes]


def _static(dim) -> int | None:
    return dim if isinstance(dim, int) else None


def _embedding_classes(program) -> int | None:
    """The number of classes of the first embedding table or one-hot the program uses."""
    params = dict(program.state_dict)
    lookup = {s.arg.name: s.target for s in program.graph_signature.input_specs if s.target}
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        if node.target == torch.ops.aten.embedding.default:
            weight = params.get(lookup.get(node.args[0].name, ""))
            if weight is not None:
                return int(weight.shape[0])
        if node.target == torch.ops.aten.one_hot.default and len(node.args) > 1:
            return int(node.args[1])
    return None


def _probe_range(out: torch.Tensor) -> tuple[float, float]:
    lo, hi = float(out.min()), float(out.max())
    if lo < -0.2:
        return (-1.0, 1.0)
    if hi > 1.5:
        return (0.0, 255.0)
    return (0.0, 1.0)


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:160] if lines else type(e).__name__
