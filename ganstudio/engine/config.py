"""Run settings as dataclasses: to and from plain dicts and JSON, with checks a person understands.

This module imports neither torch nor Qt, so the app can build its setup panel before torch
has loaded.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganstudio.engine.data import DATASETS
from ganstudio.engine.errors import ConfigError
from ganstudio.engine.families import FAMILIES

if TYPE_CHECKING:
    from ganstudio.engine.data import DatasetInfo

FORMAT_VERSION = 1
# Bounds on what one setting may ask for, so that no config can fill a machine before it
# fails (the parameter count and the batch's memory are checked again when nets are built).
MAX_Z_DIM = 4096
MAX_HIDDEN = 8192
MAX_DEPTH = 32
MAX_SEED = 2**32 - 1
MAX_BATCH_SIZE = 2**20
MAX_STEPS = 10**9
MIN_RESOLUTION, MAX_RESOLUTION = 16, 256  # of prepared real data

LOSSES = ("minimax", "nonsaturating", "lsgan", "hinge", "wgan-gp")
# D's decision boundary on its raw output under each loss: real above, fake below (wgan-gp's
# critic has none: its values are meaningful only up to a constant)
BOUNDARIES = {"minimax": 0.0, "nonsaturating": 0.0, "hinge": 0.0, "lsgan": 0.5}
OUTPUT_BIASES = ("zero", "marginals")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
UPDATES = ("alternating", "simultaneous")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class DataConfig:
    """A built-in dataset by ``name``, or real data: a ``source`` prepared as the rest says.

    For real data ``name`` is what the run calls it (the catalogue name, or the source's file
    or folder name). The source and the options find the same images again; checkpoints and
    training states also keep the prepared set's key, so a resume notices changed data.
    """

    name: str = "ring8"
    path: str | None = None  # the file of the `points` dataset
    seed: int = 0  # builds the dataset; the training seed is separate
    source: str | None = None  # real data: a folder, archive, dataset file or catalogue name
    resolution: int | None = None  # real data: the side of the prepared square images
    crop: str = "centre"  # real data: centre-crop or pad to a square
    grayscale: bool | None = None  # real data: None keeps grey sets grey and colour sets RGB
    flip: bool = False  # real data: random left-right flips in training
    split: str = "train"  # real data: the part of a standard set (IDX, CIFAR) to train on
    # real data: images never trained on (a random part fixed by data.seed), against which the
    # overfitting diagnostic compares D's outputs on training images; 0: none
    hold_out: int = 0

    @property
    def is_real(self) -> bool:
        return self.source is not None


@dataclass
class ModelConfig:
    family: str = "toy"
    conditional: bool = False
    z_dim: int | None = None  # None: the family's default
    hidden: int = 256  # toy: units per hidden layer
    depth: int = 3  # toy: hidden layers
    width: float = 1.0  # dcgan: multiplier on 64 base channels
    # G's output bias at the start: "zero", or "marginals" (gan2014: the logit of each pixel's
    # mean over the training images, so that G starts at the average image)
    output_bias: str = "zero"


@dataclass
class LossConfig:
    name: str = "nonsaturating"
    r1_gamma: float = 0.0  # 0 turns the R1 penalty off
    r1_every: int = 1  # lazy R1 (StyleGAN2): apply every N steps, weighted by N
    gp_lambda: float = 10.0  # the gradient-penalty weight of wgan-gp


@dataclass
class OptimConfig:
    name: str = "adam"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5  # Adam; also the momentum of SGD and RMSprop
    beta2: float = 0.999
    d_steps: int = 1  # discriminator updates per generator update
    lr_decay: float = 1.0  # both learning rates are divided by this after every step
    lr_min: float = 0.0  # ... down to this
    # SGD: momentum goes linearly from beta1 to momentum_final over the epochs from
    # momentum_start to momentum_saturate (pylearn2's MomentumAdjustor); None: constant
    momentum_final: float | None = None
    momentum_start: int = 1
    momentum_saturate: int = 250
    # "alternating": D's update, then G's against the updated D (the PyTorch DCGAN example);
    # "simultaneous": both gradients from one pass over one batch, applied together (pylearn2's
    # SGD with the 2014 paper's AdversaryCost2); needs d_steps 1
    updates: str = "alternating"


@dataclass
class TrainConfig:
    steps: int = 5000
    batch_size: int = 64
    seed: int = 0
    device: str = "auto"
    ema: bool = False
    ema_decay: float = 0.999
    sample_every: int = 200
    eval_every: int = 500  # 0 turns evaluation off
    checkpoint_every: int = 1000  # 0: only the final checkpoint
    grid_size: int = 64  # samples in each snapshot (per class row count follows from it)
    evals: list[str] | None = None  # evaluations run every eval_every steps; None: defaults
    augment: str = ""  # DiffAugment policy before D, e.g. "color,translation,cutout"; "": off
    augment_p: float = 1.0  # the probability of each transform per image
    # Adaptive augmentation (Karras et al. 2020): every ada_interval steps augment_p moves by
    # batch · ada_interval / (ada_kimg · 1000) towards keeping r_t = E[sign D(x)] at ada_target
    ada: bool = False
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: int = 500
    diag_every: int = 100  # stability diagnostics every N steps (and at snapshots); 0: off


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"A run config must be a JSON object, not {type(d).__name__}.")
        version = d.get("format_version", FORMAT_VERSION)
        if type(version) is not int or version < 1:
            raise ConfigError(f"format_version {version!r} is invalid: a whole number from 1 "
                              "is expected.")
        if version > FORMAT_VERSION:
            raise ConfigError(
                f"This config has format_version {version!r}; this GAN Studio reads up to "
                f"{FORMAT_VERSION}. Upgrade GAN Studio to open it."
            )
        sections = {f.name: f.type for f in dataclasses.fields(cls) if f.name != "format_version"}
        unknown = sorted(set(d) - set(sections) - {"format_version"})
        if unknown:
            raise ConfigError(
                f"Unknown config section {unknown[0]!r}; the sections are {', '.join(sections)}."
            )
        kwargs = {}
        for name, section_cls in _SECTIONS.items():
            kwargs[name] = section_from_dict(section_cls, name, d.get(name, {}))
        return cls(**kwargs)

    @classmethod
    def from_json_file(cls, path: str | Path) -> RunConfig:
        """A config file, checked: a ConfigError names the file and every invalid setting."""
        from ganstudio.engine.readers import read_json

        raw = read_json(path, ConfigError)
        try:
            return validate(cls.from_dict(raw))
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with dotted-path changes, e.g. ``replace(**{"optim.lr_g": 1e-3})``."""
        new = RunConfig.from_dict(self.to_dict())
        for dotted, value in changes.items():
            section, _, key = dotted.partition(".")
            setattr(getattr(new, section), key, value)
        return new


_SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "loss": LossConfig,
    "optim": OptimConfig,
    "train": TrainConfig,
}


def section_from_dict(section_cls, section: str, values: Any):
    if not isinstance(values, dict):
        raise ConfigError(f"Config section {section!r} must be an object of settings.")
    fields = {f.name: f for f in dataclasses.fields(section_cls)}
    unknown = sorted(set(values) - set(fields), key=str)
    if unknown:
        raise ConfigError(
            f"Unknown setting {section}.{unknown[0]}; {section} has {', '.join(fields)}."
        )
    for name, value in values.items():
        _check_type(f"{section}.{name}", str(fields[name].type), value)
    return section_cls(**values)


def _check_type(name: str, declared: str, value: Any) -> None:
    """Refuse a value of the wrong JSON type: ``"no"`` for a switch, ``"64"`` for a number."""
    if value is None and declared.endswith("| None"):
        return
    kind = declared.removesuffix(" | None")
    if kind == "bool":
        ok, expected = isinstance(value, bool), "true or false"
    elif kind == "int":
        ok, expected = type(value) is int, "a whole number"
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        expected = "a number"
    elif kind == "list[str]":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        expected = "a list of names"
    elif kind == "str":
        ok, expected = isinstance(value, str), "a text string"
    else:  # a kind of setting this check does not know yet: problems() judges it
        return
    if not ok:
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:40]}…"
        raise ConfigError(f"{name} must be {expected}, not {shown}.")


