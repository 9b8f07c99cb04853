"""The recipes behind the pretrained generators GAN Studio ships, and the function that trains them.

Each recipe is a complete, pinned :class:`RunConfig` (seed, steps, device and all), written
out here rather than derived from the datasets' defaults, so that tuning those defaults never
changes what ``ganstudio recipes train NAME`` reproduces. Training a recipe runs the ordinary
:class:`Trainer` headless and keeps the final sampling generator (the EMA copy where the recipe
has one), re-saved in fp16 as ``NAME.safetensors``. Same torch version, same CPU: same file.

This module imports neither torch nor Qt until a recipe is trained, so listing is instant.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ganstudio.engine.config import (
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
)
from ganstudio.engine.errors import ConfigError, GanStudioError

# Written by the checkpoint writer itself; dropped from the copied metadata so it is written anew.
_WRITER_KEYS = ("format", "format_version", "ganstudio_version", "saved")


@dataclass(frozen=True)
class Recipe:
    """A named training run whose final generator ships with GAN Studio."""

    name: str
    description: str
    config: RunConfig

    @property
    def filename(self) -> str:
        return f"{self.name}.safetensors"


def _dcgan(dataset: str, *, conditional: bool, width: float, r1_gamma: float, lr_g: float,
           lr_d: float, grid_size: int, steps: int = 3000) -> RunConfig:
    """``steps`` Adam steps at batch 64 with lazy R1 and an EMA copy of G, on the CPU."""
    return RunConfig(
        data=DataConfig(name=dataset, seed=0),
        model=ModelConfig(family="dcgan", conditional=conditional, z_dim=100, width=width),
        loss=LossConfig(name="nonsaturating", r1_gamma=r1_gamma, r1_every=4),
        optim=OptimConfig(name="adam", lr_g=lr_g, lr_d=lr_d, beta1=0.5, beta2=0.999),
        train=TrainConfig(
            steps=steps, batch_size=64, seed=0, device="cpu", ema=True, ema_decay=0.999,
            sample_every=100, eval_every=0, checkpoint_every=1000, grid_size=grid_size,
        ),
    )


def _digits(conditional: bool) -> RunConfig:
    # Width 0.5 (G: 7x7x128 → 14x14x64 → 28x28). R1 on real images keeps D from winning
    # outright, which it does after ~500 steps without it; EMA smooths the last steps' jitter.
    # The conditional G tends to draw one digit per class whatever z is; a D that learns
    # four times faster than G (as in SAGAN) keeps pushing it off each single digit.
    lr_g, lr_d = (1e-4, 4e-4) if conditional else (2e-4, 2e-4)
    return _dcgan("digits", conditional=conditional, width=0.5, r1_gamma=1.0, lr_g=lr_g,
                  lr_d=lr_d, grid_size=100)


def _shapes() -> RunConfig:
    # Width 1 (G: 4x4x256 → 8x8x128 → 16x16x64 → 32x32x3) and a light R1. For the first
    # ~5,000 steps G draws round blobs of the right colours on the right backgrounds: the
    # outline is a small part of each image and D learns to look at it late. Corners and
    # outlines (squares, stars, hexagons, hearts) come between steps 5,000 and 10,000, so the
    # recipe runs 12,000 steps (about 70 minutes on 2 CPU cores). Width 0.5 drew only blobs;
    # a conditional G at width 1 collapsed to one colour per class by step 2,500.
    return _dcgan("shapes", conditional=False, width=1.0, r1_gamma=0.1, lr_g=2e-4, lr_d=2e-4,
                  grid_size=64, steps=12000)


def _ring8() -> RunConfig:
    # A small z and a light R1 keep all 8 modes; D learning faster than G sharpens them.
    return RunConfig(
        data=DataConfig(name="ring8", seed=0),
        model=ModelConfig(family="toy", z_dim=4, hidden=64, depth=3),
        loss=LossConfig(name="nonsaturating", r1_gamma=0.1, r1_every=1),
        optim=OptimConfig(name="adam", lr_g=2e-3, lr_d=4e-3, beta1=0.5, beta2=0.9),
        train=TrainConfig(
            steps=3000, batch_size=256, seed=0, device="cpu", ema=True, ema_decay=0.999,
            sample_every=50, eval_every=250, checkpoint_every=1000, grid_size=1024,
        ),
    )


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("digits", "DCGAN on the procedural digits 0–9, unconditional", _digits(False)),
        Recipe(
            "digits-conditional", "DCGAN on the procedural digits, one class per digit",
            _digits(True),
        ),
        Recipe("ring8", "A small MLP GAN on 8 Gaussians in a ring: every mode covered", _ring8()),
        Recipe("shapes", "DCGAN on the coloured shapes, 32×32 RGB, unconditional", _shapes()),
    )
}


def list_recipes() -> list[Recipe]:
    return list(RECIPES.values())


def get_recipe(name: str) -> Recipe:
    recipe = RECIPES.get(name)
    if recipe is None:
        raise ConfigError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    return recipe


def train_recipe(
    name: str,
    out_dir: Path | None = None,
    run_dir: Path | None = None,
    progress: Callable[[object], object] | None = None,
) -> Path:
    """Train recipe ``name`` and write its fp16 sampling generator to ``out_dir/NAME.safetensors``.

    ``out_dir`` defaults to the bundled pretrained folder; the run folder goes to ``run_dir``
    (a new or empty folder), else to a temporary folder that is removed afterwards.
    ``progress`` is called with every training event. Returns the written file's path.
    """
    from ganstudio.resources import pretrained_dir

    recipe = get_recipe(name)
    out_dir = Path(out_dir) if out_dir is not None else pretrained_dir()
    if run_dir is not None:
        run_dir = Path(run_dir)
        if (run_dir / "config.json").exists():
            raise ConfigError(f"{run_dir} already holds a run; pick a new --run-dir folder.")
        run_dir.mkdir(parents=True, exist_ok=True)
        return _train(recipe, out_dir, run_dir, progress)
    with tempfile.TemporaryDirectory(prefix=f"ganstudio-recipe-{name}-") as tmp:
        return _train(recipe, out_dir, Path(tmp), progress)


def _train(recipe: Recipe, out_dir: Path, run_dir: Path, progress) -> Path:
    from ganstudio.engine.checkpoint import read_safetensors, save_generator
    from ganstudio.engine.events import AlertEvent, CheckpointEvent
    from ganstudio.engine.trainer import Trainer

    # A copy: the trainer must never change the registry's config.
    trainer = Trainer(RunConfig.from_dict(recipe.config.to_dict()), run_dir=run_dir)
    final, diverged = None, None
    started = time.perf_counter()
    for event in trainer.run():
        if progress is not None:
            progress(event)
        if isinstance(event, AlertEvent) and event.kind == "nonfinite":
            diverged = event.step
            trainer.stop()
        elif isinstance(event, CheckpointEvent) and event.final:
            final = Path(event.path)
    if diverged is not None or final is None:
        raise GanStudioError(
            f"Recipe {recipe.name} diverged at step {diverged}, so no pretrained file was "
            f"written; the run folder is {run_dir}."
        )
    # The final checkpoint holds the sampling generator (the EMA copy when the recipe has one).
    tensors, meta = read_safetensors(final)
    for key in _WRITER_KEYS:
        meta.pop(key, None)
    meta.update(recipe=recipe.name, train_seconds=round(time.perf_counter() - started, 1))
    out_dir.mkdir(parents=True, exist_ok=True)
    # Retraining a recipe is meant to replace its shipped file.
    return save_generator(out_dir / recipe.filename, tensors, meta, half=True, replace=True)
