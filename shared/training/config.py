"""Training configuration: one dataclass, saved into every run folder as ``config.json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TrainConfig:
    """What the trainer needs to know; everything domain-specific lives in the step and eval functions.

    ``batch_size`` is the *global* number of examples per optimizer step: it is split over ``grad_accum``
    micro-batches and over the processes of a torchrun launch, so the same config gives the same optimisation on
    one CPU, one GPU or eight.
    """

    epochs: float = 1.0
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 2e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    max_steps: int | None = None
    seed: int = 42
    bf16: bool = True
    eval_every: int | None = None  # steps; None = once per epoch (and before training)
    patience: int | None = None  # evaluations without improvement before stopping; None = never stop early
    metric: str = "ndcg@10"
    greater_is_better: bool = True
    checkpoint_every: int = 200  # steps; checkpoints are also written at every evaluation and at the end
    log_every: int = 10
    device: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # the caller's own settings, recorded for provenance

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
