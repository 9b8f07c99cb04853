"""Class metrics of generated samples under a classifier trained on the real data.

- ``confident``: the share of samples whose top class has probability at least 0.9;
- ``class_coverage``: the share of the classes that some confident sample is classified as;
- ``class_kl``: KL(histogram of the confident samples' classes ‖ uniform), 0 for perfectly
  balanced classes and log K when every confident sample falls in one class (as the 2-D
  mode metric's reverse KL).
"""

from __future__ import annotations

import numpy as np
import torch

from ganstudio.engine.metrics.feature_arrays import as_feature_matrix
from ganstudio.engine.metrics.modes import reverse_kl

CONFIDENCE = 0.9


def class_metrics(logits: np.ndarray | torch.Tensor, threshold: float = CONFIDENCE
                  ) -> dict[str, float]:
    """``confident``, ``class_coverage`` and ``class_kl`` from (N, K) classifier logits."""
    z = as_feature_matrix(logits, "classifier logit", min_rows=1, dtype=torch.float64)
    probabilities = z.softmax(dim=1)
    top, predicted = probabilities.max(dim=1)
    confident = top >= threshold
    counts = torch.bincount(predicted[confident], minlength=z.shape[1]).double()
    return {
        "confident": float(confident.double().mean()),
        "class_coverage": float((counts > 0).double().mean()),
        "class_kl": reverse_kl(counts),
    }
