"""Stability diagnostics: how training is going beyond its losses, and the alert each one
raises, with a suggested action, when it crosses its line.

- **D overfitting** (Karras et al. 2020, "Training Generative Adversarial Networks with
  Limited Data"): r_t = E[sign(D(x) − b)] over the real batches D trained on since the last
  record (b: the loss's decision boundary), and D's raw outputs on a fixed selection of
  training images, on as many held-out real images (never trained on) and on fakes.
  ``overfit`` = 2·AUC − 1, where AUC is the chance that D scores a training image above a
  held-out one: 0 while D cannot tell them apart, 1 when it ranks every training image
  first. Being a ranking, it reads the same under every loss and at any scale of D's output.
- **Adaptive augmentation** (ADA's heuristic): every N steps the DiffAugment probability p
  moves by sign(r_t − target) · batch · N / (kimg · 1000).
- **Mode collapse:** the fixed-noise batch's mean pairwise distance and its number of distinct
  nearest real neighbours in a feature space, each against a real batch of the same size;
  for labelled data with a classifier, the classes its samples are confidently drawn from.
- **Gradients:** per-layer gradient norms of G and D, with exploding and vanishing layers.

The trainer gathers the per-step values on its device and reads them at its reports, so none
of this adds a synchronisation per step on an accelerator. Results are records
``{"type": "diag", "step": s, "name": NAME, ...values}`` (series ``NAME/VALUE``, as
evaluations) and ``{"type": "gradients", ...}`` tables (see ``ganstudio.engine.runs``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ganstudio.engine.config import BOUNDARIES
from ganstudio.engine.events import AlertEvent, DiagEvent, GradientsEvent

# --- lines ------------------------------------------------------------------------------------
# overfit: D ranks a training image above a held-out one 75% of the time (AUC 0.75), in two
# records in a row; cleared under AUC 0.625. A D that has not memorised scores 0.5 ± 0.03
# (the AUC's spread for 256 against 256 samples), so the line is ten spreads away; ADA's
# Figure 1 shows memorising Ds separating the two sets completely (AUC → 1).
OVERFIT_ON, OVERFIT_OFF = 0.5, 0.25
# r_t alone, where no held-out images exist: 95% of real batches on D's real side for three
# records in a row (ADA's target is 0.6, and r_t → 1 is the overfit end of its scale).
RT_ON, RT_OFF = 0.9, 0.6
# Mode collapse: a diversity measure under half its best value so far (a collapse shrinks it
# several-fold within a few snapshots; a healthy run wanders by a few tens of per cent),
# once the run has reached half of real data's diversity at least once (before that, early
# in training, it wanders more).
COLLAPSE_FRACTION, COLLAPSE_CLEAR, COLLAPSE_MIN_PEAK = 0.5, 0.75, 0.5
# Classes are judged on fresh samples at every snapshot, not on the fixed-noise grid: the
# grid draws the same noise each time, so a class its 64 samples happen to miss stays missed
# (in a healthy 10,000-step Fashion-MNIST run the grid went without a confident "Coat" for 26
# snapshots in a row, and the rule of three absent snapshots raised ten false alerts). A
# class is gone when confident samples of it were seen in two snapshots, and the snapshots
# since it was last seen held so many confident samples that, at the share of them it had
# then, twelve of it were expected: with independent draws, missing them by chance has a
# probability of e⁻¹² ≈ 6·10⁻⁶.
CLASS_SEEN, CLASS_EXPECTED = 2, 12.0
CONFIDENCE = 0.9
# Gradients (per layer, per network). Exploding: not finite, or 100× the layer's own median
# over its earlier records: the built-in recipes' layers stay within 10× of it in healthy runs
# (a 10,000-step Fashion-MNIST run of the default recipe peaked at 2.6×), while an exploding
# layer grows by orders of magnitude. Vanishing: 10⁻⁴ of the net's most-driven layer, or
# exactly zero: the recipes' layers span at most two to three decades, and a layer that
# receives four decades less signal than its neighbours has stopped learning.
EXPLODE_FACTOR, EXPLODE_HISTORY = 100.0, 3
VANISH_RATIO = 1e-4
# The images (or points) of each set D's outputs are averaged over for the overfit record.
GAP_SAMPLES = 256
# Real samples the fixed-noise batch's nearest neighbours are looked for among.
REFERENCE_SAMPLES = 1000


class Line:
    """An alert line with hysteresis: fires once ``value`` has been beyond ``on`` for
    ``patience`` checks in a row, and again only after it came back beyond ``off``."""

    def __init__(self, on: float, off: float, patience: int = 1, above: bool = True):
        self.on, self.off, self.patience, self.above = on, off, patience, above
        self.count, self.armed = 0, True

    def update(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        sign = 1.0 if self.above else -1.0
        if sign * (value - self.off) < 0:
            self.armed = True
        self.count = self.count + 1 if sign * (value - self.on) >= 0 else 0
        if self.armed and self.count >= self.patience:
            self.armed = False
            return True
        return False


def boundary_of(loss: str) -> float | None:
    """D's decision boundary on its raw output under ``loss``; None for wgan-gp."""
    return BOUNDARIES.get(loss)


