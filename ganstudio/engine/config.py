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
from typing import Any

from ganstudio.engine.data import DATASETS
from ganstudio.engine.errors import ConfigError
from ganstudio.engine.families import FAMILIES

FORMAT_VERSION = 1

LOSSES = ("minimax", "nonsaturating", "lsgan", "hinge", "wgan-gp")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class DataConfig:
    name: str = "ring8"
    path: str | None = None  # the file of the `points` dataset
    seed: int = 0  # builds the dataset; the training seed is separate


@dataclass
class ModelConfig:
    family: str = "toy"
    conditional: bool = False
    z_dim: int | None = None  # None: the family's default
    hidden: int = 256  # toy: units per hidden layer
    depth: int = 3  # toy: hidden layers
    width: float = 1.0  # dcgan: multiplier on 64 base channels


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


@dataclass
class TrainConfig:
    steps: int = 5000
    batch_size: int = 64
    seed: int = 0
    device: str = "auto"
    ema: bool = False
    ema_decay: float = 0.999
    sample_every: int = 200
    eval_every: int = 500  # 2-D datasets only; 0 turns evaluation off
    checkpoint_every: int = 1000  # 0: only the final checkpoint
    grid_size: int = 64  # samples in each snapshot (per class row count follows from it)


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
        if not isinstance(version, int) or version > FORMAT_VERSION:
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
            kwargs[name] = _section_from_dict(section_cls, name, d.get(name, {}))
        return cls(**kwargs)

    @classmethod
    def from_json_file(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"Config file {path} does not exist.") from None
        except OSError as e:
            raise ConfigError(f"Cannot read config file {path}: {e.strerror}.") from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(
                f"Config file {path} is not valid JSON "
                f"(line {e.lineno}, column {e.colno}: {e.msg})."
            ) from None
        try:
            return cls.from_dict(raw)
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


def _section_from_dict(section_cls, section: str, values: Any):
    if not isinstance(values, dict):
        raise ConfigError(f"Config section {section!r} must be an object of settings.")
    fields = {f.name: f for f in dataclasses.fields(section_cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"Unknown setting {section}.{unknown[0]}; {section} has {', '.join(fields)}."
        )
    return section_cls(**values)


@dataclass(frozen=True)
class Problem:
    """One invalid setting: the dotted field name and why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def problems(cfg: RunConfig) -> list[Problem]:
    """Every invalid setting in ``cfg``, each with a reason; empty when the config can run."""
    out: list[Problem] = []

    def bad(name: str, message: str) -> None:
        out.append(Problem(name, message))

    def positive_int(name: str, value: Any, minimum: int = 1) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            bad(name, f"must be a whole number of at least {minimum}, not {value!r}")

    def positive_float(name: str, value: Any, upper: float = math.inf) -> None:
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not math.isfinite(value)
            or not 0 < value <= upper
        ):
            bad(name, f"must be a number above 0 and at most {upper:g}, not {value!r}")

    data, model, loss, optim, train = cfg.data, cfg.model, cfg.loss, cfg.optim, cfg.train
    info = DATASETS.get(data.name)
    if info is None:
        bad("data.name", f"unknown dataset {data.name!r}; choose one of {', '.join(DATASETS)}")
    elif data.name == "points" and not data.path:
        bad("data.path", "the points dataset needs a .csv or .npy file of shape (N, 2)")
    positive_int("data.seed", data.seed, 0)

    family = FAMILIES.get(model.family)
    if family is None:
        bad("model.family", f"unknown model {model.family!r}; choose one of {', '.join(FAMILIES)}")
    elif info is not None:
        if info.kind not in family.kinds:
            bad("model.family", f"{model.family} does not train on {info.kind} like {info.name}")
        elif family.image_sizes and info.shape[-1] not in family.image_sizes:
            sizes = ", ".join(str(s) for s in family.image_sizes)
            bad("model.family", f"{model.family} builds {sizes} px images, not {info.shape[-1]} px")
        if model.conditional and not family.conditional:
            bad("model.conditional", f"{model.family} has no class-conditional variant")
        elif model.conditional and not info.classes:
            bad("model.conditional", f"{info.name} has no class labels to condition on")
    if model.z_dim is not None:
        positive_int("model.z_dim", model.z_dim)
    positive_int("model.hidden", model.hidden)
    positive_int("model.depth", model.depth)
    positive_float("model.width", model.width, 8.0)

    if loss.name not in LOSSES:
        bad("loss.name", f"unknown loss {loss.name!r}; choose one of {', '.join(LOSSES)}")
    if not isinstance(loss.r1_gamma, (int, float)) or not 0 <= loss.r1_gamma < 1e6:
        bad("loss.r1_gamma", f"must be 0 (off) or a positive number, not {loss.r1_gamma!r}")
    positive_float("loss.gp_lambda", loss.gp_lambda)
    positive_int("loss.r1_every", loss.r1_every)

    if optim.name not in OPTIMIZERS:
        choices = ", ".join(OPTIMIZERS)
        bad("optim.name", f"unknown optimiser {optim.name!r}; choose one of {choices}")
    positive_float("optim.lr_g", optim.lr_g, 1.0)
    positive_float("optim.lr_d", optim.lr_d, 1.0)
    if not isinstance(optim.beta1, (int, float)) or not 0 <= optim.beta1 < 1:
        bad("optim.beta1", f"must be at least 0 and below 1, not {optim.beta1!r}")
    if not isinstance(optim.beta2, (int, float)) or not 0 <= optim.beta2 < 1:
        bad("optim.beta2", f"must be at least 0 and below 1, not {optim.beta2!r}")
    positive_int("optim.d_steps", optim.d_steps)
    if isinstance(optim.d_steps, int) and optim.d_steps > 100:
        bad("optim.d_steps", f"must be at most 100, not {optim.d_steps}")

    positive_int("train.steps", train.steps)
    positive_int("train.batch_size", train.batch_size, 2)
    positive_int("train.seed", train.seed, 0)
    if train.device not in DEVICES:
        bad("train.device", f"unknown device {train.device!r}; choose one of {', '.join(DEVICES)}")
    if not isinstance(train.ema_decay, (int, float)) or not 0 < train.ema_decay < 1:
        bad("train.ema_decay", f"must be between 0 and 1, not {train.ema_decay!r}")
    positive_int("train.sample_every", train.sample_every)
    positive_int("train.eval_every", train.eval_every, 0)
    positive_int("train.checkpoint_every", train.checkpoint_every, 0)
    positive_int("train.grid_size", train.grid_size)
    if isinstance(train.grid_size, int) and train.grid_size > 1024:
        bad("train.grid_size", f"must be at most 1024, not {train.grid_size}")
    return out


def validate(cfg: RunConfig) -> RunConfig:
    """Raise a ConfigError listing every invalid setting; return ``cfg`` when it can run."""
    found = problems(cfg)
    if found:
        lines = "\n".join(f"  {p}" for p in found)
        raise ConfigError(f"Invalid settings:\n{lines}" if len(found) > 1 else str(found[0]))
    return cfg


def defaults_for(dataset: str) -> RunConfig:
    """The recommended settings for a built-in dataset: a good first run on a laptop CPU."""
    info = DATASETS.get(dataset)
    if info is None:
        raise ConfigError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    cfg = RunConfig(data=DataConfig(name=dataset))
    recipe = _RECIPES.get(dataset, _RECIPES["points" if info.kind == "points" else "digits"])
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
