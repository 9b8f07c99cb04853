"""Generators exported with ``torch.export`` (``.pt2``) that map a latent batch (and
optionally labels) to images or 2-D points.

``torch.export.load`` runs code from the file in several ways: it unpickles, without
``weights_only``, every weight or constant that a ``*_config.json`` marks ``use_pickle``, custom
objects and "opaque" constants; it reads ``data/sample_inputs/*.pt`` with a fallback to
``weights_only=False``; it loads compiled AOTInductor libraries; it hands the symbolic shapes of
``models/*.json`` to ``sympy.sympify`` (an ``eval``) and ``exec``s its guard code. So the
archive is read into memory once and checked here first, member by member and against an
allow-list of everything the program's JSON may say, and torch then loads those same bytes:
nothing it would run or unpickle unchecked is left in them.
"""

from __future__ import annotations

import ast
import io
import json
import logging
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganstudio.engine.checkpoint import pickle_culprit
from ganstudio.engine.errors import CheckpointError, first_line
from ganstudio.engine.generator import Generator
from ganstudio.engine.readers import (
    check_zip,
    parse_json,
    read_bytes,
    read_member,
    zip_names,
)

NAME = "torch-export"
DESCRIPTION = "generators exported with torch.export (.pt2)"

PROBE_BATCH = 16
MAX_ARCHIVE_BYTES = 4 * 2**30  # read into memory whole, so torch loads the bytes checked here
MAX_JSON_MEMBER = 64 * 2**20
MAX_TENSOR_ELEMENTS = 2**28  # any weight, or any value computed on the probe batch (1 GiB fp32)
MAX_BATCH = 4096  # a program's fixed batch size


def sniff(path: Path, head: bytes) -> bool:
    """A zip archive with a pt2 ``archive_format`` entry (or the older exported-program layout)."""
    if not head.startswith(b"PK\x03\x04"):
        return False
    names = zip_names(path, CheckpointError) or []
    return any(n.rpartition("/")[2] in ("archive_format", "serialized_exported_program.json")
               for n in names)


def load(path: Path) -> Generator:
    data = read_bytes(path, CheckpointError, MAX_ARCHIVE_BYTES)
    check_archive(data, str(path))
    quiet = logging.getLogger("torch.export")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # it logs a traceback before raising; ours says it better
    try:
        program = torch.export.load(io.BytesIO(data))
    except Exception as e:  # torch.export raises many types for bad files
        raise CheckpointError(
            f"{path} is damaged or is not a torch.export program ({first_line(e)})."
        ) from None
    finally:
        quiet.setLevel(level)
    inputs = _user_inputs(program)
    if not inputs or len(inputs) > 2:
        raise CheckpointError(
            f"{path} takes {len(inputs)} inputs; a generator takes a latent batch "
            "(and optionally a batch of class labels)."
        )
    z_val = inputs[0]
    if z_val.dim() not in (2, 4) or not z_val.is_floating_point():
        raise CheckpointError(
            f"{path}'s first input has shape {tuple(z_val.shape)}; a latent batch of "
            "shape (batch, z) or (batch, z, 1, 1) was expected."
        )
    z_shape = tuple(_static(d) for d in z_val.shape)
    if z_shape[1] is None:
        raise CheckpointError(f"{path} has a dynamic latent size; export it with a fixed z.")
    takes_labels = len(inputs) == 2
    classes = ()
    if takes_labels:
        n_classes = _embedding_classes(program) or 10
        classes = tuple(str(i) for i in range(n_classes))
    if z_shape[0] is not None and z_shape[0] > MAX_BATCH:
        raise CheckpointError(f"{path} takes batches of exactly {z_shape[0]:,} latents; GAN "
                              f"Studio runs programs with batches of at most {MAX_BATCH:,}.")
    try:
        module = ExportedGenerator(program, z_shape, z_shape[0], takes_labels).eval()
    except Exception as e:  # unlifting the program into a module
        raise CheckpointError(f"{path} cannot be turned into a module ({first_line(e)}).") from None
    z_dim = int(z_shape[1])
    probe_z = torch.randn(PROBE_BATCH, z_dim, generator=torch.Generator().manual_seed(0))
    probe_labels = torch.arange(PROBE_BATCH) % max(1, len(classes)) if takes_labels else None
    try:
        with torch.no_grad():
            out = module(probe_z, probe_labels)
    except Exception as e:  # whatever the program raises, say so plainly
        raise CheckpointError(
            f"{path} failed on a probe batch of {PROBE_BATCH} latents ({first_line(e)})."
        ) from None
    if out.dim() == 4 and out.shape[1] in (1, 3):
        kind, shape, output_range = "images", tuple(out.shape[1:]), _probe_range(out)
    elif out.dim() == 2 and out.shape[1] == 2:
        kind, shape, output_range = "points", (2,), None
    else:
        raise CheckpointError(
            f"{path} produces outputs of shape {tuple(out.shape)}; GAN Studio shows "
            "images (batch, 1 or 3, H, W) and 2-D points (batch, 2)."
        )
    return Generator(
        module=module, path=path, source="torch-export", z_dim=z_dim, kind=kind,
        shape=shape, output_range=output_range, classes=classes,
        meta={"batch": z_shape[0], "probe_min": float(out.min()), "probe_max": float(out.max())},
    )



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