def real_side(real_logits: torch.Tensor, boundary: float | None) -> torch.Tensor:
    """E[sign(D(x) − b)] of one real batch, kept on its device (NaN without a boundary)."""
    if boundary is None:
        return torch.full((), float("nan"), device=real_logits.device)
    return torch.sign(real_logits.detach().float() - boundary).mean()


# --- adaptive augmentation --------------------------------------------------------------------


class AdaptiveAugment:
    """ADA's controller of the augmentation probability ``p``.

    Fed one r_t term per step (the mean sign over that step's real batch), it adjusts ``p``
    every ``interval`` steps by sign(r_t − target) · batch · interval / (kimg · 1000), so
    that p could go from 0 to 1 in ``kimg`` thousand real images, and clamps it to [0, 1].
    """

    def __init__(self, p: float, target: float, interval: int, kimg: int, batch: int):
        self.p, self.target, self.interval = float(p), target, interval
        self.speed = batch / (kimg * 1000.0)
        self._sum, self._count = 0.0, 0

    def add(self, sign_mean: float) -> None:
        if not math.isfinite(sign_mean):
            return
        self._sum += sign_mean
        self._count += 1
        if self._count >= self.interval:
            r_t = self._sum / self._count
            direction = 1.0 if r_t > self.target else -1.0 if r_t < self.target else 0.0
            self.p = min(1.0, max(0.0, self.p + direction * self.speed * self._count))
            self._sum, self._count = 0.0, 0

    def state_dict(self) -> dict:
        return {"p": self.p, "sum": self._sum, "count": self._count}

    def load_state_dict(self, state: dict) -> None:
        self.p, self._sum, self._count = float(state["p"]), float(state["sum"]), int(state["count"])


# --- D overfitting ----------------------------------------------------------------------------


