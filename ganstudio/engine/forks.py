"""Forking a run: a new run folder that starts from one of a run's checkpoints with changed
settings, and records its parent and the step it forked at. The parent is only read.

    plan = plan_fork("runs/a", 4000, {"optim.lr_g": 1e-4})
    trainer = fork("runs/a", 4000, {"optim.lr_g": 1e-4}, "runs/a-lr1e-4")   # then trainer.run()
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ganstudio.engine.checkpoint import state_path_for
from ganstudio.engine.config import RunConfig, validate
from ganstudio.engine.errors import ConfigError, RunFolderError
from ganstudio.engine.runs import RunFolder

# Settings a fork cannot change: they make the networks, the optimiser state or the data
# the checkpoint was trained with (a fork of those is a new run, not a fork).
FIXED_PREFIXES = ("data.", "model.")
FIXED_SETTINGS = ("optim.name",)


@dataclass(frozen=True)
class ForkPlan:
    parent: Path  # the parent run folder
    step: int  # the step of the checkpoint the fork starts from
    checkpoint: Path  # that generator checkpoint (its training state lies beside it)
    config: RunConfig  # the parent's config with the overrides, checked
    changed: dict[str, Any]  # the overrides that differ from the parent's settings


def parse_target(text: str) -> tuple[Path, int | None]:
    """``RUN_DIR`` or ``RUN_DIR@STEP`` (no step: the latest checkpoint)."""
    path, at, step = text.rpartition("@")
    if not at:
        return Path(text), None
    if not step.isdigit():
        raise ConfigError(f"--fork {text}: the step after @ must be a whole number, not "
                          f"{step!r}")
    return Path(path), int(step)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``section.key=value`` settings; a value is read as JSON (numbers, true, null, lists)
    and otherwise kept as text."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--set {item}: expected section.key=value, e.g. "
                              "optim.lr_g=1e-4")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        out[key.strip()] = value
    return out


def plan_fork(parent_dir: str | Path, step: int | None, overrides: dict[str, Any]) -> ForkPlan:
    """What a fork of ``parent_dir`` at ``step`` (None: its latest checkpoint) with
    ``overrides`` would start from, checked; ConfigError or RunFolderError when it cannot."""
    run = RunFolder(parent_dir)
    checkpoints = run.checkpoints()
    if not checkpoints:
        raise RunFolderError(f"{run.path} has no checkpoints to fork from.")
    if step is None:
        step = max(checkpoints)
    if step not in checkpoints:
        steps = ", ".join(str(s) for s in checkpoints)
        raise ConfigError(f"{run.path} has no checkpoint at step {step}; it has {steps}.")
    checkpoint = checkpoints[step]
    if not state_path_for(checkpoint).is_file():
        raise RunFolderError(f"{checkpoint} has no training state beside it "
                             f"({state_path_for(checkpoint).name}), so it cannot be forked.")
    sections = {name: {f.name for f in fields(getattr(run.config, name))}
                for name in ("data", "model", "loss", "optim", "train")}
    for key in overrides:
        section, _, name = key.partition(".")
        if name not in sections.get(section, ()):
            raise ConfigError(f"--set {key}: there is no such setting; settings are "
                              f"section.key, e.g. optim.lr_g or train.steps")
        if key.startswith(FIXED_PREFIXES) or key in FIXED_SETTINGS:
            raise ConfigError(f"--set {key}: a fork keeps the networks, data and optimiser of "
                              "the checkpoint it starts from; start a new run to change it")
    config = validate(run.config.replace(**overrides))
    if config.train.steps <= step:
        raise ConfigError(f"train.steps is {config.train.steps}, but the fork starts at step "
                          f"{step}; set train.steps above it (e.g. --set train.steps="
                          f"{step + run.config.train.steps})")
    before = run.config.to_dict()
    changed = {k: v for k, v in overrides.items()
               if before[k.partition(".")[0]][k.partition(".")[2]] != v}
    return ForkPlan(run.path, step, checkpoint, config, changed)


def parent_record(plan: ForkPlan, new_dir: str | Path) -> dict:
    """The ``parent`` entry of the fork's run.json: the parent's folder relative to the
    fork's (so the two can move together), the step, the checkpoint's file name."""
    run = os.path.relpath(plan.parent.resolve(), Path(new_dir).resolve())
    return {"run": run, "step": plan.step, "checkpoint": plan.checkpoint.name}


def check_new_dir(plan: ForkPlan, new_dir: str | Path) -> Path:
    """The fork's folder: new (or empty), never the parent or inside it."""
    new = Path(new_dir)
    parent = plan.parent.resolve()
    resolved = new.resolve()
    if resolved == parent or parent in resolved.parents:
        raise ConfigError(f"{new} is the run being forked or inside it; a fork writes a folder "
                          "of its own")
    if new.exists() and (not new.is_dir() or any(new.iterdir())):
        raise ConfigError(f"{new} already exists and is not empty; pick a new folder for the "
                          "fork")
    return new


def fork(parent_dir: str | Path, step: int | None, overrides: dict[str, Any],
         new_dir: str | Path, **trainer_options: Any):
    """A Trainer (not yet run) that continues ``parent_dir`` from ``step`` with
    ``overrides`` into the new run folder ``new_dir``."""
    from ganstudio.engine.trainer import Trainer

    plan = plan_fork(parent_dir, step, overrides)
    new = check_new_dir(plan, new_dir)
    return Trainer(plan.config, run_dir=new, resume=plan.checkpoint,
                   parent=parent_record(plan, new), **trainer_options)
