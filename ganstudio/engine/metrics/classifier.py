"""Small CNN classifiers that give the offline feature spaces: trained by GAN Studio's own
recipe on a labelled image dataset, shipped in ``resources/classifiers/NAME.safetensors``.

Features are the penultimate layer (128 activations after a ReLU); the logits serve the class
metrics. The recipe needs only a dataset's name: it trains on all but the last ``n_test``
images and measures its accuracy on those, which it never sees. A real set (a catalogue name,
or a path) is prepared at its own size first; the standard sets train on their whole training
split and are measured on their official test split.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganstudio.engine.errors import CheckpointError, ConfigError

FORMAT = "ganstudio-classifier"
FORMAT_VERSION = 1
FEATURES = 128


class SmallCNN(nn.Module):
    """Five 3×3 convolutions with batch norm, two max pools and a global average pool, then
    a ``feature_dim`` hidden layer and the class logits. Any image size of 8 pixels or more."""

    def __init__(self, channels: int, n_classes: int, width: int = 16,
                 feature_dim: int = FEATURES):
        super().__init__()

        def conv(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True)]

        w = width
        self.body = nn.Sequential(
            *conv(channels, w), *conv(w, w), nn.MaxPool2d(2),
            *conv(w, 2 * w), *conv(2 * w, 2 * w), nn.MaxPool2d(2),
            *conv(2 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.hidden = nn.Linear(4 * w, feature_dim)
        self.head = nn.Linear(feature_dim, n_classes)

    @staticmethod
    def prepare(images: torch.Tensor) -> torch.Tensor:
        """uint8 images (0..255) or floats in 0..1 → the network's input range −1..1."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        return 2 * x - 1

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = F.relu(self.hidden(self.body(self.prepare(images))))
        return features, self.head(features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(images)[1]


@dataclass(frozen=True)
class ClassifierRecipe:
    """How a dataset's classifier is trained; the defaults fit every built-in image set."""

    dataset: str
    images: int = 60_000  # training images seen in all (over as many passes as that takes)
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 5e-4
    width: int = 16
    feature_dim: int = FEATURES
    n_test: int = 5000  # held out of the training images, when there is no test split
    seed: int = 0
    data_seed: int = 0
    source: str | None = None  # real data: a catalogue name or a path, prepared first
    resolution: int | None = None  # real data: prepared at this size
    test_split: bool = False  # real data: measured on the set's own test split


# Real sets are several times harder than the procedural ones: three passes over 60,000.
REAL_IMAGES = 180_000


def recipe_for(dataset: str) -> ClassifierRecipe:
    """The recipe of a labelled image dataset's classifier: a built-in set by name, or a real
    set (a catalogue name or a path) at its own image size."""
    from ganstudio.engine.data import DATASETS

    if dataset in DATASETS:
        info = DATASETS[dataset]
        if not info.is_image or not info.classes:
            raise ConfigError(f"{dataset} is not a labelled image dataset, so it has no "
                              "classifier")
        return ClassifierRecipe(dataset)
    from ganstudio.engine.data.batches import real_data, source_side
    from ganstudio.engine.data.catalogue import resolve_source
    from ganstudio.engine.data.sources import open_source

    side = source_side(dataset)
    if side is None:
        raise ConfigError(f"{dataset}: a classifier needs square images of one size; prepare "
                          "the set and train on the prepared images")
    path = resolve_source(dataset)
    with open_source(path, "train") as train:
        if not train.classes:
            raise ConfigError(f"{dataset} has no class labels, so it has no classifier")
        test_split = False
        if train.format in ("idx", "cifar"):
            with open_source(path, "test") as test:
                test_split = test.fingerprint() != train.fingerprint()
    data = real_data(dataset, side)
    return ClassifierRecipe(data.name, images=REAL_IMAGES, source=data.source,
                            resolution=side, test_split=test_split)


@dataclass
class TrainedClassifier:
    network: SmallCNN
    meta: dict  # dataset, shape, classes, recipe, accuracy, sizes, seconds


def train_classifier(recipe: ClassifierRecipe,
                     progress: Callable[[str], None] | None = None) -> TrainedClassifier:
    """Train a recipe on the CPU and measure its held-out accuracy."""
    info, (x_train, y_train), (x_test, y_test) = _classifier_data(recipe)
    split = len(x_train)

    torch.manual_seed(recipe.seed)
    rng = torch.Generator().manual_seed(recipe.seed)
    network = SmallCNN(info.shape[0], len(info.classes), recipe.width, recipe.feature_dim)
    optimiser = torch.optim.AdamW(network.parameters(), lr=recipe.lr,
                                  weight_decay=recipe.weight_decay)
    steps = math.ceil(recipe.images / recipe.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=recipe.lr,
                                                   total_steps=steps)
    started = time.monotonic()
    network.train()
    order = torch.randperm(split, generator=rng)
    cursor = 0
    for step in range(steps):
        if cursor + recipe.batch_size > split:  # a new pass in a new order
            order, cursor = torch.randperm(split, generator=rng), 0
        batch = order[cursor : cursor + recipe.batch_size]
        cursor += recipe.batch_size
        loss = F.cross_entropy(network(x_train[batch]), y_train[batch])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if progress is not None and ((step + 1) % 50 == 0 or step + 1 == steps):
            progress(f"step {step + 1}/{steps}: loss {loss.item():.4f}")
    network.eval().requires_grad_(False)
    accuracy = held_out_accuracy(network, x_test, y_test)
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "dataset": recipe.dataset,
        "shape": list(info.shape), "classes": list(info.classes),
        "recipe": asdict(recipe), "accuracy": accuracy, "n_train": split,
        "n_test": len(x_test), "test": "test split" if recipe.test_split else "held out",
        "seconds": round(time.monotonic() - started, 1),
    }
    return TrainedClassifier(network, meta)


