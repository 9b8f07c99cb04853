"""The training loop: a plain generator of typed events.

::

    trainer = Trainer(config, run_dir="runs/demo")
    for event in trainer.run():          # StartedEvent, StepEvent, SamplesEvent, ...
        ...
    trainer.commands.put(Pause())        # from any thread; applied between steps

The same loop drives the CLI, the desktop app's worker thread and the tests. With a
``run_dir`` it also records every event into that run folder.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import queue
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganstudio.engine import diagnostics, distributed, losses, plane_views
from ganstudio.engine.augment import diff_augment
from ganstudio.engine.checkpoint import (
    checkpoint_paths,
    read_training_state,
    resolve_checkpoint,
    save_generator,
    save_training_state,
    state_path_for,
    write_latest,
)
from ganstudio.engine.config import RunConfig, check_hyper, check_model, validate
from ganstudio.engine.data.batches import BatchSource, open_source
from ganstudio.engine.devices import autocast_dtype, available_memory, describe, resolve_device
from ganstudio.engine.errors import CheckpointError, ConfigError, DiskFullError
from ganstudio.engine.events import (
    AlertEvent,
    CheckpointEvent,
    DoneEvent,
    EvalEvent,
    HyperEvent,
    Pause,
    Resume,
    RollbackEvent,
    SamplesEvent,
    SaveNow,
    SetHyper,
    StartedEvent,
    StatusEvent,
    StepD,
    StepEvent,
    StepG,
    StepOnce,
    Stop,
)
from ganstudio.engine.images import from_uint8, make_grid, to_uint8
from ganstudio.engine.metrics.registry import EvalContext, evaluations_for
from ganstudio.engine.nets import (
    activation_elements,
    build_networks,
    build_on_meta,
    check_parameter_count,
)
from ganstudio.engine.nets.layers import eval_mode
from ganstudio.engine.readers import format_size
from ganstudio.engine.runs import RunWriter, is_disk_full
from ganstudio.engine.view2d import view_extent

# How often the last-good copy of the weights is refreshed for the NaN guard.
GUARD_EVERY = 100
# Steps between reads of the loss scalars on an accelerator (each read is a GPU-to-CPU sync).
# On the CPU there is no sync to save, so every step is reported as it happens.
ACCELERATOR_REPORT_EVERY = 20
# Real points drawn beside the generated ones in 2-D snapshots.
REFERENCE_POINTS = 1000
# The side of the grid on which D's output is sampled for 2-D snapshots.
FIELD_SIZE = 64
# The divergence warning: D(x) and D(G(z)) smoothed over about this many steps.
DIVERGENCE_WINDOW = 200
# Training images whose pixel means set a sigmoid output's bias (model.output_bias)
MARGINAL_SAMPLES = 60_000


class Trainer:
    """Trains one GAN from a :class:`RunConfig`, optionally resuming from a checkpoint."""

    def __init__(
        self,
        config: RunConfig,
        run_dir: str | Path | None = None,
        resume: str | Path | None = None,
        commands: queue.SimpleQueue | None = None,
        data_source: Callable[[torch.device, torch.Generator], BatchSource] | None = None,
        parent: dict | None = None,
    ):
        """``data_source(device, rng)``: the batches to train on instead of the config's
        dataset (scripts and tests; the run folder records the source's dataset).
        ``parent``: the run a fork starts from, recorded in run.json (see forks.py)."""
        self.config = validate(config)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.resume_path = Path(resume) if resume is not None else None
        self._data_source = data_source
        self.parent = parent
        # A caller may hand in the queue, so it can send commands before the trainer exists.
        self.commands: queue.SimpleQueue = commands if commands is not None else queue.SimpleQueue()
        self.step = 0

    # --- commands, callable from any thread (SimpleQueue.put is even signal-safe) ----------

    def pause(self) -> None:
        self.commands.put(Pause())

    def resume(self) -> None:
        self.commands.put(Resume())

    def stop(self) -> None:
        self.commands.put(Stop())

    def step_once(self) -> None:
        self.commands.put(StepOnce())

    def step_d(self) -> None:
        self.commands.put(StepD())

    def step_g(self) -> None:
        self.commands.put(StepG())

    def save_now(self) -> None:
        self.commands.put(SaveNow())

    def set_hyper(self, lr_g=None, lr_d=None, d_steps=None) -> None:
        """Change learning rates or d_steps from the next step; a ConfigError, raised here on
        the caller's side, says what is wrong with a value (the run goes on untouched)."""
        found = self._check_hyper(lr_g, lr_d, d_steps)
        if found:
            raise ConfigError("; ".join(str(p) for p in found))
        self.commands.put(SetHyper(lr_g, lr_d, d_steps))

    def _check_hyper(self, lr_g, lr_d, d_steps) -> list:
        return check_hyper(lr_g, lr_d, d_steps, self.config.optim.updates)

    # --- set-up -----------------------------------------------------------------------------

    def _setup(self) -> None:
        cfg = self.config
        torch.manual_seed(cfg.train.seed)  # the same initial weights on every rank
        self.world = distributed.from_environment()
        self.device = distributed.start(self.world, resolve_device(cfg.train.device))
        if not self.world.leader:
            self.run_dir = None  # rank 0 alone writes the run folder
        # One generator on the device draws data indices, noise and penalty mixes; each rank
        # draws its own batches.
        self.rng = torch.Generator(self.device).manual_seed(
            cfg.train.seed + 1 + 1_000_003 * self.world.rank)
        if self._data_source is not None:
            self.source = self._data_source(self.device, self.rng)
        else:
            self.source = open_source(cfg.data, self.device, self.rng, self.world.rank)
        self.data = self.source.dataset  # the set in memory, for the 2-D views and modes
        info = self.info = self.source.info
        if cfg.data.is_real:  # its classes are known now that it is prepared
            found = check_model(cfg.model, info)
            if found:
                raise ConfigError(f"{found[0]} (data.source {cfg.data.source})")
        _check_cost(cfg, info, self.device)
        self.G, self.D = build_networks(cfg.model, info, cfg.loss.name)
        if cfg.model.output_bias == "marginals":
            self.G.init_output_bias(self._pixel_marginals())
        self.G.to(self.device)
        self.D.to(self.device)
        if self.world.distributed:
            distributed.broadcast_parameters(self.G)
            distributed.broadcast_parameters(self.D)
        convolutional = cfg.model.family in ("dcgan", "resnet")
        self.amp_dtype = autocast_dtype(self.device, convolutional)
        self.memory_format = torch.preserve_format
        if self.device.type == "cuda" and convolutional:
            self.memory_format = torch.channels_last
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.G_ema = None
        if cfg.train.ema:
            self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.opt_g = _optimizer(cfg, self.G.parameters(), cfg.optim.lr_g)
        self.opt_d = _optimizer(cfg, self.D.parameters(), cfg.optim.lr_d)
        self.d_steps = cfg.optim.d_steps
        self.augment_p = cfg.train.augment_p  # adaptive augmentation may move it
        self._setup_diagnostics()
        self.params_g = [p for p in self.G.parameters() if p.requires_grad]
        self.params_d = [p for p in self.D.parameters() if p.requires_grad]
        self.conditional = bool(cfg.model.conditional)

        self.output_range = self.G.output_range
        self._make_fixed_noise()
        self.view_extent = None if self.info.is_image else view_extent(self.data.x.numpy())
        self._evaluations = evaluations_for(cfg.train.evals, self.source)
        self.elapsed = 0.0
        self.step = 0
        if self.resume_path is not None:
            self._load_state(self.resume_path)
        self._good = self._copy_state()

    def _make_fixed_noise(self) -> None:
        """The noise (and labels) behind every progress snapshot, fixed for the whole run."""
        g = torch.Generator().manual_seed(self.config.train.seed + 2)
        n = self.config.train.grid_size
        self.fixed_y = None
        self.grid_nrow = max(1, round(math.sqrt(n)))
        if self.conditional:
            classes = len(self.info.classes)
            if self.info.is_image:
                # one row per class
                self.grid_nrow = max(4, min(16, round(math.sqrt(n))))
                n = classes * self.grid_nrow
                self.fixed_y = torch.arange(classes).repeat_interleave(self.grid_nrow)
            else:
                self.fixed_y = torch.arange(n) % classes
            self.fixed_y = self.fixed_y.to(self.device)
        self.fixed_z = torch.randn(n, self.G.z_dim, generator=g).to(self.device)

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> Iterator:
        self._setup()
        self.reference_points = None
        if not self.info.is_image:
            pick = torch.randperm(len(self.data), generator=torch.Generator().manual_seed(0))
            self.reference_points = self.data.x[pick[:REFERENCE_POINTS]].numpy()
        writer = self._writer = None
        self._saved_step: int | None = None
        if self.run_dir is not None:
            writer = self._writer = RunWriter(self.run_dir, self.config, self.info.to_dict(),
                                              parent=self.parent)
        emit = writer.write if writer is not None else (lambda e: e)
        status = "failed"
        try:
            yield from map(emit, self._events())
            status = "finished"
        except GeneratorExit:
            status = "stopped"
            raise
        except OSError as e:
            if not is_disk_full(e):
                raise
            status = "stopped"  # nothing is wrong with the run: it resumes once there is room
            raise DiskFullError(self._disk_full_message(e)) from None
        finally:
            self.source.close()
            if writer is not None:
                writer.close(status)
            distributed.stop(self.world)

    def _disk_full_message(self, error: OSError) -> str:
        what = f"writing {error.filename}" if error.filename else f"a write in {self.run_dir}"
        kept = (f"the last good checkpoint (step {self._saved_step}) is kept"
                if self._saved_step is not None else "no checkpoint had been saved yet")
        return (f"The disk is full: {what} failed at step {self.step}. Training stopped; "
                f"{kept}. Free some space, then continue with: ganstudio train --resume "
                f"{self.run_dir}")

    def _events(self) -> Iterator:
        cfg = self.config.train
        total = cfg.steps
        yield StartedEvent(
            step=self.step, total_steps=total, device=str(self.device),
            device_name=describe(self.device, self.amp_dtype) + (
                f" × {self.world.size} processes" if self.world.distributed else ""),
            params_g=_count(self.G), params_d=_count(self.D),
            run_dir=str(self.run_dir) if self.run_dir else None,
            kind=self.info.kind,
            classes=self.info.classes if self.conditional else (),
            real_points=self.reference_points,
        )
        if self.step == 0:
            yield from self._snapshot_events()
        report_every = 1 if self.device.type == "cpu" else ACCELERATOR_REPORT_EVERY
        self._pending: list[torch.Tensor] = []
        self._pending_moves: list[str] = []
        self._rate = _RateMeter(self.step)
        self._divergence = _DivergenceWatch(self.config.loss.name)
        self.paused, self._stop = False, False
        self._allowed: deque[str] = deque()  # steps a learner asked for while paused
        reason = "finished"
        started = time.perf_counter()
        while self.step < total:
            yield from self._apply_commands()
            if self.world.distributed:  # every rank stops at the same step
                self._stop = distributed.any_rank(self._stop, self.world, self.device)
            if self._stop:
                reason = "stopped"
                break
            if self.paused and not self._allowed:
                self.elapsed += time.perf_counter() - started
                yield from self._wait_for_command()
                started = time.perf_counter()
                continue
            moved = self._allowed.popleft() if self._allowed else "both"
            self._schedule()
            self._train_step(moved)
            self.step += 1
            step = self.step
            diagnose = cfg.diag_every and step % cfg.diag_every == 0
            if (step % report_every == 0 or self._allowed or self.paused or step == total
                    or diagnose):
                self.elapsed += time.perf_counter() - started
                started = time.perf_counter()
                yield from self._report()
            if diagnose and self.step == step:  # (not after a rollback)
                yield from self._diagnose(moved)
            if step % cfg.sample_every == 0 and step != total:
                yield from self._snapshot_events()
            if cfg.eval_every and step % cfg.eval_every == 0 and step != total:
                yield from self._evaluate()
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step != total:
                yield from self._checkpoint()
        self.elapsed += time.perf_counter() - started
        yield from self._report()
        yield from self._snapshot_events()
        yield from self._evaluate()
        yield from self._checkpoint(final=True)
        yield DoneEvent(self.step, reason, self.elapsed)

    def _train_step(self, moved: str = "both") -> None:
        """One G update after ``d_steps`` D updates, as in the PyTorch DCGAN example; or,
        for a learner's Step D / Step G, one update of that network alone."""
        G, name = self.G, self.config.loss.name
        batch = self.config.train.batch_size
        if moved == "G":
            self._g_step_alone(batch)
            return
        if moved == "both" and self.config.optim.updates == "simultaneous":
            self._simultaneous_step(batch)
            return
        d_steps = 1 if moved == "D" else self.d_steps
        for d_step in range(d_steps):
            real, labels = self._real_batch(batch)
            z = torch.randn(batch, G.z_dim, generator=self.rng, device=self.device)
            last = d_step == d_steps - 1 and moved == "both"

            # (1) update D: maximise log D(x) + log(1 - D(G(z))) (or the chosen loss's form).
            # Only the last D step's fakes feed the G update; the others need no graph.
            with self._autocast(), torch.set_grad_enabled(last):
                fake = G(z, labels)
            # D sees real and fake through the same kind of random augmentation (DiffAugment)
            real, fake_d = self._augment(real), self._augment(fake.detach())
            loss_d, real_logits, fake_logits = self._d_objective(real, fake_d, labels,
                                                                 r1=d_step == 0)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            if self.world.distributed:
                distributed.average_gradients(self.params_d, self.world)
            grad_d = _grad_norm(self.params_d)
            self.opt_d.step()
        if moved == "D":
            # G's loss against the D it faced (it did not move): a value, no update
            loss_g = losses.g_loss(name, fake_logits.detach())
            grad_g = torch.zeros((), device=self.device)
        else:
            loss_g, _, grad_g = self._update_g(fake, labels)
        self._record_step(moved, loss_g, loss_d, real_logits, fake_logits, grad_g, grad_d)

    def _d_objective(self, real: torch.Tensor, fake: torch.Tensor, labels, r1: bool):
        """D's loss on a (augmented) real and fake batch, with the loss's gradient penalty and,
        on ``r1`` steps when R1 is due, the R1 penalty; and D's logits on both batches."""
        D, name, loss = self.D, self.config.loss.name, self.config.loss
        with self._autocast():
            real_logits = D(real, labels).float()
            fake_logits = D(fake, labels).float()
        loss_d = losses.d_loss(name, real_logits, fake_logits)
        critic = functools.partial(_logits, D, labels=labels)
        if name == "wgan-gp":
            penalty = losses.gradient_penalty(critic, real, fake.detach().float(), self.rng)
            loss_d = loss_d + loss.gp_lambda * penalty
        if r1 and loss.r1_gamma > 0 and self.step % loss.r1_every == 0:
            loss_d = loss_d + self._r1_weight() * losses.r1_penalty(critic, real)
        return loss_d, real_logits, fake_logits

    def _record_step(self, moved: str, loss_g, loss_d, real_logits, fake_logits, grad_g,
                     grad_d) -> None:
        """The step's values, kept on the device: read at the next report, not here (that
        would be a sync point); with r_t's term, which side of D's boundary the real batch
        fell on."""
        name = self.config.loss.name
        real_side = diagnostics.real_side(real_logits, self._boundary)
        if self.world.distributed:
            real_side = distributed.average(real_side, self.world)
        self._pending.append(torch.stack([
            loss_g.detach(), loss_d.detach(),
            losses.d_output(name, real_logits.detach()).mean(),
            losses.d_output(name, fake_logits.detach()).mean(),
            grad_g, grad_d, real_side,
        ]))
        self._pending_moves.append(moved)

    def _simultaneous_step(self, batch: int) -> None:
        """Both updates from one pass, as pylearn2's SGD trains the 2014 GAN: D's gradient and
        G's come from the same fakes through the same D (one dropout mask), both taken before
        either network moves, then applied together."""
        real, labels = self._real_batch(batch)
        z = torch.randn(batch, self.G.z_dim, generator=self.rng, device=self.device)
        with self._autocast():
            fake = self.G(z, labels)
        real, fake_d = self._augment(real), self._augment(fake)
        loss_d, real_logits, fake_logits = self._d_objective(real, fake_d, labels, r1=True)
        loss_g = losses.g_loss(self.config.loss.name, fake_logits)
        grads_d = torch.autograd.grad(loss_d, self.params_d, retain_graph=True,
                                      allow_unused=True)
        grads_g = torch.autograd.grad(loss_g, self.params_g, allow_unused=True)
        for params, grads in ((self.params_d, grads_d), (self.params_g, grads_g)):
            for p, g in zip(params, grads, strict=True):
                p.grad = g
        if self.world.distributed:
            distributed.average_gradients(self.params_d, self.world)
            distributed.average_gradients(self.params_g, self.world)
        grad_d, grad_g = _grad_norm(self.params_d), _grad_norm(self.params_g)
        self.opt_d.step()
        self.opt_g.step()
        if self.G_ema is not None:
            self._update_ema()
        self._record_step("both", loss_g, loss_d, real_logits, fake_logits, grad_g, grad_d)

    def _update_g(self, fake: torch.Tensor, labels: torch.Tensor | None):
        """(2) update G: maximise log D(G(z)) (the non-saturating form by default). D's
        parameters are left out of this backward pass: their gradients would be thrown away.
        Returns G's loss, D's logits on the fakes and the norm of G's gradients."""
        D = self.D
        D.requires_grad_(False)
        try:
            with self._autocast():
                fake_logits_g = D(self._augment(fake), labels).float()
            loss_g = losses.g_loss(self.config.loss.name, fake_logits_g)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        finally:
            D.requires_grad_(True)
        if self.world.distributed:
            distributed.average_gradients(self.params_g, self.world)
        grad_g = _grad_norm(self.params_g)
        self.opt_g.step()
        if self.G_ema is not None:
            self._update_ema()
        return loss_g, fake_logits_g, grad_g

    def _g_step_alone(self, batch: int) -> None:
        """A learner's Step G: one G update on fresh noise, D untouched (no real batch is
        drawn, so D's values on real data are not known: NaN)."""
        labels = None
        if self.conditional:
            labels = torch.randint(len(self.info.classes), (batch,), generator=self.rng,
                                   device=self.device)
        z = torch.randn(batch, self.G.z_dim, generator=self.rng, device=self.device)
        with self._autocast():
            fake = self.G(z, labels)
        loss_g, fake_logits, grad_g = self._update_g(fake, labels)
        nan = torch.full((), math.nan, device=self.device)
        self._pending.append(torch.stack([
            loss_g.detach(), nan, nan,
            losses.d_output(self.config.loss.name, fake_logits.detach()).mean(),
            grad_g, torch.zeros((), device=self.device), nan,
        ]))
        self._pending_moves.append("G")

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        """DiffAugment before D (Zhao et al. 2020), on images in the generator's range."""
        policy = self.config.train.augment
        if not policy or self.output_range is None or self.augment_p == 0:
            return x
        lo, hi = self.output_range
        unit = (x - lo) * (2.0 / (hi - lo)) - 1.0  # the transforms work in [-1, 1]
        out = diff_augment(unit, policy, self.augment_p, self.rng)
        return (out + 1.0) * ((hi - lo) / 2.0) + lo

    def _r1_weight(self) -> float:
        """The R1 term's weight when it is applied: γ/2, times the D updates it stands for.

        R1 is applied on the first of the ``d_steps`` D updates of every ``r1_every``-th
        step (lazy regularisation, StyleGAN2), so one application stands in for
        ``r1_every · d_steps`` updates; weighting it by that count keeps the penalty per D
        update at γ/2 whatever ``d_steps`` is.
        """
        loss = self.config.loss
        return 0.5 * loss.r1_gamma * loss.r1_every * self.d_steps

    def _real_batch(self, batch: int):
        x, y = self.source.next_batch(batch)
        if self.output_range is not None:
            x = from_uint8(x, self.output_range)
            x = x.contiguous(memory_format=self.memory_format)
        return x, (y if self.conditional else None)

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.config.train.ema_decay, (1 + self.step) / (10 + self.step))
        ema_params = list(self.G_ema.parameters())
        torch._foreach_lerp_(ema_params, list(self.G.parameters()), 1.0 - decay)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    @property
    def sampler(self) -> nn.Module:
        """The generator that samples: the EMA copy when it is enabled."""
        return self.G_ema if self.G_ema is not None else self.G

    # --- reports, snapshots, evaluations -----------------------------------------------------

    def _report(self) -> Iterator:
        """Read the pending scalars (one sync), yield their StepEvents, and guard against NaN."""
        if not self._pending:
            return
        rows = torch.stack(self._pending).cpu().tolist()
        moves = list(self._pending_moves)
        self._pending.clear()
        self._pending_moves.clear()
        first = self.step - len(rows) + 1
        lr_g, lr_d = self.opt_g.param_groups[0]["lr"], self.opt_d.param_groups[0]["lr"]
        its = self._rate.update(self.step)
        for i, (row, moved) in enumerate(zip(rows, moves)):
            loss_g, loss_d, d_real, d_fake, grad_g, grad_d, real_side = row
            # a G step alone has no real batch: its D values are NaN by design
            checked = (loss_g, d_fake) if moved == "G" else (loss_g, loss_d, d_real, d_fake)
            if not all(math.isfinite(v) for v in checked):
                yield from self._recover(first + i)
                return
            yield StepEvent(
                first + i, loss_g, loss_d, d_real, d_fake, grad_g, grad_d,
                lr_g, lr_d, self.d_steps, its, self.elapsed, moved,
            )
            if moved == "both":
                warning = self._divergence.update(first + i, d_real, d_fake)
                if warning:
                    yield AlertEvent(first + i, "warning", "divergence", warning)
            self._overfit.add(real_side)
            if self._ada is not None:
                self._ada.add(real_side)
                self.augment_p = self._ada.p
        if self.step - self._good["step"] >= GUARD_EVERY and self._state_is_finite():
            self._good = self._copy_state()

    def _recover(self, bad_step: int) -> Iterator:
        """Stop updating, go back to the last good state, pause, and say so.

        Everything that produced the weights goes back with them (step, optimisers, RNG
        states, the data position), and the run folder records the rollback, so that its
        history after this is the history of these weights.
        """
        self._pending.clear()
        self._pending_moves.clear()
        self._restore_state(self._good)
        self.paused = True
        self._allowed.clear()
        yield RollbackEvent(self.step, bad_step)
        yield AlertEvent(
            bad_step, "error", "nonfinite",
            f"The loss became NaN or infinite at step {bad_step}. Training is paused and "
            f"rolled back to step {self.step}, the last good weights. Lower the learning "
            "rates (or switch to a more stable loss), then resume.",
        )
        yield StatusEvent(self.step, "paused")

    def _copy_state(self) -> dict:
        state = {
            "step": self.step, "elapsed": self.elapsed,
            "G": _clone(self.G.state_dict()), "D": _clone(self.D.state_dict()),
            "opt_g": copy.deepcopy(self.opt_g.state_dict()),
            "opt_d": copy.deepcopy(self.opt_d.state_dict()),
            "rng_torch": torch.get_rng_state(), "rng_run": self.rng.get_state(),
            "data": copy.deepcopy(self.source.state_dict()),
            "diagnostics": self._diagnostics_state(),
        }
        if self.G_ema is not None:
            state["G_ema"] = _clone(self.G_ema.state_dict())
        return state

    def _restore_state(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        lrs = (self.opt_g.param_groups[0]["lr"], self.opt_d.param_groups[0]["lr"])
        self.opt_g.load_state_dict(copy.deepcopy(state["opt_g"]))
        self.opt_d.load_state_dict(copy.deepcopy(state["opt_d"]))
        self._set_lr(*lrs)  # keep any learning rate the user set since
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["G_ema"])
        torch.set_rng_state(state["rng_torch"])
        self.rng.set_state(state["rng_run"])
        self.source.load_state_dict(state["data"])
        self._load_diagnostics_state(state["diagnostics"])
        self.step, self.elapsed = state["step"], state["elapsed"]
        self._rate = _RateMeter(self.step)

    def _state_is_finite(self) -> bool:
        tensors = [t for t in self.G.state_dict().values() if t.is_floating_point()]
        tensors += [t for t in self.D.state_dict().values() if t.is_floating_point()]
        return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        with eval_mode(self.sampler) as sampler, self._autocast():
            return sampler(z, labels).float()

    def _snapshot_events(self) -> Iterator:
        """The snapshot of the fixed noise and, with diagnostics on, the collapse record."""
        out = self.generate(self.fixed_z, self.fixed_y)
        yield self._snapshot(out)
        if self.config.train.diag_every:
            watch = self._collapse_watch()
            fresh = self._class_samples() if watch.classes else None
            event, alerts = watch.record(self.step, out, fresh)
            yield event
            yield from alerts

    def _class_samples(self) -> torch.Tensor:
        """As many samples as the snapshot's, from new noise at every snapshot, for the
        classes check; drawn from a stream of their own, so that diagnosing never changes
        the training trajectory."""
        if self._class_rng is None:
            self._class_rng = torch.Generator(device=self.device)
            self._class_rng.manual_seed(self.config.train.seed * 1_000_003 + 11)
        n = len(self.fixed_z)
        z = torch.randn(n, self.G.z_dim, generator=self._class_rng, device=self.device)
        labels = None
        if self.conditional:
            labels = torch.randint(len(self.info.classes), (n,), generator=self._class_rng,
                                   device=self.device)
        return self.generate(z, labels)

    def _snapshot(self, out: torch.Tensor) -> SamplesEvent:
        labels = self.fixed_y.cpu().numpy() if self.fixed_y is not None else None
        if self.info.is_image:
            grid = make_grid(to_uint8(out, self.output_range), self.grid_nrow)
            return SamplesEvent(self.step, grid=grid, labels=labels, nrow=self.grid_nrow,
                                n=out.shape[0])
        field = self._discriminator_field()
        directions = plane_views.update_directions(self.D, out, self.fixed_y,
                                                   self.config.loss.name)
        manifold = None if self.conditional else plane_views.latent_manifold(
            self.generate, self.G.z_dim, self.device)
        return SamplesEvent(self.step, points=out.cpu().numpy(), labels=labels, n=out.shape[0],
                            field=field, extent=self.view_extent, directions=directions,
                            manifold=manifold)

    @torch.no_grad()
    def _discriminator_field(self):
        """D's output over the plane (unconditional D only: a class-aware D has one per class)."""
        if self.conditional:
            return None
        x0, x1, y0, y1 = self.view_extent
        xs = torch.linspace(x0, x1, FIELD_SIZE, device=self.device)
        ys = torch.linspace(y1, y0, FIELD_SIZE, device=self.device)  # top row first
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1).reshape(-1, 2)
        with eval_mode(self.D) as D:
            logits = D(grid).float()
        out = losses.d_output(self.config.loss.name, logits)
        return out.reshape(FIELD_SIZE, FIELD_SIZE).cpu().numpy().astype(np.float32)

    # --- stability diagnostics (ganstudio.engine.diagnostics) ------------------------------

    def _setup_diagnostics(self) -> None:
        cfg = self.config
        self._boundary = diagnostics.boundary_of(cfg.loss.name)
        self._overfit = diagnostics.OverfitWatch(cfg.loss.name, self._hold_out() > 0)
        self._ada = None
        if cfg.train.ada:
            t = cfg.train
            self._ada = diagnostics.AdaptiveAugment(
                t.augment_p, t.ada_target, t.ada_interval, t.ada_kimg,
                t.batch_size * self.world.size)
        self._gradients = diagnostics.GradientWatch(self.G, self.D)
        self._gap: tuple | None = None
        self._collapse: diagnostics.CollapseWatch | None = None
        self._class_rng: torch.Generator | None = None

    def _hold_out(self) -> int:
        return getattr(self.source, "hold_out", 0)

    def _diagnostics_state(self) -> dict:
        """What the diagnostics carry from step to step: resumed with the run, so that ADA's
        p and the r_t of the next record are those of the uninterrupted run."""
        return {"ada": self._ada.state_dict() if self._ada is not None else None,
                "overfit": self._overfit.state_dict()}

    def _load_diagnostics_state(self, state: dict) -> None:
        self._overfit.load_state_dict(state["overfit"])
        # p moves only under ADA: a run that turns ADA on or off starts from its config's p
        if self._ada is not None and state["ada"] is not None:
            self._ada.load_state_dict(state["ada"])
            self.augment_p = self._ada.p

    def _diagnose(self, moved: str) -> Iterator:
        """The overfit record and, after a step of both networks, the gradient table."""
        sets = self._gap_sets()
        event, alert = self._overfit.record(
            self.step, diagnostics.raw_outputs(self.D, sets),
            self.augment_p if self.config.train.augment else None)
        yield event
        if alert is not None:
            yield alert
        if moved != "both":  # the network that stood still holds an older step's gradients
            return
        g, d = self._gradients.norms("G"), self._gradients.norms("D")
        norms = torch.cat([g.to(self.device), d.to(self.device)]).cpu().tolist()
        event, alert = self._gradients.record(self.step, norms[: len(g)], norms[len(g):])
        yield event
        if alert is not None:
            yield alert

    def _gap_sets(self) -> dict:
        """Training samples, held-out samples (when the source has some) and fakes from fixed
        noise, for D's outputs in the overfit record; the real ones are chosen once."""
        if self._gap is None:
            n = diagnostics.GAP_SAMPLES
            x, y = self.source.sample(n, self.config.train.seed + 3)
            sets = {"d_train": (self._as_input(x), self._as_labels(y))}
            if self._hold_out():
                hx, hy = self.source.held_out(min(n, self._hold_out()))
                sets["d_heldout"] = (self._as_input(hx), self._as_labels(hy))
            g = torch.Generator().manual_seed(self.config.train.seed + 4)
            z = torch.randn(len(x), self.G.z_dim, generator=g).to(self.device)
            self._gap = (sets, z, sets["d_train"][1])
        sets, z, labels = self._gap
        with torch.no_grad(), eval_mode(self.G) as G, self._autocast():
            fake = G(z, labels).float()
        return {**sets, "d_fake": (fake, labels)}

    def _as_input(self, x: torch.Tensor) -> torch.Tensor:
        """Real samples as D takes them, on the device."""
        x = x.to(self.device)
        if self.output_range is not None:
            x = from_uint8(x, self.output_range).contiguous(memory_format=self.memory_format)
        return x

    def _as_labels(self, y: torch.Tensor | None) -> torch.Tensor | None:
        return y.to(self.device) if self.conditional and y is not None else None

    def _collapse_watch(self) -> diagnostics.CollapseWatch:
        """Built at the first snapshot: real samples in the diversity feature space."""
        if self._collapse is None:
            n = len(self.fixed_z)
            real, _ = self.source.sample(n, self.config.train.seed + 5)
            reference, _ = self.source.sample(diagnostics.REFERENCE_SAMPLES,
                                              self.config.train.seed + 6)
            # building a classifier initialises weights from torch's global generator, which
            # drives dropout: fork it, so that diagnosing never changes the trajectory
            with torch.random.fork_rng(devices=[]):
                featurise, classes = diagnostics.sample_features(self.info, self.output_range,
                                                                 self.device)
            if self.output_range is not None:
                real = from_uint8(real, self.output_range)
                reference = from_uint8(reference, self.output_range)
            self._collapse = diagnostics.CollapseWatch(featurise, real, reference, classes)
        return self._collapse

    # --- the schedules of the learning rate and of SGD's momentum -----------------------------

    def _schedule(self) -> None:
        """Before each update: the learning rates decay (from the second step on) and SGD's
        momentum follows its ramp over epochs, as pylearn2's ExponentialDecay and
        MomentumAdjustor did for the 2014 GAN."""
        o = self.config.optim
        if o.lr_decay != 1.0 and self.step > 0:
            self._set_lr(max(self.opt_g.param_groups[0]["lr"] / o.lr_decay, o.lr_min),
                         max(self.opt_d.param_groups[0]["lr"] / o.lr_decay, o.lr_min))
        if o.momentum_final is not None:
            images = self.step * self.config.train.batch_size * self.world.size
            # pylearn2 counts one monitor call before the first epoch, then one per epoch
            count = images // max(1, len(self.source)) + 1
            span = o.momentum_saturate - o.momentum_start
            alpha = (float(count >= o.momentum_start) if span == 0 else
                     min(1.0, max(0.0, (count - o.momentum_start) / span)))
            momentum = o.beta1 + alpha * (o.momentum_final - o.beta1)
            for group in (*self.opt_g.param_groups, *self.opt_d.param_groups):
                group["momentum"] = momentum

    def _pixel_marginals(self) -> torch.Tensor:
        """Each pixel's mean over the training images, in 0..1 (C, H, W)."""
        x, _ = self.source.sample(min(len(self.source), MARGINAL_SAMPLES), 0)
        return x.double().mean(dim=0).div(255.0).float()

    def _evaluate(self) -> Iterator:
        if not self.config.train.eval_every:
            return
        context = EvalContext(
            step=self.step,
            # its own seeded noise, so evaluating never changes the training trajectory
            seed=self.config.train.seed * 1_000_003 + self.step,
            device=self.device, info=self.info, data=self.source, generate=self.generate,
            z_dim=self.G.z_dim,
            classes=self.info.classes if self.conditional else (),
            output_range=self.output_range,
        )
        for evaluation in self._evaluations:
            with torch.random.fork_rng(devices=[]):  # (feature networks are built on first use)
                values = evaluation.run(context)
            yield EvalEvent(self.step, values, name=evaluation.name)

    # --- commands ---------------------------------------------------------------------------

    def _apply_commands(self) -> Iterator:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            yield from self._apply(command)

    def _wait_for_command(self) -> Iterator:
        """While paused, block until a command arrives (the consumer is a worker thread)."""
        try:
            command = self.commands.get(timeout=0.5)
        except queue.Empty:
            return
        yield from self._apply(command)

    def _apply(self, command) -> Iterator:
        if isinstance(command, Pause) and not self.paused:
            yield from self._report()
            self.paused = True
            yield StatusEvent(self.step, "paused")
        elif isinstance(command, Resume) and self.paused:
            self.paused = False
            self._allowed.clear()
            yield StatusEvent(self.step, "running")
        elif isinstance(command, (StepOnce, StepD, StepG)) and self.paused:
            self._allowed.append(_MOVES[type(command)])
        elif isinstance(command, Stop):
            self._stop = True
        elif isinstance(command, SaveNow):
            yield from self._report()
            yield from self._checkpoint()
        elif isinstance(command, SetHyper):
            yield from self._report()
            found = self._check_hyper(command.lr_g, command.lr_d, command.d_steps)
            if found:  # a command never ends a run: say why it was not applied
                yield AlertEvent(self.step, "warning", "hyper",
                                 "A live change was not applied: "
                                 + "; ".join(str(p) for p in found) + ".")
                return
            lr_g = command.lr_g if command.lr_g is not None else self.opt_g.param_groups[0]["lr"]
            lr_d = command.lr_d if command.lr_d is not None else self.opt_d.param_groups[0]["lr"]
            if command.d_steps is not None:
                self.d_steps = command.d_steps
            self._set_lr(lr_g, lr_d)
            yield HyperEvent(self.step, lr_g, lr_d, self.d_steps)

    def _set_lr(self, lr_g: float, lr_d: float) -> None:
        for group in self.opt_g.param_groups:
            group["lr"] = lr_g
        for group in self.opt_d.param_groups:
            group["lr"] = lr_d

    # --- checkpoints ------------------------------------------------------------------------

    def _checkpoint(self, final: bool = False) -> Iterator[CheckpointEvent]:
        """Save the generator and the training state (only when there is a run folder)."""
        if self.run_dir is None:
            return
        folder = self.run_dir / "checkpoints"
        gen_path, state_path = checkpoint_paths(folder, self.step)
        # replace: a checkpoint of this step is an older save of the same step, or of a
        # history that a resume from an earlier step superseded
        save_generator(gen_path, self.sampler.state_dict(), self.generator_metadata(),
                       replace=True)
        save_training_state(state_path, self._training_state(), {"step": self.step},
                            replace=True)
        if self._writer is not None:
            self._writer.flush(durable=True)  # the records of every step it holds come first
        write_latest(folder, self.step, gen_path, state_path)
        self._saved_step = self.step
        yield CheckpointEvent(self.step, str(gen_path), str(state_path), final)

    def generator_metadata(self) -> dict:
        model = self.config.to_dict()["model"]
        model["z_dim"] = self.G.z_dim
        return {
            "step": self.step,
            "family": self.config.model.family,
            "model": model,
            "dataset": {**self.info.to_dict(), "description": self.info.description,
                        **({"prepared": self.source.prepared.key} if self.config.data.is_real
                           else {})},
            "output_range": list(self.output_range) if self.output_range else None,
            "ema": self.G_ema is not None,
            "loss": self.config.loss.name,
            "config": self.config.to_dict(),
        }

    def _training_state(self) -> dict:
        state = {
            "step": self.step,
            "elapsed": self.elapsed,
            "d_steps": self.d_steps,
            "config": self.config.to_dict(),
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "optim_g": self.opt_g.state_dict(),
            "optim_d": self.opt_d.state_dict(),
            "rng_torch": torch.get_rng_state(),
            "rng_run": self.rng.get_state(),
            "data": self.source.state_dict(),
            "diagnostics": self._diagnostics_state(),
        }
        if self.device.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(self.device)
        if self.G_ema is not None:
            state["generator_ema"] = self.G_ema.state_dict()
        return state

    def _load_state(self, path: Path) -> None:
        state_file = state_path_for(resolve_checkpoint(path))
        if not state_file.is_file():
            raise CheckpointError(
                f"{state_file.name} is missing, so {Path(path).name} cannot be resumed "
                "(a generator checkpoint alone can sample, not train on)."
            )
        state, _ = read_training_state(state_file)
        try:
            self.G.load_state_dict(state["generator"])
            self.D.load_state_dict(state["discriminator"])
            if self.G_ema is not None:
                self.G_ema.load_state_dict(state.get("generator_ema", state["generator"]))
            _check_optimizer_state(state["optim_g"], self.opt_g, "optim_g")
            _check_optimizer_state(state["optim_d"], self.opt_d, "optim_d")
            self.opt_g.load_state_dict(state["optim_g"])
            self.opt_d.load_state_dict(state["optim_d"])
            now = {"rng_run": self.rng.get_state()}
            if self.device.type == "cuda" and "rng_cuda" in state:
                now["rng_cuda"] = torch.cuda.get_rng_state(self.device)
            for key, value in now.items():
                if state[key].numel() != value.numel():
                    raise ValueError(f"{key} has {state[key].numel()} bytes, not {value.numel()}")
        except (RuntimeError, KeyError, ValueError) as e:
            raise CheckpointError(
                f"{state_file.name} does not fit this run's networks ({str(e).splitlines()[0]}). "
                "Resume with the settings the checkpoint was trained with."
            ) from None
        saved = RunConfig.from_dict(state["config"]).optim
        now = self.config.optim
        # A learning rate given anew overrides the one saved (which may be a live change).
        self._set_lr(
            now.lr_g if now.lr_g != saved.lr_g else self.opt_g.param_groups[0]["lr"],
            now.lr_d if now.lr_d != saved.lr_d else self.opt_d.param_groups[0]["lr"],
        )
        self.d_steps = now.d_steps if now.d_steps != saved.d_steps else int(state["d_steps"])
        try:
            torch.set_rng_state(state["rng_torch"])
            self.rng.set_state(state["rng_run"])
        except RuntimeError as e:
            raise CheckpointError(f"{state_file}: the training state's random-number generator "
                                  f"state is damaged ({str(e).splitlines()[0]}).") from None
        if "data" in state:
            data_state = state["data"]
            if self.world.distributed and "seed" in data_state:  # each rank's own order
                data_state = {**data_state, "seed": self.source.state_dict()["seed"]}
            self.source.load_state_dict(data_state)
        if "diagnostics" in state:  # absent from states saved before diagnostics existed
            self._load_diagnostics_state(state["diagnostics"])
        if self.world.distributed:  # rank 0's saved stream would give every rank its batches
            self.rng.manual_seed(self.config.train.seed + 1 + 1_000_003 * self.world.rank
                                 + int(state["step"]))
        if self.device.type == "cuda" and "rng_cuda" in state:
            torch.cuda.set_rng_state(state["rng_cuda"], self.device)
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])


