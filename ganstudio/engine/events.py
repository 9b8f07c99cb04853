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
    kind: str = "images"  # the dataset's kind: "images" or "points"
    classes: tuple[str, ...] = ()  # class names when the model is conditional
    real_points: np.ndarray | None = None  # 2-D data: a sample of real points to draw


@dataclass(frozen=True)
class StepEvent:
    step: int  # training steps done so far, counting this one
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
    # which network this step updated: "both" (d_steps D updates, then one G update), or "D"
    # or "G" alone (a learner's Step D / Step G); the other network's values are then those
    # it has without moving (a D step's loss_g is G's loss before D moved; a G step has no
    # real batch, so loss_d and d_real are NaN), and its gradient norm is 0
    moved: str = "both"


@dataclass(frozen=True)
class SamplesEvent:
    """A snapshot from the fixed noise: an image grid, or points for 2-D data."""

    step: int
    grid: np.ndarray | None = None  # (H, W, C) uint8
    points: np.ndarray | None = None  # (N, 2) float32
    labels: np.ndarray | None = None  # per point or per grid cell, when conditional
    nrow: int = 0  # grid cells per row
    n: int = 0  # samples in the grid (or points)
    path: str | None = None  # the PNG in the run folder, once written
    # 2-D data: D's output on a regular grid over ``extent`` (x0, x1, y0, y1), row-major
    # with y growing downwards, as GAN Lab shows the discriminator behind the points
    field: np.ndarray | None = None
    extent: tuple[float, float, float, float] | None = None
    # 2-D data: the direction G's next update moves each point, −∂(G's loss)/∂x (N, 2), and
    # G's image of a regular grid of z for 1-D and 2-D z, (rows, columns, 2): one row for 1-D
    directions: np.ndarray | None = None
    manifold: np.ndarray | None = None


@dataclass(frozen=True)
class EvalEvent:
    step: int
    metrics: dict[str, float] = field(default_factory=dict)
    name: str = "modes"  # the evaluation (ganstudio.engine.metrics.registry)


@dataclass(frozen=True)
class DiagEvent:
    """Stability diagnostics (ganstudio.engine.diagnostics): ``overfit`` every
    ``train.diag_every`` steps, ``collapse`` at snapshots; read back as series NAME/VALUE."""

    step: int
    name: str
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GradientsEvent:
    """Per-layer gradient norms of G and D at one step, with the flagged layers
    (``"G:main.0"``)."""

    step: int
    g: dict[str, float] = field(default_factory=dict)
    d: dict[str, float] = field(default_factory=dict)
    exploding: tuple[str, ...] = ()
    vanishing: tuple[str, ...] = ()


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
    kind: str  # "nonfinite", "divergence", "overfitting", "collapse", "classes", "gradients"
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
class RollbackEvent:
    """The NaN guard put back the state of ``step``: records after it are superseded."""

    step: int
    from_step: int  # the step whose loss was not finite


@dataclass(frozen=True)
class DoneEvent:
    step: int
    reason: str  # "finished" or "stopped"
    elapsed: float


Event = (
    StartedEvent | StepEvent | SamplesEvent | EvalEvent | DiagEvent | GradientsEvent
    | CheckpointEvent | AlertEvent | StatusEvent | HyperEvent | RollbackEvent | DoneEvent
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
class StepD:
    """While paused: one update of D alone, then stay paused."""


@dataclass(frozen=True)
class StepG:
    """While paused: one update of G alone, then stay paused."""


@dataclass(frozen=True)
class SaveNow:
    pass


@dataclass(frozen=True)
class SetHyper:
    lr_g: float | None = None
    lr_d: float | None = None
    d_steps: int | None = None


Command = Pause | Resume | Stop | StepOnce | StepD | StepG | SaveNow | SetHyper


def event_record(event: Any) -> dict[str, Any]:
    """The JSON-ready record of an event, as written to metrics.jsonl."""
    if isinstance(event, StepEvent):
        record = {"type": "step", **event.__dict__}
        if event.moved == "both":  # the usual step says nothing more
            del record["moved"]
        return record
    if isinstance(event, EvalEvent):
        return {"type": "eval", "step": event.step, "name": event.name, **event.metrics}
    if isinstance(event, DiagEvent):
        return {"type": "diag", "step": event.step, "name": event.name, **event.values}
    if isinstance(event, GradientsEvent):
        return {"type": "gradients", "step": event.step, "g": event.g, "d": event.d,
                "exploding": list(event.exploding), "vanishing": list(event.vanishing)}
    if isinstance(event, RollbackEvent):
        return {"type": "rollback", "step": event.step, "from": event.from_step}
    if isinstance(event, SamplesEvent):
        return {"type": "samples", "step": event.step, "file": event.path, "nrow": event.nrow,
                "n": event.n}
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
        record = {k: v for k, v in event.__dict__.items() if k != "real_points"}
        return {"type": "started", **record, "classes": list(event.classes)}
    if isinstance(event, DoneEvent):
        return {"type": "done", **event.__dict__}
    raise TypeError(f"not a trainer event: {event!r}")


_RECORD_TYPES = {
    "step": StepEvent, "eval": EvalEvent, "alert": AlertEvent, "hyper": HyperEvent,
    "status": StatusEvent, "done": DoneEvent,
}


def event_from_record(record: dict[str, Any]) -> Any | None:
    """The event a metrics.jsonl record was written from (None for bookkeeping records).

    Sample and checkpoint events come back with their file paths and no arrays; a missing
    value (a non-finite number is written as null) reads as NaN.
    """
    kind = record.get("type")
    try:
        if kind == "eval":
            metrics = {k: v for k, v in record.items() if k not in ("type", "step", "name")}
            return EvalEvent(record["step"], metrics, str(record.get("name", "modes")))
        if kind == "diag":
            values = {k: v for k, v in record.items() if k not in ("type", "step", "name")}
            return DiagEvent(record["step"], str(record["name"]), values)
        if kind == "gradients":
            return GradientsEvent(record["step"], dict(record.get("g") or {}),
                                  dict(record.get("d") or {}),
                                  tuple(record.get("exploding") or ()),
                                  tuple(record.get("vanishing") or ()))
        if kind == "rollback":
            return RollbackEvent(int(record["step"]), int(record.get("from", record["step"])))
        if kind == "samples":
            return SamplesEvent(record["step"], path=record.get("file"),
                                nrow=int(record.get("nrow") or 0), n=int(record.get("n") or 0))
        if kind == "checkpoint":
            return CheckpointEvent(record["step"], record.get("file") or "",
                                   record.get("state") or "", bool(record.get("final")))
        if kind == "started":
            fields = {k: record[k] for k in StartedEvent.__dataclass_fields__ if k in record}
            fields["classes"] = tuple(record.get("classes") or ())
            fields.pop("real_points", None)
            return StartedEvent(**fields)
        cls = _RECORD_TYPES.get(kind)
        if cls is None:
            return None
        fields = {k: record.get(k) for k in cls.__dataclass_fields__}
        if cls is StepEvent:
            fields = {k: float("nan") if v is None else v for k, v in fields.items()}
            fields["step"], fields["d_steps"] = int(record["step"]), int(record.get("d_steps", 1))
            fields["moved"] = str(record.get("moved") or "both")
        return cls(**fields)
    except (KeyError, TypeError, ValueError):
        return None
