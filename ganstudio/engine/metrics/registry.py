"""Evaluations as a registry: a named metric, when it applies, and a function of the sampler.

The trainer runs the evaluations a run asks for every ``train.eval_every`` steps, each from
its own seeded noise so that evaluating never changes the training trajectory. Their values
are written as ``{"type": "eval", "name": NAME, ...}`` records and read back as series
``NAME/VALUE`` over steps.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # this module is imported by config validation, before torch loads
    import torch

    from ganstudio.engine.data import Dataset, DatasetInfo
    from ganstudio.engine.data.batches import BatchSource

Tensor = Any


@dataclass(frozen=True)
class EvalContext:
    """What an evaluation may use: the sampler, the real data, and where it runs."""

    step: int
    seed: int  # seeds the evaluation's own noise (a different one at every step)
    device: torch.device
    info: DatasetInfo
    data: BatchSource
    generate: Callable[[Tensor, Tensor | None], Tensor]  # sampler, eval mode, no grad
    z_dim: int
    classes: tuple[str, ...]  # the classes the sampler is conditioned on; () if none
    output_range: tuple[float, float] | None = None  # of the sampler's images
    progress: Callable[[float], None] | None = None

    @property
    def dataset(self) -> Dataset | None:
        return self.data.dataset

    def noise(self, n: int) -> tuple[Tensor, Tensor | None]:
        """``n`` latents (and labels, cycling through the classes) on the device."""
        import torch

        g = torch.Generator().manual_seed(self.seed)
        z = torch.randn(n, self.z_dim, generator=g).to(self.device)
        labels = None
        if self.classes:
            labels = (torch.arange(n) % len(self.classes)).to(self.device)
        return z, labels


@dataclass(frozen=True)
class Evaluation:
    name: str
    description: str
    applies: Callable[[BatchSource], bool]
    run: Callable[[EvalContext], dict[str, float]]
    by_default: bool = False  # runs when a run names no evaluations


EVALUATIONS: dict[str, Evaluation] = {}


def register(evaluation: Evaluation) -> Evaluation:
    EVALUATIONS[evaluation.name] = evaluation
    return evaluation


def evaluations_for(names: list[str] | None, data: BatchSource) -> list[Evaluation]:
    """The evaluations a run asks for (``None``: the defaults that apply to its data)."""
    if names is None:
        return [e for e in EVALUATIONS.values() if e.by_default and e.applies(data)]
    return [EVALUATIONS[name] for name in names if EVALUATIONS[name].applies(data)]


def _mode_coverage(ctx: EvalContext) -> dict[str, float]:
    from ganstudio.engine.metrics.modes import N_SAMPLES, mode_coverage

    z, labels = ctx.noise(N_SAMPLES)
    return mode_coverage(ctx.generate(z, labels), ctx.dataset.modes, ctx.dataset.mode_std)


register(Evaluation(
    "modes", "Mode coverage of a 2-D mixture: modes captured, % high-quality, reverse KL",
    applies=lambda data: data.dataset is not None and data.dataset.modes is not None,
    run=_mode_coverage, by_default=True,
))


def _image_evaluation(name: str, description: str) -> Evaluation:
    """An image metric of ganstudio.engine.metrics.evaluation, imported by name when first
    used: it needs torch and the feature networks, and config validation reads this registry
    before torch loads."""

    def part(index: int) -> Callable:  # 1: applies(info), 2: run(ctx)
        evaluation = importlib.import_module("ganstudio.engine.metrics.evaluation")
        return evaluation.IMAGE_EVALUATIONS[name][index]

    def applies(data: BatchSource) -> bool:
        return data.info.is_image and part(1)(data.info)

    def run(ctx: EvalContext) -> dict[str, float]:
        return part(2)(ctx)

    return Evaluation(name, description, applies, run)


for _name, _description in (
    ("fid", "Fréchet distance of real and generated features"),
    ("kid", "Kernel distance (unbiased MMD², cubic kernel) with its spread over subsets"),
    ("pr", "Improved precision and recall (k = 3)"),
    ("dc", "Density and coverage (k = 5)"),
    ("classes", "Confident samples, class coverage and class balance under a classifier"),
):
    register(_image_evaluation(_name, _description))
