"""Multi-process training through torchrun: the smallest thing that works on CPU (gloo) and GPU (nccl).

Gradients are averaged with one all-reduce per optimizer step (after accumulation) instead of wrapping the model
in DistributedDataParallel: our scorers are called through methods other than ``forward`` (``group_scores``),
which DDP's hooks do not see. With equal shards per rank and mean losses, the averaged gradient equals the
single-process gradient of the whole batch, so ``torchrun --nproc_per_node N`` trains the same model.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: torch.device) -> tuple[int, int]:
    """Join the process group torchrun describes in the environment (no-op for a single process)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return world()


def local_device(device: torch.device) -> torch.device:
    """One GPU per process under torchrun (LOCAL_RANK); CPU stays CPU."""
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        idx = int(os.environ["LOCAL_RANK"])
        torch.cuda.set_device(idx)
        return torch.device("cuda", idx)
    return device


def average_gradients(params: list[torch.nn.Parameter]) -> None:
    _, size = world()
    if size == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch._utils._flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat /= size
    for g, synced in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads), strict=True):
        g.copy_(synced)


def broadcast_object(obj: object) -> object:
    """Rank 0's value on every rank (e.g. an evaluation result, so that early stopping agrees everywhere)."""
    _, size = world()
    if size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()
