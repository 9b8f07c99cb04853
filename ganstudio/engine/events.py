"""The typed events the trainer yields, and the commands it accepts between steps.

Events carry only cheap, detached data: Python numbers, strings and small numpy arrays.
Never a tensor, never a reference into a model, so any thread may hold on to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class StartedEvent:
    step: int  # the first step to run (0, or the step resumed from)
    total_steps: int
    device: str  # "cpu", "cuda:0", ...
    device_name: str  # for people: "CPU (2 threads)", "NVIDIA H200 (bf16)"
    params_g: int
    params_d: int
    run_dir: str | None


@dataclass(frozen=True)
class StepEvent:
    step: int  # updates of G done so far, counting this one
    loss_g: float
    loss_d: float
    d_real: float  # mean D(x): a probability for the sigmoid losses, else the raw output
    d_fake: float  # mean D(G(z)) in the D update
    grad_g: float  # L2 norm of all of G's gradients
    grad_d: float
    lr_g: float
    lr_d: float
    d_steps: int
    its: float  # training iterations per second, averaged over the last report interval
    elapsed: float  # seconds of training (pauses excluded) since the run started


@dataclass(frozen=True)
class SamplesEvent:
    """A snapshot from the fixed noise: an image grid, or points for 2-D data."""

    step: int
    grid: np.ndarray | None = None  # (H, W, C) uint8
    points: np.ndarray | None = None  # (N, 2) float32
    labels: np.ndarray | None = None  # per point or per grid cell, when conditional
    nrow: int = 0  # grid cells per row
    path: str | None = None  # the PNG in the run folder, once written
    # 2-D data: D's output on a regular grid over ``extent`` (x0, x1, y0, y1), row-major
    # with y growing downwards, as GAN Lab shows the discriminator behind the points
    field: np.ndarray | None = None
    extent: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class EvalEvent:
    step: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckpointEvent:
    step: int
    path: str  # the generator file (enough to sample)
    state_path: str  # the training state beside it (enough to resume)
    final: bool = False


@dataclass(frozen=True)
class AlertEvent:
    step: int
    level: str  # "warning" or "error"
    kind: str  # "nonfinite", "divergence"
    message: str


@dataclass(frozen=True)
class StatusEvent:
    step: int
    state: str  # "running" or "paused"


@dataclass(frozen=True)
class HyperEvent:
    """Hyper-parameters changed while training; they apply from ``step + 1``."""

    step: int
    lr_g: float
    lr_d: float
    d_steps: int


@dataclass(frozen=True)
class DoneEvent:
    step: int
    reason: str  # "finished" or "stopped"
    elapsed: float


Event = (
    StartedEvent | StepEvent | SamplesEvent | EvalEvent | CheckpointEvent | AlertEvent
    | StatusEvent | HyperEvent | DoneEvent
)


# --- commands: put on Trainer.commands from any thread, applied between steps -------------


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class Stop:
    """Stop after the current step and save a final checkpoint."""


@dataclass(frozen=True)
class StepOnce:
    """While paused: run exactly one step, then stay paused."""


@dataclass(frozen=True)
class SaveNow:
    pass


@dataclass(frozen=True)
class SetHyper:
    lr_g: float | None = None
    lr_d: float | None = None
    d_steps: int | None = None


Command = Pause | Resume | Stop | StepOnce | SaveNow | SetHyper


def event_record(event: Any) -> dict[str, Any]:
    """The JSON-ready record of an event, as written to metrics.jsonl."""
    if isinstance(event, StepEvent):
        return {"type": "step", **event.__dict__}
    if isinstance(event, EvalEvent):
        return {"type": "eval", "step": event.step, **event.metrics}
    if isinstance(event, SamplesEvent):
        return {"type": "samples", "step": event.step, "file": event.path}
    if isinstance(event, CheckpointEvent):
        return {"type": "checkpoint", "step": event.step, "file": event.path,
                "state": event.state_path, "final": event.final}
    if isinstance(event, AlertEvent):
        return {"type": "alert", **event.__dict__}
    if isinstance(event, HyperEvent):
        return {"type": "hyper", **event.__dict__}
    if isinstance(event, StatusEvent):
        return {"type": "status", **event.__dict__}
    if isinstance(event, StartedEvent):
        return {"type": "started", **event.__dict__}
    if isinstance(event, DoneEvent):
        return {"type": "done", **event.__dict__}
    raise TypeError(f"not a trainer event: {event!r}")