# --- checking the archive before torch reads it ---------------------------------------------

_FIXED_MEMBERS = {"archive_format", "archive_version", "byteorder", ".data/version",
                  ".data/serialization_id"}
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.]*")
_MODEL = re.compile(r"models/([A-Za-z0-9_]+)\.json")
# Serialized ScalarType → bytes per element, for the tensor types a generator holds.
_ELEMENT_BYTES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 2, 7: 4, 8: 8, 12: 1, 13: 2}
_STRIDED = 7  # the serialized Layout of an ordinary tensor


def check_archive(data: bytes, name: str) -> None:
    """Refuse a ``.pt2`` archive that holds anything torch would unpickle or run unchecked, or
    that would cost more to load than its size suggests; a CheckpointError says what."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise CheckpointError(f"{name} is damaged or truncated ({first_line(e)}).") from None
    members = {info.filename: info for info in check_zip(archive, name, CheckpointError)}
    # Like torch's reader: every entry sits in one top folder, named by the first entry.
    prefix = next(iter(members), "").partition("/")[0] + "/"
    entries = {}
    for full, info in members.items():
        if not full.startswith(prefix):
            raise CheckpointError(f"{name} holds {full!r} outside its archive folder; it is "
                                  "damaged or was built to mislead.")
        entries[full[len(prefix):]] = info
    if "archive_format" not in entries:
        raise CheckpointError(
            f"{name} was written by an older torch.export (before the pt2 archive format), "
            "whose weights are pickled; GAN Studio does not load it. Export it again with "
            "torch.export.save from PyTorch 2.6 or later."
        )

    def read(entry: str, limit: int = MAX_JSON_MEMBER) -> bytes:
        return read_member(archive, entries[entry], name, CheckpointError, limit)

    if read("archive_format", 16).strip() != b"pt2":
        raise CheckpointError(f"{name} is a zip archive, but not a torch.export program.")
    models = []
    for entry in entries:
        if (m := _MODEL.fullmatch(entry)) is not None:
            models.append(m.group(1))
        elif not _allowed_member(entry):
            raise CheckpointError(f"{name} holds {entry!r}, {_member_kind(entry)}; GAN Studio "
                                  "loads only a program's graph, weights and constants.")
    if not models:
        raise CheckpointError(f"{name} holds no exported program (no models/*.json).")
    for model in models:
        for kind in ("weights", "constants"):
            config = f"data/{kind}/{model}_{kind}_config.json"
            if config not in entries:
                raise CheckpointError(
                    f"{name} stores its {kind} in the old pickled layout (no {config}); "
                    "GAN Studio does not unpickle them. Export it again with a recent PyTorch."
                )
            where = f"{name}: {config}"
            payloads = _check_payload_config(parse_json(read(config), where, CheckpointError),
                                             where, kind)
            for path_name, sizes, strides, offset, dtype in payloads:
                member = f"data/{kind}/{path_name}"
                if member not in entries:
                    raise CheckpointError(f"{where} names {path_name!r}, which the archive "
                                          "does not hold.")
                _check_view(entries[member].file_size, sizes, strides, offset, dtype,
                            f"{name}: {member}")
        _check_sample_inputs(read(f"data/sample_inputs/{model}.pt", MAX_ARCHIVE_BYTES)
                             if f"data/sample_inputs/{model}.pt" in entries else b"",
                             f"{name}: data/sample_inputs/{model}.pt")
        where = f"{name}: models/{model}.json"
        _check_program(parse_json(read(f"models/{model}.json"), where, CheckpointError), where)


def _allowed_member(entry: str) -> bool:
    if entry in _FIXED_MEMBERS:
        return True
    folder, _, base = entry.rpartition("/")
    if folder in ("data/weights", "data/constants"):
        # the pickled layouts (<model>.pt, custom and opaque objects) are refused
        return (_SAFE_NAME.fullmatch(base) is not None and not base.endswith(".pt")
                and not base.startswith(("custom_obj_", "opaque_obj_")))
    if folder == "data/sample_inputs":
        return re.fullmatch(r"[A-Za-z0-9_]+\.pt", base) is not None
    return folder == "extra" and _SAFE_NAME.fullmatch(base) is not None


def _member_kind(entry: str) -> str:
    if entry.startswith("data/aotinductor/"):
        return "compiled native code (AOTInductor), which GAN Studio never runs"
    if entry.endswith(".pt") or "custom_obj_" in entry or "opaque_obj_" in entry:
        return "a pickled object, and unpickling it could run code"
    return "an entry of a kind GAN Studio does not load"


def _check_payload_config(config: Any, where: str, kind: str) -> list[tuple]:
    """(path_name, sizes, strides, offset, dtype) of every tensor a weights or constants config
    lists; anything pickled is refused."""
    entries = config.get("config") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise CheckpointError(f"{where} is damaged: it has no \"config\" object.")
    out = []
    for fqn, payload in entries.items():
        if not isinstance(payload, dict):
            raise CheckpointError(f"{where} is damaged: the entry of {fqn!r} is not an object.")
        if payload.get("use_pickle") is not False:
            raise CheckpointError(
                f"{where} marks {kind[:-1]} {fqn!r} as pickled (use_pickle), and unpickling it "
                "could run code; refused. Export a generator whose weights are plain tensors."
            )
        path_name = payload.get("path_name")
        if not isinstance(path_name, str) or not re.fullmatch(r"[A-Za-z0-9_]+", path_name):
            raise CheckpointError(f"{where}: {fqn!r} has an invalid path_name {path_name!r}.")
        if kind == "constants" and not path_name.startswith("tensor_"):
            raise CheckpointError(f"{where}: constant {fqn!r} is not a tensor "
                                  f"({path_name!r}); GAN Studio loads only tensor constants.")
        meta = payload.get("tensor_meta")
        if not isinstance(meta, dict):
            raise CheckpointError(f"{where}: {fqn!r} has no tensor_meta.")
        device = meta.get("device")
        if not isinstance(device, dict) or device.get("type") != "cpu":
            raise CheckpointError(f"{where}: {fqn!r} lives on {device!r}; export the program "
                                  "with its weights on the CPU.")
        if meta.get("layout") != _STRIDED:
            raise CheckpointError(f"{where}: {fqn!r} is not an ordinary (strided) tensor.")
        dtype = meta.get("dtype")
        if dtype not in _ELEMENT_BYTES:
            raise CheckpointError(f"{where}: {fqn!r} has a tensor type ({dtype!r}) GAN Studio "
                                  "does not load.")
        sizes = [_as_int(v, where) for v in _list(meta.get("sizes"), where)]
        strides = [_as_int(v, where) for v in _list(meta.get("strides"), where)]
        offset = _as_int(meta.get("storage_offset"), where)
        if len(sizes) != len(strides):
            raise CheckpointError(f"{where}: {fqn!r} has {len(sizes)} sizes but "
                                  f"{len(strides)} strides.")
        out.append((path_name, sizes, strides, offset, dtype))
    return out


def _check_view(nbytes: int, sizes, strides, offset, dtype, where: str) -> None:
    """A weight is a view of its stored bytes; it may not claim more elements than they hold
    (an expanded, stride-0 view would cost far more memory than the file)."""
    count = 1
    for size in sizes:
        count *= size
    if count > MAX_TENSOR_ELEMENTS:
        raise CheckpointError(f"{where} declares {count:,} values, more than the "
                              f"{MAX_TENSOR_ELEMENTS:,} GAN Studio loads in one tensor.")
    stored = nbytes // _ELEMENT_BYTES[dtype]
    extent = offset + sum((s - 1) * st for s, st in zip(sizes, strides)) + 1 if count else 0
    if count > stored or extent > stored:
        raise CheckpointError(
            f"{where} declares a tensor of shape {tuple(sizes)} over {stored:,} stored values; "
            "it is damaged, or expanded to cost more memory than the file holds."
        )


def _check_sample_inputs(data: bytes, where: str) -> None:
    """The example inputs are read by torch with weights_only=True, and when that fails, again
    with weights_only=False. Read them the same way first: whatever passes here passes torch's
    first try, so its fallback never runs."""
    if not data:
        return
    try:
        nested = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        raise CheckpointError(f"{where} is not a PyTorch archive; refused.") from None
    check_zip(nested, where, CheckpointError, max_member_bytes=MAX_TENSOR_ELEMENTS * 8)
    try:
        torch.load(io.BytesIO(data), weights_only=True)  # the exact call torch makes first
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{where} holds pickled objects beyond plain tensors ({pickle_culprit(e)}), and "
            "loading them could run code; refused."
        ) from None
    except Exception as e:  # any failure would send torch to its fallback
        raise CheckpointError(f"{where} cannot be read as plain tensors ({first_line(e)}); "
                              "refused.") from None


# What the program's JSON may name. Everything else in it is refused before torch reads it.
_ATEN = re.compile(r"torch\.ops\.aten\.([A-Za-z0-9_]+)\.[A-Za-z0-9_]+")
_ATEN_REFUSED = {"from_file"}  # reads a file named in the graph
_PYTHON_OPS = {
    f"_operator.{op}" for op in (
        "getitem", "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "pos",
        "eq", "ne", "le", "ge", "lt", "gt", "and_", "or_", "lshift", "rshift", "not_")
} | {f"torch.sym_{op}" for op in ("int", "float", "ite", "max", "min", "sqrt", "not")} | {
    "math.trunc"}
_SPEC_TYPES = {None, "builtins.tuple", "builtins.list", "builtins.dict"}
_REFUSED_KEYS = {
    "as_custom_obj": "a custom (pickled) object",
    "as_graph": "a nested graph (control flow)",
    "as_opaque": "an opaque Python object",
}


def _check_program(program: Any, where: str) -> None:
    if not isinstance(program, dict) or not isinstance(program.get("graph_module"), dict):
        raise CheckpointError(f"{where} is not an exported program.")
    guards = program.get("guards_code", [])
    if not isinstance(guards, list) or not all(isinstance(g, str) for g in guards):
        raise CheckpointError(f"{where}: guards_code is not a list of strings.")
    for guard in guards:
        _check_expression(guard, where, _GUARD_RULES)
    for value in (program.get("range_constraints") or {}).values():
        if not isinstance(value, dict) or not all(
                v is None or type(v) is int for v in value.values()):
            raise CheckpointError(f"{where}: a range constraint is not a pair of whole numbers.")
    module = program["graph_module"]
    if module.get("treespec_namedtuple_fields"):
        raise CheckpointError(f"{where}: the program's inputs use named tuples; GAN Studio opens "
                              "programs that take plain tensors.")
    for spec in (module.get("signature") or {}).get("input_specs") or []:
        user = spec.get("user_input") if isinstance(spec, dict) else None
        if user is not None and not (isinstance(user, dict) and isinstance(user.get("arg"), dict)
                                     and "as_tensor" in user["arg"]):
            raise CheckpointError(f"{where}: the program takes an input that is not a tensor; a "
                                  "generator takes a latent batch (and labels).")
    for entry in module.get("module_call_graph") or []:
        signature = entry.get("signature") if isinstance(entry, dict) else None
        if isinstance(signature, dict):
            for key in ("in_spec", "out_spec"):
                _check_treespec(signature.get(key), where)
    stack: list[tuple[Any, str]] = [(program, "")]
    while stack:
        item, key = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if not isinstance(k, str) or _SAFE_NAME.fullmatch(k) is None:
                    raise CheckpointError(f"{where} holds the key {k!r}, which no exported "
                                          "program has.")
                if k in _REFUSED_KEYS and v:
                    raise CheckpointError(f"{where} holds {_REFUSED_KEYS[k]}, which GAN Studio "
                                          "does not load.")
                if k == "custom_obj_values" and v:
                    raise CheckpointError(f"{where} holds custom (pickled) objects, which GAN "
                                          "Studio does not load.")
                if k == "target" and "inputs" in item:
                    _check_target(v, where)
                elif k == "expr_str":
                    _check_expression(v, where, _SYMPY_RULES)
                elif (k in ("name", "fqn") or k.endswith("_name")) and v is not None and (
                        not isinstance(v, str) or _SAFE_NAME.fullmatch(v) is None):
                    raise CheckpointError(f"{where}: {k} {v!r} is not a plain name.")
                stack.append((v, k))
        elif isinstance(item, list):
            stack.extend((v, key) for v in item)
        elif isinstance(item, str) and ("\r" in item or ("\n" in item and key != "stack_trace")
                                        or any(ord(c) < 32 and c not in "\n\t" for c in item)):
            raise CheckpointError(f"{where}: the {key or 'text'} {item[:40]!r} holds control "
                                  "characters; refused.")


def _check_target(target: Any, where: str) -> None:
    if isinstance(target, str):
        m = _ATEN.fullmatch(target)
        if (m is not None and m.group(1) not in _ATEN_REFUSED) or target in _PYTHON_OPS:
            return
    raise CheckpointError(f"{where} calls {target!r}; GAN Studio runs programs made only of "
                          "ATen operators.")


def _check_treespec(spec: Any, where: str) -> None:
    if spec is None:
        return
    try:
        tree = json.loads(spec) if isinstance(spec, str) else None
    except (ValueError, RecursionError):
        tree = None
    if not (isinstance(tree, list) and len(tree) == 2):
        raise CheckpointError(f"{where}: an input or output spec is damaged.")
    stack = [tree[1]]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict) or node.get("type") not in _SPEC_TYPES:
            kind = node.get("type") if isinstance(node, dict) else node
            raise CheckpointError(f"{where}: the program's inputs or outputs are a {kind!r}; "
                                  "GAN Studio opens programs over tuples, lists and dicts.")
        stack.extend(node.get("children_spec") or [])


class _Rules:
    """What an expression string may hold: node types, called names, plain names."""

    def __init__(self, nodes: tuple, calls: set[str], names: re.Pattern, attributes: set[str],
                 keywords: set[str]):
        self.nodes, self.calls, self.names = nodes, calls, names
        self.attributes, self.keywords = attributes, keywords


_OPERATORS = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Constant,
              ast.Name, ast.Load, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)
# What torch's serializer writes for symbolic sizes: sympy's srepr of symbols and the sympy
# functions its deserializer knows.
_SYMPY_RULES = _Rules(
    (*_OPERATORS, ast.Call, ast.keyword),
    {"Symbol", "Integer", "Rational", "Float", "Max", "Min", "Eq", "Ne", "Lt", "Le", "Gt", "Ge",
     "And", "Or", "Not", "Mod", "Abs", "floor", "ceiling", "FloorDiv", "ModularIndexing",
     "Where", "PythonMod", "CleanDiv", "CeilToInt", "FloorToInt", "CeilDiv", "LShift", "RShift",
     "PowByNatural", "FloatPow", "FloatTrueDiv", "IntTrueDiv", "TruncToFloat", "TruncToInt",
     "RoundToInt", "RoundDecimal", "ToFloat", "Identity", "IsNonOverlappingAndDenseIndicator"},
    re.compile(r"[a-z]+[0-9]+|oo|true|false"),
    set(),
    {"positive", "negative", "integer", "real", "nonnegative", "nonpositive", "finite"},
)
# torch's guards: comparisons of input sizes, e.g. L['labels'].size()[0] == L['z'].size()[0].
_GUARD_RULES = _Rules(
    (*_OPERATORS, ast.Call, ast.Attribute, ast.Subscript),
    set(), re.compile(r"L"), {"size", "stride", "storage_offset", "dim", "numel"}, set(),
)


def _check_expression(text: Any, where: str, rules: _Rules) -> None:
    """Parse ``text`` as Python (never running it) and allow only what ``rules`` list."""
    if not isinstance(text, str) or len(text) > 10_000:
        raise CheckpointError(f"{where}: an expression is not a string of a sensible length.")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise CheckpointError(f"{where}: {text[:60]!r} is not an expression.") from None
    for node in ast.walk(tree):
        ok = isinstance(node, rules.nodes)
        if isinstance(node, ast.Name):
            ok = node.id in rules.calls or rules.names.fullmatch(node.id) is not None
        elif isinstance(node, ast.Call):
            ok = ok and (
                (isinstance(node.func, ast.Name) and node.func.id in rules.calls)
                or (isinstance(node.func, ast.Attribute) and node.func.attr in rules.attributes)
            )
        elif isinstance(node, ast.keyword):
            ok = node.arg in rules.keywords and isinstance(node.value, ast.Constant)
        elif isinstance(node, ast.Attribute):
            ok = ok and node.attr in rules.attributes
        elif isinstance(node, ast.Constant):
            ok = isinstance(node.value, (int, float, bool)) or (
                isinstance(node.value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*",
                                                              node.value) is not None)
        if not ok:
            raise CheckpointError(f"{where}: the expression {text[:80]!r} holds "
                                  f"{type(node).__name__} {ast.unparse(node)[:40]!r}, which an "
                                  "exported generator does not; refused.")


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise CheckpointError(f"{where} is damaged: a tensor shape is not a list.")
    return value


def _as_int(value: Any, where: str) -> int:
    number = value.get("as_int") if isinstance(value, dict) else None
    if type(number) is not int or number < 0:
        raise CheckpointError(f"{where} is damaged: {value!r} is not a size of a stored tensor.")
    return number
