"""Multi-stage fine-tuning schedules (Pezzuti et al. 2025): C, D, C>D, D>C.

C is contrastive learning (localized contrastive loss over 1 positive + k hard negatives); D is distillation
(RankNet over the teacher's ordering of the same groups). Each stage is an ordinary ``train_ranker`` run that starts
from the previous stage's model, so every stage keeps its own run folder, logs and plot.
"""

from __future__ import annotations

import copy
from pathlib import Path

from ranksuite.shared.training.config import TrainConfig
from ranksuite.shared.training.ir_train import RankerSpec, train_ranker
from ranksuite.shared.training.trainer import TrainResult

STAGE_LOSSES = {"C": "contrastive", "D": "ranknet"}


def parse_schedule(schedule: str) -> list[str]:
    """``"C>D"`` / ``"C->D"`` / ``"C,D"`` -> ["C", "D"]."""
    parts = [p.strip().upper() for p in schedule.replace("->", ">").replace(",", ">").split(">") if p.strip()]
    bad = [p for p in parts if p not in STAGE_LOSSES]
    if not parts or bad:
        raise ValueError(f"schedule {schedule!r}: stages are C (contrastive) and D (distillation), e.g. C>D")
    return parts


def run_schedule(
    data: str | Path,
    out: str | Path,
    schedule: str,
    config: TrainConfig,
    arch: str = "cross",
    backbone: str = "minilm",
    teacher_scores: str | Path | None = None,
    split: str = "train",
    dev_split: str | None = None,
    group_size: int = 8,
    dev_queries: int = 200,
    max_length: int = 256,
    progress: bool = True,
) -> list[tuple[str, TrainResult]]:
    stages = parse_schedule(schedule)
    if "D" in stages and teacher_scores is None:
        raise ValueError("a D (distillation) stage needs --teacher-scores (see `ranksuite ir teacher-score`)")
    out = Path(out)
    results: list[tuple[str, TrainResult]] = []
    init: str | None = None
    for i, stage in enumerate(stages, start=1):
        loss = STAGE_LOSSES[stage]
        spec = RankerSpec(arch, backbone, init=init, loss=loss, group_size=group_size, max_length=max_length)
        run_dir = out / f"stage{i}-{stage}"
        result = train_ranker(
            data,
            run_dir,
            spec,
            copy.deepcopy(config),
            split=split,
            dev_split=dev_split,
            groups_file=teacher_scores if stage == "D" else None,
            dev_queries=dev_queries,
            progress=progress,
        )
        results.append((stage, result))
        init = str(result.model_dir)
    return results
