"""Device choice and mixed precision, decided in one place for every scorer and the trainer."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch


def pick_device(preference: str | torch.device | None = None) -> torch.device:
    """``auto`` (or None) picks cuda > mps > cpu; anything else is passed to torch (``cpu``, ``cuda:1``)."""
    if isinstance(preference, torch.device):
        return preference
    pref = (preference or os.environ.get("RANKSUITE_DEVICE") or "auto").lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if pref.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {pref}: CUDA is not available on this machine (use cpu or auto)")
    return torch.device(pref)


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast on CUDA (no loss scaling needed, unlike fp16); full fp32 elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so runs repeat."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Temporarily switch a module to eval mode (and back to whatever it was)."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