@dataclass(frozen=True)
class Problem:
    """One invalid setting: the dotted field name and why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def problems(cfg: RunConfig) -> list[Problem]:
    """Every invalid setting in ``cfg``, each with a reason; empty when the config can run."""

    found = _Findings()
    data, model, loss, optim, train = cfg.data, cfg.model, cfg.loss, cfg.optim, cfg.train
    if data.source is not None:
        info = _check_real_data(data, found)
    else:
        info = DATASETS.get(data.name)
        if info is None:
            choices = ", ".join(DATASETS)
            found.bad("data.name", f"unknown dataset {data.name!r}; choose one of {choices}")
        elif data.name == "points" and not data.path:
            found.bad("data.path", "the points dataset needs a .csv or .npy file of shape (N, 2)")
        elif data.name != "points" and data.path:
            found.bad("data.path", f"only the points dataset reads a file; {data.name} is "
                      "built in")
        defaults = DataConfig()
        for key in ("resolution", "crop", "grayscale", "flip", "split"):
            if getattr(data, key) != getattr(defaults, key):
                found.bad(f"data.{key}", f"only real data (data.source) is prepared; "
                          f"{data.name} is built in")
    found.bounded_int("data.seed", data.seed, 0, MAX_SEED)

    # the classes of real data are known once it is prepared: the trainer checks them then
    found += check_model(model, info, classes_known=data.source is None)

    if loss.name not in LOSSES:
        found.bad("loss.name", f"unknown loss {loss.name!r}; choose one of {', '.join(LOSSES)}")
    if not isinstance(loss.r1_gamma, (int, float)) or not 0 <= loss.r1_gamma < 1e6:
        found.bad("loss.r1_gamma",
                  f"must be 0 (off) or a positive number, not {loss.r1_gamma!r}")
    found.positive_float("loss.gp_lambda", loss.gp_lambda)
    found.positive_int("loss.r1_every", loss.r1_every)

    if optim.name not in OPTIMIZERS:
        choices = ", ".join(OPTIMIZERS)
        found.bad("optim.name", f"unknown optimiser {optim.name!r}; choose one of {choices}")
    found += check_hyper(optim.lr_g, optim.lr_d, optim.d_steps, optim.updates)
    if not isinstance(optim.beta1, (int, float)) or not 0 <= optim.beta1 < 1:
        found.bad("optim.beta1", f"must be at least 0 and below 1, not {optim.beta1!r}")
    if not isinstance(optim.beta2, (int, float)) or not 0 <= optim.beta2 < 1:
        found.bad("optim.beta2", f"must be at least 0 and below 1, not {optim.beta2!r}")
    found += check_schedule(optim)
    if optim.updates not in UPDATES:
        found.bad("optim.updates", f"must be one of {', '.join(UPDATES)}, not {optim.updates!r}")

    found.bounded_int("train.steps", train.steps, 1, MAX_STEPS)
    found.bounded_int("train.batch_size", train.batch_size, 2, MAX_BATCH_SIZE)
    found.bounded_int("train.seed", train.seed, 0, MAX_SEED)
    if train.device not in DEVICES:
        choices = ", ".join(DEVICES)
        found.bad("train.device", f"unknown device {train.device!r}; choose one of {choices}")
    if not isinstance(train.ema, bool):
        found.bad("train.ema", f"must be true or false, not {train.ema!r}")
    if not isinstance(train.ema_decay, (int, float)) or not 0 < train.ema_decay < 1:
        found.bad("train.ema_decay", f"must be between 0 and 1, not {train.ema_decay!r}")
    found.positive_int("train.sample_every", train.sample_every)
    found.positive_int("train.eval_every", train.eval_every, 0)
    found.positive_int("train.checkpoint_every", train.checkpoint_every, 0)
    if train.evals is not None:
        from ganstudio.engine.metrics.registry import EVALUATIONS

        if not isinstance(train.evals, list) or not all(isinstance(n, str) for n in train.evals):
            found.bad("train.evals", f"must be a list of evaluation names, not {train.evals!r}")
        else:
            for name in train.evals:
                if name not in EVALUATIONS:
                    found.bad("train.evals", f"unknown evaluation {name!r}; choose from "
                              f"{', '.join(EVALUATIONS)}")
    if not isinstance(train.augment, str):
        found.bad("train.augment", f"must be a DiffAugment policy string, not {train.augment!r}")
    elif train.augment:
        from ganstudio.engine.augment import TRANSFORMS

        for part in (p.strip() for p in train.augment.split(",")):
            if part and part not in TRANSFORMS:
                found.bad("train.augment", f"unknown transform {part!r}; the policy is a comma-"
                          f"separated list of {', '.join(TRANSFORMS)}")
    if (not isinstance(train.augment_p, (int, float)) or isinstance(train.augment_p, bool)
            or not 0 <= train.augment_p <= 1):
        found.bad("train.augment_p", f"must be a probability from 0 to 1, not "
                  f"{train.augment_p!r}")
    found += check_diagnostics(train, loss.name)
    found.positive_int("train.grid_size", train.grid_size)
    if isinstance(train.grid_size, int) and train.grid_size > 1024:
        found.bad("train.grid_size", f"must be at most 1024, not {train.grid_size}")
    return found


def _check_real_data(data: DataConfig, found: _Findings) -> DatasetInfo | None:
    """The checks of a real-data section; the shape it will have once prepared (None when the
    settings cannot say), without its classes."""
    from ganstudio.engine.data import DatasetInfo

    if not isinstance(data.source, str) or not data.source.strip():
        found.bad("data.source", f"must name a folder, archive, dataset file or catalogue "
                  f"set, not {data.source!r}")
    if not isinstance(data.name, str) or not 0 < len(data.name) <= 100:
        found.bad("data.name", f"must be a short name for the data, not {data.name!r}")
    elif data.name in DATASETS:
        found.bad("data.name", f"{data.name!r} is a built-in dataset; real data needs a name "
                  "of its own")
    if data.path is not None:
        found.bad("data.path", "only the points dataset reads a file; real data is data.source")
    if data.crop not in ("centre", "pad"):
        found.bad("data.crop", f"must be centre or pad, not {data.crop!r}")
    if not isinstance(data.flip, bool):
        found.bad("data.flip", f"must be true or false, not {data.flip!r}")
    if data.split not in ("train", "test", "all"):
        found.bad("data.split", f"must be train, test or all, not {data.split!r}")
    found.bounded_int("data.hold_out", data.hold_out, 0, MAX_BATCH_SIZE)
    if data.grayscale is not None and not isinstance(data.grayscale, bool):
        found.bad("data.grayscale", f"must be true, false or null, not {data.grayscale!r}")
    size_problems = len(found)
    found.bounded_int("data.resolution", data.resolution, MIN_RESOLUTION, MAX_RESOLUTION)
    if len(found) > size_problems or not isinstance(data.name, str):
        return None
    channels = 1 if data.grayscale else 3  # null: either; the trainer checks the prepared set
    return DatasetInfo(data.name, "images", (channels, data.resolution, data.resolution), (),
                       "real data")


def check_model(model: ModelConfig, info: DatasetInfo | None,
                classes_known: bool = True) -> list[Problem]:
    """What is wrong with a model section, for a dataset described by ``info`` (None when the
    dataset is unknown); used for configs and for the metadata of checkpoints.
    ``classes_known`` False: ``info`` has no classes yet (real data before it is prepared)."""

    found = _Findings()
    family = FAMILIES.get(model.family)
    if family is None:
        choices = ", ".join(FAMILIES)
        found.bad("model.family", f"unknown model {model.family!r}; choose one of {choices}")
    elif info is not None:
        if info.kind not in family.kinds:
            found.bad("model.family",
                      f"{model.family} does not train on {info.kind} like {info.name}")
        elif family.image_sizes and info.shape[-1] not in family.image_sizes:
            sizes = ", ".join(str(s) for s in family.image_sizes)
            found.bad("model.family",
                      f"{model.family} builds {sizes} px images, not {info.shape[-1]} px")
        if model.conditional and not family.conditional:
            found.bad("model.conditional", f"{model.family} has no class-conditional variant")
        elif model.conditional and classes_known and not info.classes:
            found.bad("model.conditional", f"{info.name} has no class labels to condition on")
    if model.output_bias not in OUTPUT_BIASES:
        found.bad("model.output_bias", f"must be one of {', '.join(OUTPUT_BIASES)}, not "
                  f"{model.output_bias!r}")
    elif model.output_bias == "marginals" and model.family != "gan2014":
        found.bad("model.output_bias", "marginals sets a sigmoid output's bias: gan2014 only")
    if model.z_dim is not None:
        found.bounded_int("model.z_dim", model.z_dim, 1, MAX_Z_DIM)
    found.bounded_int("model.hidden", model.hidden, 1, MAX_HIDDEN)
    found.bounded_int("model.depth", model.depth, 1, MAX_DEPTH)
    found.positive_float("model.width", model.width, 8.0)
    if not isinstance(model.conditional, bool):
        found.bad("model.conditional", f"must be true or false, not {model.conditional!r}")
    return found


def check_schedule(optim: OptimConfig) -> list[Problem]:
    """The learning-rate decay and the momentum ramp."""
    found = _Findings()
    decay = optim.lr_decay
    if (not isinstance(decay, (int, float)) or isinstance(decay, bool)
            or not math.isfinite(decay) or not 1 <= decay <= 2):
        found.bad("optim.lr_decay", f"must be a number from 1 (no decay) to 2, not {decay!r}")
    if (not isinstance(optim.lr_min, (int, float)) or isinstance(optim.lr_min, bool)
            or not 0 <= optim.lr_min <= MAX_LR):
        found.bad("optim.lr_min", f"must be a number from 0 to {MAX_LR:g}, not {optim.lr_min!r}")
    final = optim.momentum_final
    if final is None:
        return found
    if (not isinstance(final, (int, float)) or isinstance(final, bool)
            or not 0 <= final < 1):
        found.bad("optim.momentum_final", f"must be at least 0 and below 1, not {final!r}")
    if optim.name not in ("sgd", "rmsprop"):
        found.bad("optim.momentum_final", f"ramps the momentum of sgd or rmsprop; "
                  f"{optim.name}'s beta1 stays fixed")
    found.bounded_int("optim.momentum_start", optim.momentum_start, 0, MAX_STEPS)
    found.bounded_int("optim.momentum_saturate", optim.momentum_saturate, 0, MAX_STEPS)
    if (type(optim.momentum_start) is int and type(optim.momentum_saturate) is int
            and optim.momentum_saturate < optim.momentum_start):
        found.bad("optim.momentum_saturate", f"must be at least momentum_start "
                  f"({optim.momentum_start}), not {optim.momentum_saturate}")
    return found


def check_diagnostics(train: TrainConfig, loss: str) -> list[Problem]:
    """The stability diagnostics and adaptive augmentation."""
    found = _Findings()
    found.positive_int("train.diag_every", train.diag_every, 0)
    if not isinstance(train.ada, bool):
        found.bad("train.ada", f"must be true or false, not {train.ada!r}")
    target = train.ada_target
    if not isinstance(target, (int, float)) or isinstance(target, bool) or not 0 < target < 1:
        found.bad("train.ada_target", f"must be a number between 0 and 1, not {target!r}")
    found.positive_int("train.ada_interval", train.ada_interval)
    found.bounded_int("train.ada_kimg", train.ada_kimg, 1, 10**6)
    if train.ada is True:
        if not train.augment:
            found.bad("train.ada", "tunes the probability of the augmentation: set "
                      "train.augment to a policy, e.g. \"color,translation,cutout\"")
        if loss not in BOUNDARIES:
            found.bad("train.ada", f"reads which side of D's decision boundary real images "
                      f"fall on, and {loss} has none; use {', '.join(BOUNDARIES)}")
    return found


class _Findings(list):
    """Problems found so far, and the checks that add to them."""

    def bad(self, name: str, message: str) -> None:
        self.append(Problem(name, message))

    def positive_int(self, name: str, value: Any, minimum: int = 1) -> None:
        if type(value) is not int or value < minimum:
            self.bad(name, f"must be a whole number of at least {minimum}, not {value!r}")

    def bounded_int(self, name: str, value: Any, minimum: int, maximum: int) -> None:
        if type(value) is not int or not minimum <= value <= maximum:
            self.bad(name, f"must be a whole number from {minimum} to {maximum}, not {value!r}")

    def positive_float(self, name: str, value: Any, upper: float = math.inf) -> None:
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not math.isfinite(value)
            or not 0 < value <= upper
        ):
            self.bad(name, f"must be a number above 0 and at most {upper:g}, not {value!r}")


MAX_LR = 1.0
MAX_D_STEPS = 100


def check_hyper(lr_g: Any = None, lr_d: Any = None, d_steps: Any = None,
                updates: str = "alternating") -> list[Problem]:
    """The checks of the hyper-parameters that may also change while a run trains
    (``updates`` is the run's ``optim.updates``, which bounds ``d_steps``).

    One home for them: the config, the trainer, the CLI and the window all ask here, so a
    value the window accepts is one the trainer accepts. ``None`` means "not given".
    """
    out: list[Problem] = []
    for name, value in (("optim.lr_g", lr_g), ("optim.lr_d", lr_d)):
        if value is None:
            continue
        if (not isinstance(value, (int, float)) or isinstance(value, bool)
                or not math.isfinite(value) or not 0 < value <= MAX_LR):
            out.append(Problem(name, f"must be a number above 0 and at most {MAX_LR:g}, "
                                     f"not {value!r}"))
    if d_steps is not None and (not isinstance(d_steps, int) or isinstance(d_steps, bool)
                                or not 1 <= d_steps <= MAX_D_STEPS):
        out.append(Problem("optim.d_steps",
                           f"must be a whole number from 1 to {MAX_D_STEPS}, not {d_steps!r}"))
    elif d_steps not in (None, 1) and updates == "simultaneous":
        out.append(Problem("optim.d_steps", f"must be 1 with simultaneous updates "
                                            f"(optim.updates), not {d_steps!r}"))
    return out


def validate(cfg: RunConfig) -> RunConfig:
    """Raise a ConfigError listing every invalid setting; return ``cfg`` when it can run."""
    found = problems(cfg)
    if found:
        lines = "\n".join(f"  {p}" for p in found)
        raise ConfigError(f"Invalid settings:\n{lines}" if len(found) > 1 else str(found[0]))
    return cfg


# The settings each loss's paper trains with. Choosing the loss applies them to every setting
# the user has not set (Gulrajani et al. 2017, Algorithm 1: Adam(1e-4, β = (0, 0.9)), five
# critic updates per generator update).
LOSS_DEFAULTS: dict[str, dict[str, Any]] = {
    "wgan-gp": {"optim.name": "adam", "optim.lr_g": 1e-4, "optim.lr_d": 1e-4,
                "optim.beta1": 0.0, "optim.beta2": 0.9, "optim.d_steps": 5},
}


# The training recipe a network family was published with, applied as LOSS_DEFAULTS are
# when the family is chosen. gan2014: the MNIST experiment of Goodfellow et al. (2014), as
# released in mnist.yaml of the authors' `adversarial` repository (pylearn2); every number is
# that file's (the README's reproduction section lists what still differs).
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "gan2014": {
        # the Sigmoid "y" layer's init_bias: init_sigmoid_bias_from_marginals(dataset: *train)
        "model.output_bias": "marginals",
        # AdversaryCost2: D minimises the cross-entropy, G its non-saturating form
        # (g_obj = cost(y1, y_hat0)); one update of each per batch; no R1, no EMA copy
        "loss.name": "nonsaturating", "loss.r1_gamma": 0.0, "optim.d_steps": 1,
        "train.ema": False,
        # SGD applies the D and G gradients of AdversaryCost2.get_gradients together, both
        # taken from one pass: D's on y_hat0 and y_hat1, G's on the same y_hat0
        "optim.updates": "simultaneous",
        # SGD: batch_size 100, learning_rate .1, learning_rule Momentum(init_momentum .5)
        "optim.name": "sgd", "train.batch_size": 100, "optim.beta1": 0.5, "optim.lr_g": 0.1,
        # 0.1 on d_obj = 0.5 · (cost(y1, y_hat1) + cost(y0, y_hat0)): half the sum of the two
        # cross-entropies that GAN Studio's D loss is, so the same steps take half the rate
        "optim.lr_d": 0.05,
        # update_callbacks: ExponentialDecay(decay_factor 1.000004, min_lr .000001)
        "optim.lr_decay": 1.000004, "optim.lr_min": 1e-6,
        # extensions: MomentumAdjustor(start 1, saturate 250, final_momentum .7)
        "optim.momentum_final": 0.7, "optim.momentum_start": 1, "optim.momentum_saturate": 250,
    },
}


def with_family(cfg: RunConfig, family: str, fixed: frozenset[str] | set[str] = frozenset()
                ) -> RunConfig:
    """``cfg`` with the network ``family`` chosen (its default z size) and the training
    recipe it was published with applied, except for the dotted settings in ``fixed``."""
    cfg = cfg.replace(**{"model.family": family, "model.z_dim": None})
    for dotted, value in FAMILY_DEFAULTS.get(family, {}).items():
        if dotted not in fixed:
            section, _, key = dotted.partition(".")
            setattr(getattr(cfg, section), key, value)
    return cfg


def with_loss(cfg: RunConfig, loss: str, fixed: frozenset[str] | set[str] = frozenset()
              ) -> RunConfig:
    """``cfg`` with ``loss`` chosen and that loss's published settings applied, except for
    the dotted settings in ``fixed`` (the ones the user set)."""
    cfg = cfg.replace(**{"loss.name": loss})
    for dotted, value in LOSS_DEFAULTS.get(loss, {}).items():
        if dotted not in fixed:
            section, _, key = dotted.partition(".")
            setattr(getattr(cfg, section), key, value)
    return cfg


def defaults_for(dataset: str | DataConfig, family: str | None = None) -> RunConfig:
    """The recommended settings.

    A built-in dataset, by name: a good first run on a laptop CPU. Real data, as a DataConfig
    with its source and resolution: the recipe of ``family`` (``dcgan`` unless given) at that
    resolution, each from its published source (see the README's recipes). A conditional run
    keeps the same settings: set ``model.conditional`` on the result.
    """

    if isinstance(dataset, DataConfig):
        return _real_defaults(dataset, family or "dcgan")
    if family is not None:
        raise ConfigError(f"the built-in dataset {dataset} has one recipe; set model.family "
                          "on it to try another network")
    info = DATASETS.get(dataset)
    if info is None:
        raise ConfigError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    cfg = RunConfig(data=DataConfig(name=dataset))
    recipe = _RECIPES.get(dataset, _RECIPES["points" if info.kind == "points" else "digits"])
    return _applied(cfg, recipe)


def _real_defaults(data: DataConfig, family: str) -> RunConfig:
    recipes = _REAL_RECIPES.get(family)
    if recipes is None:  # gan2014: the CPU recipe's settings under its published recipe
        recipe = {**{k: v for k, v in _DCGAN_CPU.items() if not k.startswith("model.")},
                  **FAMILY_DEFAULTS.get(family, {})}
    elif data.resolution in recipes:
        recipe = recipes[data.resolution]
    else:
        sizes = ", ".join(str(r) for r in recipes)
        raise ConfigError(f"{family} builds {sizes} px images, not {data.resolution!r} px: "
                          "prepare the data at one of those resolutions")
    cfg = RunConfig(data=DataConfig(**dataclasses.asdict(data)))
    return _applied(cfg, {"model.family": family, **recipe})


def _applied(cfg: RunConfig, recipe: dict[str, Any]) -> RunConfig:
    for dotted, value in recipe.items():
        section, _, key = dotted.partition(".")
        setattr(getattr(cfg, section), key, value)
    return cfg


# Defaults per dataset, tuned on a 2-core CPU (see the README's benchmark section).
_RECIPES: dict[str, dict[str, Any]] = {
    # The mode-coverage sets: a small z, a light R1 and D learning faster than G find every mode
    # and make them sharp; EMA takes out G's last jitter. Small MLPs cost about the same per
    # step at batch 512 as at 256 on a CPU, and the larger batch steadies D. Measured by
    # benchmarks/mode_coverage.py.
    "ring8": {
        "model.family": "toy", "model.z_dim": 4, "model.hidden": 64, "model.depth": 3,
        "loss.r1_gamma": 0.1, "optim.lr_g": 2e-3, "optim.lr_d": 4e-3, "optim.beta2": 0.9,
        "train.batch_size": 512, "train.steps": 2000,
        "train.ema": True, "train.ema_decay": 0.999, "train.sample_every": 50,
        "train.eval_every": 200, "train.checkpoint_every": 1000, "train.grid_size": 1024,
    },
    "grid25": {
        "model.family": "toy", "model.z_dim": 2, "model.hidden": 96, "model.depth": 3,
        "loss.r1_gamma": 0.3, "optim.lr_g": 2e-3, "optim.lr_d": 4e-3, "optim.beta2": 0.9,
        "train.batch_size": 1024, "train.steps": 6000,
        "train.ema": True, "train.ema_decay": 0.999, "train.sample_every": 50,
        "train.eval_every": 500, "train.checkpoint_every": 2000, "train.grid_size": 1024,
    },
    "points": {
        "model.family": "toy", "model.z_dim": 16, "model.hidden": 256, "model.depth": 3,
        "optim.lr_g": 1e-3, "optim.lr_d": 1e-3, "train.batch_size": 256, "train.steps": 4000,
        "train.ema": True, "train.ema_decay": 0.995, "train.sample_every": 50,
        "train.eval_every": 0, "train.checkpoint_every": 2000, "train.grid_size": 1024,
    },
    "digits": {
        "model.family": "dcgan", "model.width": 0.25, "loss.r1_gamma": 1.0, "loss.r1_every": 4,
        "train.batch_size": 64, "train.steps": 1000,
        "train.ema": True, "train.ema_decay": 0.99, "train.sample_every": 50,
        "train.eval_every": 0, "train.checkpoint_every": 500, "train.grid_size": 64,
    },
    "shapes": {
        "model.family": "dcgan", "model.width": 0.25, "loss.r1_gamma": 1.0, "loss.r1_every": 4,
        "train.batch_size": 64, "train.steps": 1500,
        "train.ema": True, "train.ema_decay": 0.99, "train.sample_every": 50,
        "train.eval_every": 0, "train.checkpoint_every": 1000, "train.grid_size": 64,
    },
}
_RECIPES["spiral"] = dict(_RECIPES["points"])
_RECIPES["moons"] = dict(_RECIPES["points"])


# Real data: per family and resolution. Each recipe's source is in the README ("Recipes for
# real data"); below 32 px they are this project's CPU recipes, tuned on Fashion-MNIST.
_DCGAN_EXAMPLE = {  # the PyTorch DCGAN example (Radford et al. 2015's settings, batch 64)
    "model.width": 1.0, "loss.name": "nonsaturating", "optim.name": "adam",
    "optim.lr_g": 2e-4, "optim.lr_d": 2e-4, "optim.beta1": 0.5, "optim.beta2": 0.999,
    "train.batch_size": 64, "train.steps": 20_000, "train.ema": False,
    "train.sample_every": 500, "train.eval_every": 0, "train.checkpoint_every": 2000,
}
# A first minute that teaches: small, steadied by R1 and an EMA of G, and fast: on Fashion-MNIST
# (benchmarks/first_minute.py, judged by its classifier) Adam at 1e-3 with β2 0.99 draws every
# class at 19% confident after 60 s (2e-4, 0.999: 2%) and 32% at 3,000 steps (24%).
_DCGAN_CPU = {
    "model.width": 0.25, "loss.name": "nonsaturating", "loss.r1_gamma": 1.0,
    "loss.r1_every": 4, "optim.lr_g": 1e-3, "optim.lr_d": 1e-3, "optim.beta1": 0.5,
    "optim.beta2": 0.99, "train.batch_size": 64, "train.steps": 3000, "train.ema": True,
    "train.ema_decay": 0.99, "train.sample_every": 50, "train.eval_every": 0,
    "train.checkpoint_every": 500,
}
_SNGAN_CIFAR = {  # StudioGAN's SNGAN on CIFAR-10 (its defaults: hinge, n_dis 5, batch 64)
    "model.width": 1.0, "loss.name": "hinge", "optim.name": "adam", "optim.lr_g": 2e-4,
    "optim.lr_d": 2e-4, "optim.beta1": 0.5, "optim.beta2": 0.999, "optim.d_steps": 5,
    "train.batch_size": 64, "train.steps": 100_000, "train.ema": False,
    "train.sample_every": 1000, "train.eval_every": 0, "train.checkpoint_every": 5000,
}
_SNGAN_TINY_IMAGENET = {  # StudioGAN's SNGAN on Tiny ImageNet, 64 px (TTUR, one D step)
    **_SNGAN_CIFAR, "optim.lr_g": 1e-4, "optim.lr_d": 4e-4, "optim.beta1": 0.0,
    "optim.d_steps": 1, "train.batch_size": 256,
}
_REAL_RECIPES: dict[str, dict[int, dict[str, Any]]] = {
    "dcgan": {16: _DCGAN_CPU, 28: _DCGAN_CPU, 32: _DCGAN_EXAMPLE, 64: _DCGAN_EXAMPLE,
              128: _DCGAN_EXAMPLE},
    "resnet": {32: _SNGAN_CIFAR, 64: _SNGAN_TINY_IMAGENET, 128: _SNGAN_TINY_IMAGENET},
}
