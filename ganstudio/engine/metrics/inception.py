"""Inception-v3 as FID defines it: the TensorFlow graph of 2015-12-05 that Heusel et al.
computed FID with, with its weights as ported to PyTorch by pytorch-fid
(``pt_inception-2015-12-05-6726825d.pth``).

The layers carry that file's parameter names (those of torchvision's Inception3 with 1,008
classes and no auxiliary head), so the file loads by name, strictly. Where the TensorFlow graph
differs from torchvision's network, this follows the graph: the average pools of the A, C and
first E blocks leave padding out of their means, and the last E block pools by maximum.
Features are the 2,048 activations after the final average pool (FID's "pool3").
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganstudio.engine.errors import CheckpointError, WeightsMissingError

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
WEIGHTS_SHA256_PREFIX = "6726825d"  # the file's own name carries its hash (torch.hub's convention)
WEIGHTS_SIZE = 95_600_000  # about; the progress total when a server sends no length
INPUT_SIZE = 299
FEATURES = 2048
CLASSES = 1008  # the 2015 graph's ImageNet head: 1,000 classes and 8 unused


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (eps 0.001 as TensorFlow's), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _average_pool(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's 'SAME' average pool divides by the pixels inside the image only.
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35 × 35 block: 1×1, 5×5, double 3×3 and pooled branches."""

    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, 1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_average_pool(x)),
        ], dim=1)


class InceptionB(nn.Module):
    """Reduction 35 → 17."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], dim=1)


class InceptionC(nn.Module):
    """17 × 17 block with factorised 7×7 convolutions of ``channels_7x7`` channels."""

    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        double = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                      self.branch7x7dbl_4, self.branch7x7dbl_5):
            double = layer(double)
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            double,
            self.branch_pool(_average_pool(x)),
        ], dim=1)


class InceptionD(nn.Module):
    """Reduction 17 → 8."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = x
        for layer in (self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3,
                      self.branch7x7x3_4):
            seven = layer(seven)
        return torch.cat([
            self.branch3x3_2(self.branch3x3_1(x)),
            seven,
            F.max_pool2d(x, 3, stride=2),
        ], dim=1)


class InceptionE(nn.Module):
    """8 × 8 block with split 1×3 / 3×1 branches; ``max_pool`` for the graph's last block."""

    def __init__(self, in_channels: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(in_channels, 320, 1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _average_pool(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(single), self.branch3x3_2b(single),
            self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
            self.branch_pool(pooled),
        ], dim=1)


class FIDInceptionV3(nn.Module):
    """The FID network. ``forward`` takes (N, 3, 299, 299) in −1..1 and returns (N, 2048)."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURES, CLASSES)  # unused for FID; part of the file's layout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        # state: 192 × 35 × 35
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a,
                      self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e,
                      self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        # state: 2048 × 8 × 8
        return x.mean(dim=(2, 3))

    def pool_features(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 2048) features of uint8 images (0..255) or floats in 0..1, (N, 1 or 3, H, W),
        resized to 299 × 299 bilinearly as pytorch-fid does."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                          align_corners=False)
        return self(2 * x - 1)


def inception_weights_path() -> Path:
    """The FID weights file in GAN Studio's cache; WeightsMissingError says how to get it."""
    from ganstudio.resources import cache_dir

    folder = cache_dir() / "weights"
    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise WeightsMissingError(
            f"FID's Inception-v3 weights are not on this computer: download {WEIGHTS_URL} "
            f"(about 92 MB) into {folder}, or use the offline classifier features "
            "(--features classifier)."
        )
    return path


def download_inception_weights(progress=None, cancel=None) -> Path:
    """Fetch FID's weights from ``WEIGHTS_URL`` into the cache (resumable, checked against the
    hash their name carries) and return their path; WeightsMissingError says what failed
    (offline, say) and what to do instead."""
    from ganstudio.engine.download import download
    from ganstudio.engine.errors import DatasetError
    from ganstudio.resources import cache_dir

    try:
        return download((WEIGHTS_URL,), cache_dir() / "weights" / WEIGHTS_FILE,
                        sha256=WEIGHTS_SHA256_PREFIX, size=WEIGHTS_SIZE, progress=progress,
                        cancel=cancel)
    except DatasetError as e:
        raise WeightsMissingError(
            f"FID's Inception-v3 weights could not be downloaded ({e}). Put {WEIGHTS_FILE} "
            f"into {cache_dir() / 'weights'} by hand, or use the offline classifier features "
            "(--features classifier).") from None


def load_inception(path: str | Path | None = None) -> FIDInceptionV3:
    """The FID network with the weights of ``path`` (default: ``inception_weights_path()``),
    in eval mode; a CheckpointError when the file does not have the FID network's layout."""
    from ganstudio.engine.checkpoint import safe_torch_load

    path = inception_weights_path() if path is None else Path(path)
    state = safe_torch_load(path)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path.name} does not hold a state dict of tensors; FID needs "
                              f"{WEIGHTS_FILE}.")
    state = {k: v.float() if isinstance(v, torch.Tensor) and v.is_floating_point() else v
             for k, v in state.items()}
    with torch.device("meta"):  # no time spent initialising weights the file replaces
        network = FIDInceptionV3()
    try:
        network.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise CheckpointError(
            f"{path.name} is not the FID Inception-v3 ({WEIGHTS_FILE}): its tensors do not "
            f"match the network ({first[:200]})."
        ) from None
    return network.eval().requires_grad_(False)
