"""Helper for tests/test_training.py: one tiny training run, launched with torchrun by the test.

    python -m torch.distributed.run --nproc_per_node N tests/ddp_train.py OUT_DIR BACKBONE_DIR

Under torchrun every process runs this script; the trainer joins the gloo process group from the environment,
gives each process its share of every batch and averages the gradients, so N processes train the same weights.

The loss is pointwise BCE on purpose: under a softmax-over-the-group loss (contrastive) some gradients, such as the
classifier's bias, are zero in exact arithmetic, and AdamW's normalisation turns their rounding noise (which
differs with the batch split) into lr-sized steps, so a comparison of weights would measure that noise.
"""

from __future__ import annotations

import sys

from ranksuite.datasets import demo_collection
from ranksuite.shared.training import TrainConfig
from ranksuite.shared.training.ir_train import RankerSpec, train_ranker


def main() -> None:
    out, backbone = sys.argv[1], sys.argv[2]
    config = TrainConfig(max_steps=3, batch_size=4, lr=1e-3, seed=0, eval_every=100, device="cpu")
    spec = RankerSpec(arch="cross", backbone=backbone, loss="bce", max_length=64)
    result = train_ranker(demo_collection(), out, spec, config, dev_queries=3, progress=False)
    print(f"steps={result.steps}")


if __name__ == "__main__":
    main()
