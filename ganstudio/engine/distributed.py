"""Data-parallel training under ``torchrun``: every rank trains on its own batches, gradients
are averaged across ranks before each optimiser step, and rank 0 alone writes the run folder.

Gradients are all-reduced by hand rather than through DistributedDataParallel: a GAN runs D
several times per step (real, fake, and again for G), which DDP's one-forward-one-backward
bookkeeping does not allow without restructuring the loop. BatchNorm statistics stay per
rank, as they do under DDP without SyncBatchNorm.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def leader(self) -> bool:
        return self.rank == 0


def from_environment() -> World:
    """The world torchrun describes in WORLD_SIZE, RANK and LOCAL_RANK (one process if unset)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(size, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")))


def start(world: World, device: torch.device) -> torch.device:
    """Join the process group; on CUDA each rank takes the GPU of its local rank."""
    if not world.distributed:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def stop(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Make every rank start from rank 0's weights and buffers."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


def average_gradients(params: list[torch.Tensor], world: World) -> None:
    """All-reduce the gradients in one flat buffer, then divide by the number of ranks."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def average(t: torch.Tensor, world: World) -> torch.Tensor:
    """The mean of ``t`` over the ranks, left on the device (no wait on the host)."""
    t = t.clone()
    dist.all_reduce(t)
    return t / world.size


def any_rank(flag: bool, world: World, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any (a stop must be agreed by all)."""
    if not world.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())