def _classifier_data(recipe: ClassifierRecipe):
    """``(info, (train images, labels), (test images, labels))`` of a recipe, as tensors."""
    if recipe.source is None:
        from ganstudio.engine.data import load_dataset

        data = load_dataset(recipe.dataset, seed=recipe.data_seed)
        info, x, y = data.info, data.x, data.y
    else:
        import dataclasses

        from ganstudio.engine.data.batches import prepare_data, real_data

        config = real_data(recipe.source, recipe.resolution)
        prepared = prepare_data(config)
        info = dataclasses.replace(prepared.info, name=recipe.dataset)
        x, y = _tensors(prepared)
        if recipe.test_split:
            test = prepare_data(dataclasses.replace(config, split="test"))
            return info, (x, y), _tensors(test)
        # a folder's files come class by class: hold out a random part, not the last class
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(recipe.data_seed))
        x, y = x[order], (y[order] if y is not None else None)
    if y is None or len(x) <= recipe.n_test:
        raise ConfigError(f"{recipe.dataset} has no labels or too few images for a classifier")
    split = len(x) - recipe.n_test
    return info, (x[:split], y[:split]), (x[split:], y[split:])


def _tensors(prepared) -> tuple[torch.Tensor, torch.Tensor | None]:
    labels = None if prepared.labels is None else torch.from_numpy(prepared.labels.copy())
    return torch.from_numpy(prepared.images[:].copy()), labels


@torch.no_grad()
def held_out_accuracy(network: SmallCNN, images: torch.Tensor, labels: torch.Tensor,
                      batch_size: int = 1000) -> float:
    right = 0
    for start in range(0, len(images), batch_size):
        logits = network(images[start : start + batch_size])
        right += int((logits.argmax(dim=1) == labels[start : start + batch_size]).sum())
    return right / len(images)


def save_classifier(path: str | Path, trained: TrainedClassifier) -> Path:
    """Write the network as fp16 safetensors (integer buffers kept) with its meta as JSON."""
    from safetensors.torch import save

    from ganstudio.engine.atomic import atomic_write_bytes

    tensors = {k: (v.half() if v.is_floating_point() else v).contiguous()
               for k, v in trained.network.state_dict().items()}
    return atomic_write_bytes(path, save(tensors, metadata={"meta": json.dumps(trained.meta)}),
                              replace=True)  # retraining a recipe replaces its file


def load_classifier(path: str | Path) -> TrainedClassifier:
    """A classifier file written by ``save_classifier``, in float32 and eval mode."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Classifier {path} does not exist.")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (no __iter__)
    except (SafetensorError, OSError, RuntimeError, ValueError):
        raise CheckpointError(f"{path.name} is damaged or not a safetensors file.") from None
    try:
        meta = json.loads(header["meta"])
        if meta.get("format") != FORMAT:
            raise KeyError("format")
        recipe = meta["recipe"]
        network = SmallCNN(meta["shape"][0], len(meta["classes"]), recipe["width"],
                           recipe["feature_dim"])
        network.load_state_dict({k: v.float() if v.is_floating_point() else v
                                 for k, v in tensors.items()}, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError, json.JSONDecodeError):
        raise CheckpointError(f"{path.name} is not a GAN Studio classifier file.") from None
    return TrainedClassifier(network.eval().requires_grad_(False), meta)


def shipped_classifier_path(dataset: str) -> Path:
    """Where the bundled classifier of ``dataset`` lives (it may not exist)."""
    from ganstudio.resources import resources_dir

    return resources_dir() / "classifiers" / f"{dataset}.safetensors"