class OverfitWatch:
    """r_t over the steps since the last record, D on training / held-out / fake samples, and
    the alert when D memorises its training set."""

    def __init__(self, loss: str, held_out: bool):
        self.boundary = boundary_of(loss)
        self.held_out = held_out
        self._sum, self._count = 0.0, 0
        self._gap_line = Line(OVERFIT_ON, OVERFIT_OFF, patience=2)
        self._rt_line = Line(RT_ON, RT_OFF, patience=3)

    def add(self, sign_mean: float) -> None:
        if math.isfinite(sign_mean):
            self._sum += sign_mean
            self._count += 1

    def record(self, step: int, outputs: dict[str, torch.Tensor], augment_p: float | None
               ) -> tuple[DiagEvent, AlertEvent | None]:
        """The ``overfit`` record from the r_t terms gathered since the last one and D's raw
        outputs on ``d_train``, ``d_heldout`` and ``d_fake`` (a missing set is left out)."""
        values: dict[str, float] = {}
        if self._count:
            values["r_t"] = self._sum / self._count
        self._sum, self._count = 0.0, 0
        values.update({name: float(out.double().mean()) for name, out in outputs.items()})
        if "d_train" in outputs and "d_heldout" in outputs:
            values["heldout_gap"] = values["d_train"] - values["d_heldout"]
            values["overfit"] = 2 * ranking_auc(outputs["d_train"], outputs["d_heldout"]) - 1
        if augment_p is not None:
            values["augment_p"] = augment_p
        return DiagEvent(step, "overfit", values), self._alert(step, values, augment_p)

    def _alert(self, step: int, values: dict, augment_p: float | None) -> AlertEvent | None:
        ada = ("" if augment_p is None else
               f" Augmentation is at p = {augment_p:.2f};")
        if "overfit" in values:
            if not self._gap_line.update(values["overfit"]):
                return None
            return AlertEvent(step, "warning", "overfitting", (
                f"D is memorising its training images at step {step}: it scores a training "
                f"image above a held-out one {50 * (1 + values['overfit']):.0f}% of the time "
                f"(50% when it has not learnt them by heart).{ada} Turn on augmentation with "
                "ADA (train.augment, train.ada), add images, or slow D down (a lower D "
                "learning rate, a larger R1 weight)."))
        if not self.held_out and "r_t" in values and self._rt_line.update(values["r_t"]):
            return AlertEvent(step, "warning", "overfitting", (
                f"D puts {100 * (1 + values['r_t']) / 2:.0f}% of real images on its real side "
                f"at step {step} (r_t = {values['r_t']:.2f}), a sign of a D that has learnt "
                f"its training set by heart.{ada} Turn on augmentation with ADA "
                "(train.augment, train.ada), or add data."))
        return None

    def state_dict(self) -> dict:
        return {"sum": self._sum, "count": self._count}

    def load_state_dict(self, state: dict) -> None:
        self._sum, self._count = float(state["sum"]), int(state["count"])


def ranking_auc(a: torch.Tensor, b: torch.Tensor) -> float:
    """P(a score of ``a`` > a score of ``b``), ties counted half: the area under the ROC
    curve of telling ``a`` from ``b`` by score."""
    a, b = a.double().reshape(-1, 1), b.double().reshape(1, -1)
    return float((a > b).double().mean() + 0.5 * (a == b).double().mean())


@torch.no_grad()
def raw_outputs(D: nn.Module, sets: dict[str, tuple[torch.Tensor, torch.Tensor | None]],
                batch: int = GAP_SAMPLES) -> dict[str, torch.Tensor]:
    """D's raw output on each named set of inputs (with their labels), in eval mode, read
    back to the CPU in one go."""
    from ganstudio.engine.nets.layers import eval_mode

    outputs = []
    with eval_mode(D):
        for x, labels in sets.values():
            parts = [D(x[s : s + batch], labels[s : s + batch] if labels is not None else None)
                     for s in range(0, len(x), batch)]
            outputs.append(torch.cat(parts).float())
    sizes = [len(o) for o in outputs]
    return dict(zip(sets, torch.cat(outputs).cpu().split(sizes)))


# --- gradients --------------------------------------------------------------------------------


def layer_groups(module: nn.Module) -> list[tuple[str, list[nn.Parameter]]]:
    """(layer, its trainable parameters) per module that owns some: a layer's weight and bias
    count together."""
    groups: list[tuple[str, list[nn.Parameter]]] = []
    for name, sub in module.named_modules():
        params = [p for p in sub.parameters(recurse=False) if p.requires_grad]
        if params:
            groups.append((name or "(top)", params))
    return groups