_MOVES = {StepOnce: "both", StepD: "D", StepG: "G"}


def _check_cost(cfg: RunConfig, info, device: torch.device) -> None:
    """Refuse networks above the parameter limit, and a batch whose activations would not fit
    in the device's free memory, before anything is allocated (nets built on the meta device)."""
    G, D = build_on_meta(cfg.model, info, cfg.loss.name)
    params = check_parameter_count(G, "The generator") + check_parameter_count(D, "The "
                                                                               "discriminator")
    free = available_memory(device)
    if free is None:
        return
    per_g, per_d = activation_elements(G, D, G.z_dim, info.shape,
                                       len(info.classes) if cfg.model.conditional else 0)
    # float32 activations of G (D steps and the G step) and of D (real, fake, and the G
    # step), kept for the backward pass and matched by their gradients; then the weights,
    # their gradients and Adam's two moments.
    per_sample = 4 * 2 * (2 * per_g + 3 * per_d)
    need = cfg.train.batch_size * per_sample + 4 * 4 * params
    if need > free:
        fits = max(0, (free - 4 * 4 * params) // per_sample)
        raise ConfigError(
            f"train.batch_size {cfg.train.batch_size:,} needs about {format_size(need)} of "
            f"memory on {device}, and {format_size(free)} is free; the largest batch that "
            f"fits is about {fits:,}. Lower the batch size."
        )


def _check_optimizer_state(saved: dict, optimizer: torch.optim.Optimizer, what: str) -> None:
    """A saved optimiser state must fit this optimiser's parameters, tensor by tensor: a wrong
    shape would otherwise fail at the first step, after the run was marked running."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    groups = saved["param_groups"]
    indices = [i for g in groups for i in (g.get("params") or [])]
    if len(groups) != len(optimizer.param_groups) or sorted(indices) != list(range(len(params))):
        raise ValueError(f"{what} holds the state of {len(indices)} parameters, not "
                         f"{len(params)}")
    for index, entry in saved["state"].items():
        if type(index) is not int or not 0 <= index < len(params) or not isinstance(entry, dict):
            raise ValueError(f"{what} has a damaged entry {index!r}")
        for name, value in entry.items():
            if not isinstance(value, torch.Tensor):
                raise ValueError(f"{what}[{index}].{name} is not a tensor")
            if name != "step" and value.shape != params[index].shape:
                raise ValueError(f"{what}[{index}].{name} has shape {tuple(value.shape)}, not "
                                 f"{tuple(params[index].shape)}")


def _optimizer(cfg: RunConfig, params, lr: float) -> torch.optim.Optimizer:
    o = cfg.optim
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=o.beta1)
    if o.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=o.beta1 if o.beta1 else 0.0)
    return torch.optim.Adam(params, lr=lr, betas=(o.beta1, o.beta2))


def _logits(D: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    return D(x, labels).float()


def _grad_norm(params: list[torch.Tensor]) -> torch.Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.nn.utils.get_total_norm(grads)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _clone(state: dict) -> dict:
    return {k: v.detach().clone() for k, v in state.items()}


class _RateMeter:
    """Iterations per second over roughly the last second."""

    def __init__(self, step: int):
        self._history: deque = deque([(time.perf_counter(), step)])
        self.rate = 0.0

    def update(self, step: int) -> float:
        now = time.perf_counter()
        self._history.append((now, step))
        while len(self._history) > 2 and now - self._history[1][0] >= 1.0:
            self._history.popleft()
        t0, s0 = self._history[0]
        if now > t0 and step > s0:
            self.rate = (step - s0) / (now - t0)
        return self.rate


class _DivergenceWatch:
    """Warns when D wins outright for a while: D(x) → 1 and D(G(z)) → 0 (sigmoid losses)."""

    def __init__(self, loss: str):
        self.active = loss in ("minimax", "nonsaturating")
        self.real, self.fake = 0.5, 0.5
        self.warned = False

    def update(self, step: int, d_real: float, d_fake: float) -> str | None:
        if not self.active:
            return None
        a = 1.0 / DIVERGENCE_WINDOW
        self.real += a * (d_real - self.real)
        self.fake += a * (d_fake - self.fake)
        if self.warned and self.fake > 0.1:
            self.warned = False
        if not self.warned and step > DIVERGENCE_WINDOW and self.real > 0.98 and self.fake < 0.02:
            self.warned = True
            return (
                f"The discriminator is winning outright at step {step} (D(x) ≈ {self.real:.2f}, "
                f"D(G(z)) ≈ {self.fake:.3f}), so the generator gets little signal. Try a lower "
                "D learning rate, fewer d_steps, or the hinge or wgan-gp loss."
            )
        return None