def layer_norms(groups: list[tuple[str, list[nn.Parameter]]]) -> torch.Tensor:
    """The L2 norm of each layer's gradients, on the device (0 for a layer without any)."""
    grads = [p.grad for _, params in groups for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(len(groups))
    squares = iter(torch.stack(torch._foreach_norm(grads)).float().square())
    per_layer = []
    for _, params in groups:
        parts = [next(squares) for p in params if p.grad is not None]
        per_layer.append(torch.stack(parts).sum() if parts else grads[0].new_zeros(()))
    return torch.stack(per_layer).sqrt()


class GradientWatch:
    """Per-layer gradient norms of G and D at diagnostic steps: the table, its flags, and an
    alert the first time a layer is flagged (again once it has recovered)."""

    def __init__(self, G: nn.Module, D: nn.Module):
        self.groups = {"G": layer_groups(G), "D": layer_groups(D)}
        self._history: dict[str, deque] = {}
        self._flagged: set[str] = set()

    def norms(self, net: str) -> torch.Tensor:
        return layer_norms(self.groups[net])

    def record(self, step: int, g: list[float], d: list[float]
               ) -> tuple[GradientsEvent, AlertEvent | None]:
        tables = {"G": dict(zip((n for n, _ in self.groups["G"]), g)),
                  "D": dict(zip((n for n, _ in self.groups["D"]), d))}
        exploding, vanishing = [], []
        for net, table in tables.items():
            top = max((v for v in table.values() if math.isfinite(v)), default=0.0)
            for layer, value in table.items():
                key = f"{net}:{layer}"
                history = self._history.setdefault(key, deque(maxlen=20))
                typical = float(np.median(history)) if len(history) >= EXPLODE_HISTORY else None
                if not math.isfinite(value) or (typical is not None and typical > 0
                                                and value > EXPLODE_FACTOR * typical):
                    exploding.append(key)
                elif value == 0.0 or value < VANISH_RATIO * top:
                    vanishing.append(key)
                if math.isfinite(value):
                    history.append(value)
        flagged = set(exploding) | set(vanishing)
        new = [key for key in (*exploding, *vanishing) if key not in self._flagged]
        self._flagged = flagged
        event = GradientsEvent(step, tables["G"], tables["D"], tuple(exploding),
                               tuple(vanishing))
        return event, _gradient_alert(step, new, exploding) if new else None


def _gradient_alert(step: int, layers: list[str], exploding: list[str]) -> AlertEvent:
    up = [layer for layer in layers if layer in exploding]
    down = [layer for layer in layers if layer not in exploding]
    parts = []
    if up:
        parts.append(f"exploding gradients in {', '.join(up)}")
    if down:
        parts.append(f"vanishing gradients in {', '.join(down)}")
    action = ("Lower the learning rate of that network, or add a penalty (R1, the gradient "
              "penalty) or normalisation to it." if up else
              "That layer has stopped learning: check its initialisation and activations "
              "(dead ReLUs, saturated sigmoids), or use a non-saturating loss.")
    return AlertEvent(step, "warning", "gradients",
                      f"At step {step}: {'; '.join(parts)}. {action}")


# --- mode collapse ----------------------------------------------------------------------------


def mean_pairwise_distance(features: torch.Tensor) -> float:
    """The mean Euclidean distance between distinct rows."""
    n = features.shape[0]
    if n < 2:
        return 0.0
    d = torch.cdist(features.double(), features.double())
    return float(d.sum() / (n * (n - 1)))


def distinct_neighbours(features: torch.Tensor, reference: torch.Tensor) -> int:
    """How many different rows of ``reference`` are the nearest neighbour of some row."""
    d = torch.cdist(features.double(), reference.double())
    return int(torch.unique(d.argmin(dim=1)).numel())


Featurise = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


def sample_features(info, output_range: tuple[float, float] | None, device: torch.device
                    ) -> tuple[Featurise, tuple[str, ...]]:
    """The feature space diversity is measured in, and the classes it can tell apart: the
    bundled classifier's features (and logits) for a set that has one, else the pixels
    (in −1..1), or the points themselves for 2-D data."""
    if not info.is_image or output_range is None:
        return (lambda x: (x.detach().float().flatten(1).cpu(), None)), ()
    from ganstudio.engine.images import to_uint8
    from ganstudio.engine.metrics.features import feature_extractor, shipped_classifiers

    lo, hi = output_range
    if info.name in shipped_classifiers():
        extractor = feature_extractor("classifier", info.name, device)
        if extractor.image_shape == tuple(info.shape):
            def classify(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
                images = torch.from_numpy(to_uint8(x, output_range)).permute(0, 3, 1, 2)
                out = extractor.extract(images)
                return torch.from_numpy(out.features), torch.from_numpy(out.logits)

            return classify, extractor.classes
    return (lambda x: (((x.detach().float() - lo) * (2 / (hi - lo)) - 1).flatten(1).cpu(),
                       None)), ()


class CollapseWatch:
    """The fixed-noise batch's diversity at each snapshot, against real data's, and the
    classes it is drawn from; alerts when either falls away.

    ``featurise`` maps a batch of samples (as the generator outputs them) to features and,
    with a classifier, class logits; ``real`` is a real batch in the same form as ``fake``
    samples (same count as the fixed batch), ``reference`` the real samples neighbours are
    looked for among.
    """

    def __init__(self, featurise: Featurise, real: torch.Tensor, reference: torch.Tensor,
                 classes: tuple[str, ...] = ()):
        self.featurise = featurise
        self.classes = classes
        real_features, _ = featurise(real)
        self.reference, _ = featurise(reference)
        self.real_diversity = max(mean_pairwise_distance(real_features), 1e-12)
        self.real_distinct = max(distinct_neighbours(real_features, self.reference), 1)
        self._peaks = {"diversity": 0.0, "distinct": 0.0}
        self._lines = {name: Line(COLLAPSE_FRACTION, COLLAPSE_CLEAR, above=False)
                       for name in self._peaks}
        self._seen = np.zeros(len(classes), dtype=np.int64)  # snapshots with the class
        self._counts = np.zeros(len(classes), dtype=np.int64)  # its confident samples
        self._share = np.zeros(len(classes))  # its share of them when last seen
        self._since = np.zeros(len(classes), dtype=np.int64)  # confident samples since then
        self._gone: set[int] = set()

    def record(self, step: int, fake: torch.Tensor, fresh: torch.Tensor | None = None
               ) -> tuple[DiagEvent, list[AlertEvent]]:
        """``fake`` is the fixed-noise batch; the classes are judged on ``fresh`` samples
        (new noise at every snapshot) when given, else on ``fake``."""
        features, logits = self.featurise(fake)
        values = {
            "diversity": mean_pairwise_distance(features) / self.real_diversity,
            "distinct": distinct_neighbours(features, self.reference) / self.real_distinct,
        }
        alerts = []
        for name in ("diversity", "distinct"):
            peak = self._peaks[name]
            fell = peak >= COLLAPSE_MIN_PEAK and self._lines[name].update(values[name] / peak)
            self._peaks[name] = max(peak, values[name])
            if fell and not alerts:
                alerts.append(AlertEvent(step, "warning", "collapse", (
                    f"The samples are collapsing at step {step}: the fixed-noise batch's "
                    f"{_WHAT[name]} fell to {values[name]:.2f} of real data's, from "
                    f"{peak:.2f}. Try a lower learning rate for G, more D steps, R1, or "
                    "minibatch diversity (a conditional model, a larger z).")))
        if logits is not None and self.classes:
            if fresh is not None:
                _, logits = self.featurise(fresh)
            values["classes"], alert = self._classes(step, logits)
            if alert is not None:
                alerts.append(alert)
        return DiagEvent(step, "collapse", values), alerts

    def _classes(self, step: int, logits: torch.Tensor) -> tuple[float, AlertEvent | None]:
        probabilities = logits.double().softmax(dim=1)
        top, predicted = probabilities.max(dim=1)
        counts = np.bincount(predicted[top >= CONFIDENCE].numpy(), minlength=len(self.classes))
        present = counts > 0
        self._seen += present
        self._counts += counts
        self._since = np.where(present, 0, self._since + counts.sum())
        self._share = np.where(present, self._counts / max(1, self._counts.sum()), self._share)
        self._gone -= set(np.flatnonzero(present).tolist())
        expected = self._share * self._since
        gone = [int(c) for c in np.flatnonzero((self._seen >= CLASS_SEEN)
                                              & (expected >= CLASS_EXPECTED))
                if int(c) not in self._gone]
        self._gone.update(gone)
        alert = None
        if gone:
            names = ", ".join(self.classes[c] for c in gone)
            alert = AlertEvent(step, "warning", "classes", (
                f"Classes have disappeared from the samples by step {step}: {names} (at the "
                f"share of the samples each had before, {CLASS_EXPECTED:.0f} or more of each "
                "were expected since). G is dropping modes: try a lower learning rate for G, "
                "R1, or a class-conditional model."))
        return float(present.sum()), alert


_WHAT = {"diversity": "mean pairwise distance", "distinct": "number of distinct nearest "
         "real neighbours"}
